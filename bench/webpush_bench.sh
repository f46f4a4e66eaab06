#!/usr/bin/env bash
# Web Push benchmark: the time from a send to its push arriving at a local
# push service (p50/p99), with USERS members of one group each subscribed
# from a "browser" (tests/push/push_receiver.js in the driver's process: it
# decrypts every push and verifies its VAPID token). Starts its own node with
# an embedded PostgreSQL in a temp dir (notifications.allow_private_endpoints
# so that it may push to loopback) and removes everything afterwards. Needs
# node and `make deps` (tests/push/node_modules).
#
#   bash bench/webpush_bench.sh [users=1000] [messages=20] [push_concurrency=4]
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${1:-1000}
MESSAGES=${2:-20}
CONC=${3:-4}
[ -d tests/push/node_modules/http_ece ] || { echo "tests/push/node_modules missing: make deps" >&2; exit 1; }
. bench/lib.sh
bench_init
PORT=$((20000 + RANDOM % 10000))

cat > "$TMP/node.yaml" <<YAML
node:
  name: bench.test
  data_dir: $TMP/data
http:
  listen: 127.0.0.1:$PORT
federation:
  listen: tcp://127.0.0.1:0
database:
  url: ""
rate_limits:
  enabled: false
log:
  access: false
notifications:
  allow_private_endpoints: true
  push_concurrency: $CONC
YAML
bench_start_node "$TMP/node.yaml" "$PORT" "$TMP/node.log"

echo "# $(date -u +%F) $(nproc) cores, $(awk '/model name/ {$1=$2=$3=""; print; exit}' /proc/cpuinfo | sed 's/^ *//')"
echo "# notifications.push_concurrency=$CONC; node, push service and client on the same cores"
# The CPU (user+sys) of the node and its PostgreSQL is counted from the end
# of the setup (registering users hashes passwords) to the end, per push
# delivered: under load that is the trustworthy figure.
cpu0=""
while IFS= read -r line; do
  echo "$line"
  [[ "$line" == "# setup:"* ]] && cpu0=$(bench_tree_cpu "$NODE_PID") && d0=$(curl -sf "http://127.0.0.1:$PORT/metrics" |
    awk '/^groupchat_push_delivered_total/ { print $2; exit }')
done < <(node bench/webpush_bench.js --url "http://127.0.0.1:$PORT" --users "$USERS" --messages "$MESSAGES")
cpu1=$(bench_tree_cpu "$NODE_PID")
metrics=$(curl -sf "http://127.0.0.1:$PORT/metrics")
d1=$(awk '/^groupchat_push_delivered_total/ { print $2; exit }' <<<"$metrics")
awk -v c0="${cpu0:-0}" -v c1="$cpu1" -v d0="${d0:-0}" -v d1="${d1:-0}" 'BEGIN {
  if (d1 > d0) printf "cpu: %.2f ms of node+postgres per push delivered (%.2f s / %d)\n", (c1 - c0) * 1000 / (d1 - d0), c1 - c0, d1 - d0 }'

grep -E '^groupchat_push_(delivered|failed)_total' <<<"$metrics" | sed 's/^/# /'
echo "# node RSS after: $(awk '/VmRSS/ {print $2, $3}' /proc/$NODE_PID/status)"
