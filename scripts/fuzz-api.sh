#!/usr/bin/env bash
# Fuzzes the whole JSON API with schemathesis (PyPI, in target/fuzzenv; scripts/setup.sh
# --test installs it) against a real server on a generated retailer, as each role: an
# executive and an operator by their session cookies, an admin by the CLI's local secret.
# Passes when no answer is a server error (5xx), and every answer's status, content type,
# headers and body are the ones /api/v1/openapi.json documents.
#
#   scripts/fuzz-api.sh [EXAMPLES]   examples per operation and role (default 25)
#
# The failing cases and their curl reproductions are printed; the run's JUnit report is in
# target/fuzz/. Needs target/debug/memberpulse (scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
EXAMPLES=${1:-25}
BIN=target/debug/memberpulse
ST=target/fuzzenv/bin/schemathesis
OUT=target/fuzz
rm -rf "$OUT"
mkdir -p "$OUT"
DATA=$(mktemp -d)
cleanup() {
  [[ -n "${SERVER:-}" ]] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
  rm -rf "$DATA"
}
trap cleanup EXIT

for who in "eve executive" "otto operator"; do
  set -- $who
  echo "$1-fuzz-password" | "$BIN" user add --name "$1" --role "$2" --password-stdin --data-dir "$DATA" >/dev/null
done
"$BIN" serve --addr 127.0.0.1:0 --data-dir "$DATA" --demo-members 1500 --min-group-size 50 \
  >"$OUT/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 600); do
  BASE=$(grep -o 'serving http://127.0.0.1:[0-9]*' "$OUT/server.log" | head -1 | sed 's/serving //' || true)
  [[ -n "$BASE" ]] && break
  sleep 0.2
done
[[ -n "$BASE" ]] || { cat "$OUT/server.log"; echo "the server did not start" >&2; exit 1; }
TOKEN=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['token'])" "$DATA/server.json")

session() {
  curl -s -o /dev/null -D - -X POST "$BASE/auth/signin" -H "Origin: $BASE" \
    --data-urlencode "name=$1" --data-urlencode "password=$1-fuzz-password" --data-urlencode "next=/" |
    tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: mp_session=\([^;]*\).*/\1/p' | head -1
}

CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance
status=0
run() {
  local role=$1
  shift
  echo "==> schemathesis as $role ($EXAMPLES examples per operation)"
  if ! "$ST" run "$BASE/api/v1/openapi.json" --checks "$CHECKS" --max-examples "$EXAMPLES" \
      --workers 1 --seed 18 --generation-deterministic --no-color --phases examples,coverage,fuzzing \
      --request-timeout 60 --report junit --report-junit-path "$OUT/$role.xml" \
      -H "Origin: $BASE" "$@" >"$OUT/$role.txt" 2>&1; then
    status=1
    echo "schemathesis as $role found failures:"
  fi
  tail -25 "$OUT/$role.txt"
}
# The executive and the operator first: the admin's fuzzing may change users.
run executive -H "Cookie: mp_session=$(session eve)"
run operator -H "Cookie: mp_session=$(session otto)"
run admin -H "Authorization: Bearer $TOKEN"
if grep -q "panicked" "$OUT/server.log"; then
  echo "the server panicked:" >&2
  grep -A3 panicked "$OUT/server.log" >&2
  status=1
fi
exit $status
