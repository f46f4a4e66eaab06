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
. bench/lib.sh
bench_need_loadgen
bench_init
PORT=$(bench_port)
printf '%b\n' "${NODE_YAML_EXTRA:-}" | BENCH_LOAD=1 bench_node_yaml "$TMP/node.yaml" bench.test "$PORT"
bench_start_node "$TMP/node.yaml" "$PORT" "$TMP/node.log"
echo "# $(date -u +%F) $(nproc) cores; gc-loadgen $*"
"$LOADGEN" --port "$PORT" --node-pid "$NODE_PID" "$@"
slow=$(grep -c '"group log batch slow"' "$TMP/node.log" || true)
echo "group log batches over 50 ms: $slow"
grep '"group log batch slow"' "$TMP/node.log" | tail -3 || true
