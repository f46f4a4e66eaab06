#!/usr/bin/env bash
# HTTP gateway benchmark: wrk against GET /healthz (no auth, no database) and
# against an authenticated GET /api/v1/me (Bearer token resolved from the
# token cache). Starts its own node with an embedded PostgreSQL in a temp dir
# and removes everything afterwards.
#
#   bash bench/http_bench.sh [duration_s=10] [connections=50] [wrk_threads=1]
#
# Prints one line per target: requests/s and latency p50/p99 (from wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNS=${2:-50}
THREADS=${3:-1}
command -v wrk >/dev/null || { echo "wrk missing: make deps" >&2; exit 1; }
. bench/lib.sh
bench_init
PORT=$(bench_port)
bench_node_yaml "$TMP/node.yaml" bench.test "$PORT" <<YAML
log:
  access: true
YAML
bench_start_node "$TMP/node.yaml" "$PORT" "$TMP/node.log"
TOKEN=$(bench_register "$PORT" bench)

run() {
  local name=$1; shift
  local out
  out=$(wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency "$@")
  local rps p50 p99
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  local errors
  errors=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}' | tr '\n' ' ')
  printf '%-28s %10s req/s   p50 %8s   p99 %8s   %s\n' "$name" "$rps" "$p50" "$p99" "$errors"
}

bench_header
echo "# wrk -t$THREADS -c$CONNS -d${DURATION}s, node http.threads=2, access log on, rate limits off"
run "GET /healthz" "http://127.0.0.1:$PORT/healthz"
run "GET /api/v1/me (Bearer)" -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/me"
echo "# node RSS after: $(awk '/VmRSS/ {print $2, $3}' /proc/$NODE_PID/status)"
