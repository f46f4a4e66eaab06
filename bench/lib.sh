# Shared by the benchmark scripts: a temp dir removed on exit, node configs,
# nodes started from them and stopped (SIGTERM, then waited for) on exit,
# users registered for their tokens. Source it after `cd` to the repository
# root.
#
#   bench_init                       TMP=/tmp/gc-bench-XXXXXX, cleanup on exit
#   bench_need_loadgen               LOADGEN=build/bench/gc-loadgen, or exit
#   bench_port                       prints a random port from 20000 up
#   bench_node_yaml FILE NAME HTTP_PORT [FEDERATION_LINES] < more YAML
#                                    writes a node config (see below)
#   bench_start_node CONFIG PORT LOG sets NODE_PID; returns once /healthz answers
#   bench_register PORT NAME         prints a new user's access token, or exits
#   bench_header                     prints "# date, cores, CPU model"
#   bench_tree_cpu PID               prints the CPU seconds (user+sys) of PID and
#                                    all its descendants (a node and its
#                                    PostgreSQL), reaped children included
BIN=${GC_BIN:-build/groupchat}  # GC_BIN: another build of the node (an A/B of two commits)
PIDS=()

bench_init() {
  [ -x "$BIN" ] || { echo "build first: make" >&2; exit 1; }
  ulimit -n "$(ulimit -Hn)"
  TMP=$(mktemp -d /tmp/gc-bench-XXXXXX)
  chmod 755 "$TMP"
  trap bench_cleanup EXIT
}

bench_need_loadgen() {
  LOADGEN=build/bench/gc-loadgen
  [ -x "$LOADGEN" ] || { echo "build first: make" >&2; exit 1; }
}

bench_port() { echo $((20000 + RANDOM % 9000)); }

bench_cleanup() {
  for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -n "${KEEP:-}" ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}

# A node named NAME with its embedded PostgreSQL under FILE's folder, HTTP on
# 127.0.0.1:HTTP_PORT with 2 I/O threads, rate limits off. BENCH_LOAD=1 adds
# what thousands of connections need (http.workers=$WORKERS or 32, connection
# limits of 20000, a pool of 16). FEDERATION_LINES go under `federation:`
# (default: listen on any free port). Standard input is appended (more
# top-level sections: log, media, ...).
bench_node_yaml() {  # file name http_port [federation_lines]
  {
    printf 'node:\n  name: %s\n  data_dir: %s/data\n' "$2" "$(dirname "$1")"
    printf 'http:\n  listen: 127.0.0.1:%s\n  threads: 2\n' "$3"
    if [ -n "${BENCH_LOAD:-}" ]; then printf '  workers: %s\n  max_connections: 20000\n' "${WORKERS:-32}"; fi
    printf 'federation:\n%s\n' "${4:-  listen: tcp://127.0.0.1:0}"
    printf 'database:\n  url: ""\n'
    if [ -n "${BENCH_LOAD:-}" ]; then printf '  pool_size: 16\nstream:\n  max_connections: 20000\n'; fi
    printf 'rate_limits:\n  enabled: false\n'
    cat
  } > "$1"
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

bench_register() {  # port name -> prints the access token
  local token
  token=$(curl -sf -X POST "http://127.0.0.1:$1/api/v1/auth/register" \
    -d "{\"username\":\"$2\",\"password\":\"benchmark-password\"}" | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
  [ -n "$token" ] || { echo "could not register $2 on port $1" >&2; exit 1; }
  echo "$token"
}

bench_header() {
  echo "# $(date -u +%F) $(nproc) cores, $(awk '/model name/ {$1=$2=$3=""; print; exit}' /proc/cpuinfo | sed 's/^ *//')"
}

bench_tree_cpu() {  # pid -> CPU seconds of it and its descendants
  python3 - "$1" <<'PY'
import os, sys
tck = os.sysconf("SC_CLK_TCK"); kids = {}; cpu = {}
for p in os.listdir("/proc"):
    if not p.isdigit(): continue
    try: f = open(f"/proc/{p}/stat").read()
    except OSError: continue
    rest = f[f.rfind(")") + 2:].split()
    # utime + stime + cutime + cstime: a PostgreSQL backend that exited is
    # counted in its parent's cutime/cstime.
    kids.setdefault(int(rest[1]), []).append(int(p)); cpu[int(p)] = sum(int(x) for x in rest[11:15]) / tck
todo = [int(sys.argv[1])]; total = 0.0
while todo:
    q = todo.pop(); total += cpu.get(q, 0); todo += kids.get(q, [])
print(f"{total:.2f}")
PY
}
