#!/usr/bin/env bash
# One point of the scaling curve in docs/performance.md: generate N members into a scratch
# data directory, then store size, `bench`, `bench-model`, a Parquet import (when a file of
# orders is given) and live ingest at 20,000 rows/s through a running server.
#
#   scripts/bench-scale.sh MEMBERS DATA_DIR [ORDERS.parquet]
#
# Uses target/debug/memberpulse (make build first). MEMORY (default 16GB) is DuckDB's limit.
# The store is left in DATA_DIR; delete it when done (5M members take 14 GB).
set -uo pipefail
cd "$(dirname "$0")/.."
members=${1:?members}; dir=${2:?data dir}; parquet=${3:-}
memory=${MEMORY:-16GB}
bin=./target/debug/memberpulse
quiet() { grep -vE "INFO|^\s+(Average|Major|Minor|Volun|Invol|Swaps|File|Socket|Signals|Page|Exit|Percent|System|User)"; }
step() { printf '\n==> %s  (%s)\n' "$*" "$(date +%T)"; }

step "generate $members members into $dir"
/usr/bin/time -v $bin generate --members "$members" --data-dir "$dir" --replace --duckdb-memory-limit "$memory" 2>&1 | quiet
step "store size"; ls -l "$dir"
step "bench"; /usr/bin/time -v $bin bench --data-dir "$dir" --rounds 3 --duckdb-memory-limit "$memory" 2>&1 | quiet
step "bench-model"; /usr/bin/time -v $bin bench-model --data-dir "$dir" --duckdb-memory-limit "$memory" 2>&1 | quiet
if [[ -n "$parquet" ]]; then
  step "import $parquet"
  /usr/bin/time -v $bin import --table orders "$parquet" --data-dir "$dir" --duckdb-memory-limit "$memory" 2>&1 | quiet
fi
step "serve + loadgen (20,000 rows/s for 60 s)"
$bin serve --data-dir "$dir" --addr 127.0.0.1:3999 --duckdb-memory-limit "$memory" > "$dir/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 120); do curl -sf http://127.0.0.1:3999/api/v1/health > /dev/null && break; sleep 1; done
$bin loadgen --data-dir "$dir" --rate 20000 --members "$members" --seconds 60 2>&1 | grep -v INFO | tail -3
kill $server; wait $server
step "store size at the end"; ls -l "$dir"
