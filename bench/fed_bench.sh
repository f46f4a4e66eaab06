#!/usr/bin/env bash
# Federation benchmarks on one machine: two nodes (acme.test, home of the
# group; beta.test, where the receivers are), each with its own embedded
# PostgreSQL, talking ZeroMQ/CURVE over loopback.
#
#   bash bench/fed_bench.sh latency [gc-loadgen options...]
#       send on acme -> receive on beta, e.g.
#       bash bench/fed_bench.sh latency --members 10 --senders 4 --rate 1000 --duration 10
#       bash bench/fed_bench.sh latency --members 10 --senders 16 --duration 10   (flat out)
#   bash bench/fed_bench.sh catchup [BACKLOG]
#       beta is stopped (SIGSTOP) while acme's log grows by BACKLOG (default
#       100000) messages, then, once acme is idle, resumed; prints how fast
#       beta catches up, the CPU both nodes (and their busiest threads) used
#       meanwhile, and how long a search on beta then waits for its search
#       index to hold the backlog.
#       PERF=1 records a perf profile of the whole machine meanwhile
#       (/tmp/beta.perf); KEEP=1 keeps the nodes' logs and data.
#   bash bench/fed_bench.sh joins [N...]
#       N users of beta (default 10, then 100) join one group of acme at
#       once (one connection each); prints how long until every join was
#       answered, the answers by status, and how long until acme lists all
#       of them as members.
#   NODE_PRELOAD=/path/lib.so runs the nodes with LD_PRELOAD (another malloc).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_need_loadgen
bench_init
MODE=${1:-latency}
shift || true

BASE=$(bench_port)
A_HTTP=$BASE; B_HTTP=$((BASE + 1)); A_FED=$((BASE + 2)); B_FED=$((BASE + 3))

start_node() {  # name http fed other_name other_http
  mkdir -p "$TMP/$1"
  BENCH_LOAD=1 bench_node_yaml "$TMP/$1/node.yaml" "$1" "$2" "  listen: tcp://127.0.0.1:$3
  rate_per_peer: 100000
  burst_per_peer: 100000
  resolve:
    $4: http://127.0.0.1:$5" <<YAML
log:
  access: false
YAML
  bench_start_node "$TMP/$1/node.yaml" "$2" "$TMP/$1/node.log"
}
start_node acme.test "$A_HTTP" "$A_FED" beta.test "$B_HTTP"
A_PID=${PIDS[0]}
start_node beta.test "$B_HTTP" "$B_FED" acme.test "$A_HTTP"
B_PID=${PIDS[1]}
echo "# $(date -u +%F) $(nproc) cores; fed_bench $MODE $*"

if [ "$MODE" = latency ]; then
  "$LOADGEN" --port "$A_HTTP" --receivers-port "$B_HTTP" --node-pid "$A_PID" "$@"
  exit 0
fi

if [ "$MODE" = joins ]; then
  for n in ${@:-10 100}; do
    python3 - "$A_HTTP" "$B_HTTP" "$n" <<'PY'
import http.client, json, sys, threading, time, uuid
a, b, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
def call(port, method, path, body=None, token=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    h = {"Content-Type": "application/json"}
    if token: h["Authorization"] = "Bearer " + token
    c.request(method, path, json.dumps(body) if body is not None else None, h)
    r = c.getresponse(); data = r.read(); c.close()
    return r.status, (json.loads(data) if data else {})
tag = uuid.uuid4().hex[:6]
_, owner = call(a, "POST", "/api/v1/auth/register", {"username": "own" + tag, "password": "correct horse"})
_, g = call(a, "POST", "/api/v1/groups", {"name": "joins" + tag}, owner["access_token"])
gid = g["group_id"].replace("#", "%23").replace(":", "%3A")
tokens = [call(b, "POST", "/api/v1/auth/register", {"username": f"j{tag}x{i}", "password": "correct horse"})[1]["access_token"]
          for i in range(n)]
statuses, lock, go = {}, threading.Lock(), threading.Event()
def join(t):
    go.wait()
    s, _ = call(b, "POST", f"/api/v1/groups/{gid}/join", {}, t)
    with lock: statuses[s] = statuses.get(s, 0) + 1
threads = [threading.Thread(target=join, args=(t,)) for t in tokens]
for t in threads: t.start()
t0 = time.monotonic(); go.set()
for t in threads: t.join()
answered = time.monotonic() - t0
members = 0
for _ in range(1200):  # up to 60 s: acme applies the joins as they arrive
    s, m = call(a, "GET", f"/api/v1/groups/{gid}", None, owner["access_token"])
    members = m.get("member_count", 0)
    if members >= n + 1: break
    time.sleep(0.05)
listed = time.monotonic() - t0
print(f"joins: {n} users of beta joining one group of acme at once: all answered in {answered:.2f} s "
      f"({', '.join(f'{k}: {v}' for k, v in sorted(statuses.items()))}); acme lists {members - 1} of them after {listed:.2f} s")
PY
  done
  exit 0
fi

# catchup
BACKLOG=${1:-100000}
A_TOK=$(bench_register "$A_HTTP" alice)
B_TOK=$(bench_register "$B_HTTP" bob)
curl -sf -XPOST "http://127.0.0.1:$A_HTTP/api/v1/groups" -H "Authorization: Bearer $A_TOK" -d '{"name":"backlog"}' >/dev/null
G='%23backlog%3Aacme.test'
curl -sf -XPOST "http://127.0.0.1:$B_HTTP/api/v1/groups/$G/join" -H "Authorization: Bearer $B_TOK" >/dev/null
last_seq() {  # port token
  curl -sf "http://127.0.0.1:$1/api/v1/groups/$G" -H "Authorization: Bearer $2" | sed 's/.*"last_seq":\([0-9]*\).*/\1/'
}
start_seq=$(last_seq "$B_HTTP" "$B_TOK")
kill -STOP "$B_PID"
cat > "$TMP/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"body":"backlog message with a little text in it"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $A_TOK"
LUA
echo "filling acme's log with $BACKLOG messages while beta is stopped..."
while [ "$(last_seq "$A_HTTP" "$A_TOK")" -lt $((start_seq + BACKLOG)) ]; do
  wrk -t2 -c16 -d5s -s "$TMP/post.lua" "http://127.0.0.1:$A_HTTP/api/v1/groups/$G/messages" >/dev/null
done
target=$(last_seq "$A_HTTP" "$A_TOK")
# Let acme settle first (its search indexer follows the fill; a search waits
# for it), so that the figure is beta's catching up, not acme's leftovers.
curl -sf -G "http://127.0.0.1:$A_HTTP/api/v1/search" --data-urlencode q=backlog -H "Authorization: Bearer $A_TOK" >/dev/null
sleep 1
echo "acme holds seq $target; beta holds $start_seq; resuming beta"
own_cpu() {  # CPU seconds of one process
  awk -v t="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / t }' "/proc/$1/stat"
}
threads_cpu() {  # "name ticks" per thread of a process
  for t in /proc/$1/task/*; do echo "$(cat "$t/comm" | tr ' ' _) $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "$t/stat")"; done
}
threads_cpu "$B_PID" > "$TMP/threads0"; threads_cpu "$A_PID" > "$TMP/athreads0"
a_cpu0=$(bench_tree_cpu "$A_PID"); b_cpu0=$(bench_tree_cpu "$B_PID"); b_own0=$(own_cpu "$B_PID")
if [ -n "${PERF:-}" ]; then perf record -F 999 -g -o /tmp/beta.perf -a 2>/dev/null & PERF_PID=$!; fi
# Resume beta and poll its last_seq over one keep-alive connection every
# 20 ms (a curl process per poll cost a tenth of a core, skewing the figure).
secs=$(python3 - "$B_PID" "$B_HTTP" "$B_TOK" "$target" <<'PY'
import http.client, json, os, signal, sys, time
pid, port, tok, target = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
t0 = time.monotonic()
os.kill(pid, signal.SIGCONT)
for _ in range(30000):  # at most 10 minutes
    try:
        conn.request("GET", "/api/v1/groups/%23backlog%3Aacme.test", headers={"Authorization": "Bearer " + tok})
        if json.loads(conn.getresponse().read()).get("last_seq", 0) >= target: break
    except (OSError, http.client.HTTPException, ValueError):
        conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    time.sleep(0.02)
print(f"{time.monotonic() - t0:.3f}")
PY
)
if [ -n "${PERF:-}" ]; then kill -INT "$PERF_PID"; wait "$PERF_PID" || true; fi
a_cpu1=$(bench_tree_cpu "$A_PID"); b_cpu1=$(bench_tree_cpu "$B_PID"); b_own1=$(own_cpu "$B_PID")
threads_cpu "$B_PID" > "$TMP/threads1"; threads_cpu "$A_PID" > "$TMP/athreads1"
# The search index follows the log in the background (3 s rounds during a
# flood); a search waits for it: how long after the catch-up is it complete?
s0=$(date +%s.%N)
hits=$(curl -sf -G "http://127.0.0.1:$B_HTTP/api/v1/search" --data-urlencode q=backlog -H "Authorization: Bearer $B_TOK" | grep -o '"seq"' | wc -l)
s1=$(date +%s.%N)
python3 -c "print(f'search on beta right after: {$hits} hits in {$s1 - $s0:.2f} s (it waits for the search index to hold the backlog)')"
python3 - "$TMP" "$secs" <<'PY'
import collections, os, sys
tck = os.sysconf("SC_CLK_TCK")
for who, f in (("beta", "threads"), ("acme", "athreads")):
    def load(n):
        d = collections.Counter()
        for line in open(f"{sys.argv[1]}/{f}{n}"):
            name, t = line.split(); d[name] += int(t)
        return d
    a, b = load(0), load(1)
    busy = sorted(((b[k] - a[k]) / tck / float(sys.argv[2]), k) for k in b if b[k] > a[k])[::-1][:5]
    print(f"{who} threads (cores):", ", ".join(f"{k} {v:.2f}" for v, k in busy))
PY
python3 -c "n=$target-$start_seq; s=$secs; print(f'catch-up: {n} events in {s:.2f} s = {n/s:.0f} events/s')"
python3 -c "s=$secs; print(f'cpu meanwhile (node + its PostgreSQL): acme {($a_cpu1-$a_cpu0)/s:.2f} cores, beta {($b_cpu1-$b_cpu0)/s:.2f} cores (its node alone {($b_own1-$b_own0)/s:.2f})')"
