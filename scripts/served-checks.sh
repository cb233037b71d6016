#!/usr/bin/env bash
# The two checks that drive real servers (each starts its own on a free port): the API
# fuzzer (scripts/fuzz-api.sh) and the browser suite (end2end/), side by side. They wait
# on the network and the browser as much as on the CPU, so together they take about the
# longer one's time instead of the sum (docs/testing.md). Fails if either fails; the
# fuzzer's output is printed after the browser suite's (and kept in target/fuzz-api.log).
#
#   scripts/served-checks.sh [EXAMPLES]   examples per operation and role for the fuzzer
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p target
scripts/fuzz-api.sh "${1:-25}" >target/fuzz-api.log 2>&1 &
fuzz=$!
# Interrupted, the fuzzer (and the server it started, through its own trap) stops too.
trap 'kill -TERM "$fuzz" 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM
(cd end2end && npm test)
browser=$?
wait "$fuzz"
fuzzed=$?
trap - EXIT INT TERM
printf '\n==> the API fuzzer (scripts/fuzz-api.sh %s)\n' "${1:-25}"
cat target/fuzz-api.log
[[ $browser -eq 0 ]] || echo "the browser suite failed" >&2
[[ $fuzzed -eq 0 ]] || echo "the API fuzzer failed" >&2
exit $((browser | fuzzed))
