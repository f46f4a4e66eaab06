#!/usr/bin/env bash
# Issue 17's scenarios, each on a fresh node with its embedded PostgreSQL:
#   ceiling  one client inserting one ~100-byte row per commit (pgbench, on
#            the cluster of the ingest node): the one-commit-per-message rate
#   ingest5  5 members all sending, 10 requests in flight each, all receiving
#   ingest50 the same with 50 members
#   joins    500 users joining one group at once: time until all answered
#   logins   a login burst during a fan-out at a fixed rate: logins/s and the
#            fan-out's latency with and without the burst
# Figures per message include the node's PostgreSQL (CPU of the whole
# process tree). On a shared machine, read the CPU figures, not the rates.
#
#   bash bench/ingest_bench.sh [scenario...]     (default: all, in that order)
#   SECONDS_PER_RUN=10 JOINS=500 LOGINS=200 TXN=1 bash bench/ingest_bench.sh ingest5
# NOTIFY_LEVEL=none sets the ingest members' notification level (the
# notification worker's share of PostgreSQL's CPU out of the way).
# PERF_DIR=dir records `perf record -g` of the node while each scenario's
# load runs into dir/<scenario>.perf, and of its PostgreSQL processes (the
# postmaster's children: backends, WAL writer, checkpointer) into
# dir/<scenario>.pg.perf (read with `perf report -i`). PERF_CALL_GRAPH=dwarf
# records the node's stacks with DWARF unwinding instead (the release build
# has no frame pointers, so -g cuts its stacks short; larger files, so at
# PERF_FREQ, default 999 Hz): what bench/perf_stages.py needs to split the
# node's CPU by stage.
# STATEMENTS=1 restarts each node with pg_stat_statements loaded and prints
# the statements that took the most time during the load (calls, rows, ms).
# WAL=1 prints the WAL bytes the cluster wrote during each scenario's load
# (both read once the notification worker's backlog is drained).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_need_loadgen
bench_init
DUR=${SECONDS_PER_RUN:-10}
SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=(ingest5 ingest50 joins logins)
TXN_FLAG=${TXN:+--txn}

fresh_node() {  # name -> PORT, NODE_PID, LOG
  PORT=$(bench_port)
  mkdir -p "$TMP/$1"
  printf '%b\n' "${NODE_YAML_EXTRA:-}" | BENCH_LOAD=1 bench_node_yaml "$TMP/$1/node.yaml" bench.test "$PORT"
  LOG="$TMP/$1/node.log"
  bench_start_node "$TMP/$1/node.yaml" "$PORT" "$LOG"
  if [ -n "${STATEMENTS:-}" ]; then
    pg_sql "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'" >/dev/null
    kill -TERM "$NODE_PID"
    wait "$NODE_PID" 2>/dev/null || true
    bench_start_node "$TMP/$1/node.yaml" "$PORT" "$LOG"
    pg_sql "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
  fi
}

# gc-loadgen, with (PERF_DIR) `perf record` of the node from the moment the
# load starts (the line "connections: ..."), for DUR seconds.
loadgen() {  # scenario args...
  local name=$1
  shift
  "$LOADGEN" --port "$PORT" --node-pid "$NODE_PID" "$@" | while IFS= read -r line; do
    echo "$line"
    if [ -n "${PERF_DIR:-}" ] && [[ $line == connections:* ]]; then
      mkdir -p "$PERF_DIR"
      local node_graph=(-g)
      [ "${PERF_CALL_GRAPH:-}" = dwarf ] && node_graph=(-F "${PERF_FREQ:-999}" --call-graph dwarf,32768)
      perf record -q "${node_graph[@]}" -p "$NODE_PID" -o "$PERF_DIR/$name.perf" -- sleep "$DUR" >/dev/null 2>&1 &
      local pg_pids
      pg_pids=$(pgrep -d, -P "$(pgrep -o -P "$NODE_PID" -x postgres)")
      perf record -q -g -p "$pg_pids" -o "$PERF_DIR/$name.pg.perf" -- sleep "$DUR" >/dev/null 2>&1 &
    fi
    if [ -n "${STATEMENTS:-}" ] && [[ $line == connections:* ]]; then
      pg_sql "SELECT pg_stat_statements_reset()" >/dev/null
    fi
    if [ -n "${WAL:-}" ] && [[ $line == connections:* ]]; then pg_sql "SELECT pg_current_wal_lsn()" > "$TMP/wal_start"; fi
    if [[ $line == connections:* ]]; then bench_tree_cpu "$NODE_PID" > "$TMP/cpu_start"; fi
    if [[ $line == accepted:* ]]; then sed 's/.*(\([0-9]*\) ok.*/\1/' <<<"$line" > "$TMP/accepted"; fi
  done
  if [ -n "${STATEMENTS:-}${WAL:-}" ]; then
    # The notification worker follows the log after the sends: its share of
    # the statements and the WAL counts only once its backlog is drained
    # (bounded: 60 s).
    local t0=$SECONDS
    until [ "$(curl -sf "http://127.0.0.1:$PORT/metrics" | awk '$1 == "groupchat_notifications_backlog" { print $2 }')" = 0 ] ||
          [ $((SECONDS - t0)) -ge 60 ]; do
      sleep 0.1
    done
    echo "notification backlog drained $((SECONDS - t0)) s after the load"
    if [ -s "$TMP/cpu_start" ] && [ -s "$TMP/accepted" ]; then
      awk -v c0="$(cat "$TMP/cpu_start")" -v c1="$(bench_tree_cpu "$NODE_PID")" -v n="$(cat "$TMP/accepted")" \
        'BEGIN { if (n > 0) printf "cpu with the drain: %.1f us of node+postgres per accepted message\n", (c1 - c0) * 1e6 / n }'
    fi
  fi
  if [ -n "${STATEMENTS:-}" ]; then
    echo "statements (calls, rows, total ms, query):"
    pg_sql "SELECT calls, rows, round(total_exec_time), left(regexp_replace(query, '\s+', ' ', 'g'), 110)
            FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 25"
  fi
  if [ -n "${WAL:-}" ] && [ -s "$TMP/wal_start" ]; then
    local start end
    start=$(cat "$TMP/wal_start")
    end=$(pg_sql "SELECT pg_current_wal_lsn()")
    echo "wal: $(pg_sql "SELECT '$end'::pg_lsn - '$start'::pg_lsn") bytes written by the cluster, load and drain"
    # What the WAL holds, by kind of record (before a checkpoint recycles it).
    local wal_dir bin
    wal_dir=$(find "$TMP/$name" -type d -name pg_wal | head -1)
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    "$bin/pg_waldump" --stats=record -p "$wal_dir" -s "$start" -e "$end" 2>/dev/null |
      awk '$1 != "Type" && $1 !~ /^-/' | sort -k11 -n -r | head -14 || true
    rm -f "$TMP/wal_start"
  fi
}

# Runs one SQL statement on the node's cluster (its socket from the node's
# log) as the database superuser; prints the result, unaligned.
pg_sql() {
  local sock bin
  sock=$(grep -o '"socket_dir":"[^"]*"' "$LOG" | head -1 | cut -d'"' -f4)
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$bin/psql" -qAtX -h "$sock" -U postgres -d groupchat -c "$1"
  else
    "$bin/psql" -qAtX -h "$sock" -U postgres -d groupchat -c "$1"
  fi
}

# Commits/s of one client inserting one row per transaction, on the node's
# own cluster (its socket from the node's log), as the database user.
ceiling() {
  local sock pg psql_as
  sock=$(grep -o '"socket_dir":"[^"]*"' "$LOG" | head -1 | cut -d'"' -f4)
  pg=$(dirname "$(grep -o '"dir":"[^"]*"' "$LOG" | head -1 | cut -d'"' -f4)")
  psql_as=()
  [ "$(id -u)" = 0 ] && psql_as=(runuser -u postgres --)
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  "${psql_as[@]}" "$bin/psql" -qX -h "$sock" -U postgres -d groupchat \
    -c "CREATE TABLE IF NOT EXISTS bench_ceiling (id bigserial PRIMARY KEY, body text)" >/dev/null
  printf "INSERT INTO bench_ceiling (body) VALUES ('%0100d');\n" 0 > "$TMP/ceiling.sql"
  chmod 644 "$TMP/ceiling.sql"
  CEILING=$("${psql_as[@]}" "$bin/pgbench" -n -h "$sock" -U postgres -c 1 -T 5 -f "$TMP/ceiling.sql" groupchat 2>/dev/null |
    awk '/^tps/ {printf "%.0f", $3}')
  "${psql_as[@]}" "$bin/psql" -qX -h "$sock" -U postgres -d groupchat -c "DROP TABLE bench_ceiling" >/dev/null
  : "$pg"
}

bench_header
for s in "${SCENARIOS[@]}"; do
  case $s in
    ingest5|ingest50)
      fresh_node "$s"
      [ -n "${CEILING:-}" ] || ceiling
      echo "## $s (one-row-per-commit ceiling of this cluster: ${CEILING} commits/s, 1 client)"
      loadgen "$s" --mode ingest --senders "${s#ingest}" --inflight 10 \
        --duration "$DUR" --payload 100 $TXN_FLAG ${NOTIFY_LEVEL:+--notify-level "$NOTIFY_LEVEL"}
      ;;
    joins)
      fresh_node joins
      echo "## joins: ${JOINS:-500} users join one group at once"
      loadgen joins --mode joins --members $((${JOINS:-500} + 1))
      ;;
    logins)
      fresh_node logins
      echo "## logins: ${LOGINS:-200} logins during a fan-out to 100 members at 100 msg/s"
      loadgen logins --mode logins --members 100 --senders 4 --rate 100 \
        --logins "${LOGINS:-200}" --login-conns 32 --duration "$DUR" --payload 100
      ;;
    *) echo "unknown scenario $s (ingest5 ingest50 joins logins)" >&2; exit 64 ;;
  esac
done
