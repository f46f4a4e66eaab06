#!/usr/bin/env bash
# Runs gc-loadgen against a fresh node (embedded PostgreSQL in a temp dir).
#
#   bash bench/stream_bench.sh [gc-loadgen options...]
#   e.g. bash bench/stream_bench.sh --members 100 --senders 16 --duration 10
#        bash bench/stream_bench.sh --members 1000 --senders 4 --rate 100
#        bash bench/stream_bench.sh --members 100 --conns-per-user 100 --idle
#
# NODE_YAML_EXTRA may add YAML to the node's config (e.g. "log:\n  access: false").
set -euo pipefail
cd "$(dirname "$0")/.."
LOADGEN=build/bench/gc-loadgen
[ -x "$LOADGEN" ] || { echo "build first: make" >&2; exit 1; }
. bench/lib.sh
bench_init
PORT=$((20000 + RANDOM % 10000))
cat > "$TMP/node.yaml" <<YAML
node:
  name: bench.test
  data_dir: $TMP/data
http:
  listen: 127.0.0.1:$PORT
  threads: 2
  workers: ${WORKERS:-32}
  max_connections: 20000
federation:
  listen: tcp://127.0.0.1:0
database:
  url: ""
  pool_size: 16
rate_limits:
  enabled: false
stream:
  max_connections: 20000
$(printf '%b' "${NODE_YAML_EXTRA:-}")
YAML
bench_start_node "$TMP/node.yaml" "$PORT" "$TMP/node.log"
echo "# $(date -u +%F) $(nproc) cores; gc-loadgen $*"
"$LOADGEN" --port "$PORT" --node-pid "$NODE_PID" "$@"
slow=$(grep -c '"group log batch slow"' "$TMP/node.log" || true)
echo "group log batches over 50 ms: $slow"
grep '"group log batch slow"' "$TMP/node.log" | tail -3 || true
