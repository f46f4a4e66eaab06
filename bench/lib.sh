# Shared by the benchmark scripts: a temp dir removed on exit, and nodes
# started from a config file there and stopped (SIGTERM, then waited for)
# on exit. Source it after `cd` to the repository root.
#
#   bench_init                       TMP=/tmp/gc-bench-XXXXXX, cleanup on exit
#   bench_start_node CONFIG PORT LOG sets NODE_PID; returns once /healthz answers
BIN=build/groupchat
PIDS=()

bench_init() {
  [ -x "$BIN" ] || { echo "build first: make" >&2; exit 1; }
  ulimit -n "$(ulimit -Hn)"
  TMP=$(mktemp -d /tmp/gc-bench-XXXXXX)
  chmod 755 "$TMP"
  trap bench_cleanup EXIT
}

bench_cleanup() {
  for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -n "${KEEP:-}" ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}

bench_start_node() {  # config port log
  ${NODE_PRELOAD:+env LD_PRELOAD=$NODE_PRELOAD} "$BIN" serve --config "$1" 2> "$3" &
  NODE_PID=$!
  PIDS+=("$NODE_PID")
  for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$2/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "the node ($1) did not start:" >&2
  tail "$3" >&2
  exit 1
}
