#!/usr/bin/env bash
# Notification benchmarks on one node (embedded PostgreSQL in a temp dir):
#
#   bash bench/notif_bench.sh [MEMBERS] [RATE] [SECONDS]
#       (defaults 100 members, 200 msg/s, 10 s)
#
# 1. Send latency with and without notifications: the same fixed-rate run of
#    gc-loadgen (MEMBERS receivers, 4 senders, RATE msg/s) with every
#    receiver's default level `none` (the worker runs, makes nothing), then
#    `all` (every member notified of every message: a plain message is
#    added to the member's unread entry of the group, a `notification`
#    frame only for mentions, replies and invites), then `none` again, on
#    one node. The notification worker runs
#    after the commit, so the two should not differ beyond noise. Each run
#    also prints the CPU (user+sys) of the node and its PostgreSQL per
#    accepted message: on a shared machine that figure is trustworthy where
#    wall-clock latency is not.
# 2. Notifications made per second from the outbox: a flat-out run at level
#    `all`; prints entries made, how long the worker took to drain its
#    backlog after the senders stopped, and entries/s from the first entry
#    to the drained backlog.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_need_loadgen
bench_init
MEMBERS=${1:-100}
RATE=${2:-200}
SECONDS_=${3:-10}
PORT=$(bench_port)
printf 'log:\n  access: false\n' | BENCH_LOAD=1 bench_node_yaml "$TMP/node.yaml" bench.test "$PORT"
bench_start_node "$TMP/node.yaml" "$PORT" "$TMP/node.log"

metric() {  # name -> value (0 when absent)
  curl -sf "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1 == m { print $2; found = 1 } END { if (!found) print 0 }'
}
# Recipients notified: new entries plus plain messages added to an unread
# entry (coalesced, migration 0008; a build before it has no merged counter).
notified() {
  awk -v a="$(metric groupchat_notifications_made_total)" -v b="$(metric groupchat_notifications_merged_total)" \
    'BEGIN { printf "%d\n", a + b }'
}
run() {  # level rate
  # The CPU is counted from when every receiver is connected (gc-loadgen
  # prints "connections:" then, a second before its senders start), so that
  # registering and joining (password hashing) stay out of it, to when the
  # worker's backlog of the run is drained.
  local cpu0="" cpu1 line out=""
  while IFS= read -r line; do
    out+="$line"$'\n'
    [[ "$line" == connections:* ]] && cpu0=$(bench_tree_cpu "$NODE_PID")
  done < <(stdbuf -oL "$LOADGEN" --port "$PORT" --members "$MEMBERS" --senders 4 --rate "$2" --duration "$SECONDS_" \
             --notify-level "$1")
  for _ in $(seq 1 600); do
    [ "$(metric groupchat_notifications_backlog)" = 0 ] && break
    sleep 0.1
  done
  cpu1=$(bench_tree_cpu "$NODE_PID")
  grep -E "accepted|latency" <<<"$out"
  awk -v c0="${cpu0:-0}" -v c1="$cpu1" '/^accepted/ { gsub(/[()]/, ""); n = $4 }
    END { if (n > 0) printf "cpu: %.2f ms of node+postgres per accepted message (%.2f s / %d)\n", (c1 - c0) * 1000 / n, c1 - c0, n }' <<<"$out"
}

bench_header
echo "# $MEMBERS members, 4 senders, $RATE msg/s, $SECONDS_ s"
for level in none all none; do
  echo "## level $level"
  run "$level" "$RATE"
done

echo "## flat out, level all"
# Samples the worker's counter every 0.2 s while the run goes: entries/s is
# taken from the first sample that moved to the drained backlog, so user
# registration and joins before the sends are not counted.
( while :; do echo "$(date +%s.%N) $(notified)"; sleep 0.2; done ) > "$TMP/made.txt" &
SAMPLER=$!
run all 0
sent_end=$(date +%s.%N)
# The worker follows the log after the sends: wait (bounded) for its backlog.
for _ in $(seq 1 600); do
  [ "$(metric groupchat_notifications_backlog)" = 0 ] && break
  sleep 0.1
done
end=$(date +%s.%N)
after=$(notified)
kill "$SAMPLER"; wait "$SAMPLER" 2>/dev/null || true
awk -v a="$after" -v e="$end" -v se="$sent_end" '
  NR == 1 { base = $2 } $2 > base && !t0 { t0 = $1; m0 = $2 }
  END {
    made = a - base
    printf "recipients notified (entries made or added to): %d, %.0f per second while the sends went on; backlog drained %.1f s after the last send\n",
      made, (a - m0) / (e - t0), e - se }' "$TMP/made.txt"
