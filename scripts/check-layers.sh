#!/usr/bin/env bash
# Checks that #include dependencies point one way (docs/architecture.md):
#
#   platform  node/common, node/config, node/db, node/http, node/identity, node/stream
#      ^
#   services  services/<name>
#      ^
#   federation/, admin/
#      ^
#   composition root: node/node.{h,cpp} (and node/node_*.cpp, its parts),
#                     node/commands.{h,cpp}, node/main.cpp
#
# A module is services/X, node/X or a top folder (federation, admin). It fails
# on an include into a higher layer, on any include of the composition root
# from outside it, and on a cycle between modules (of any layers).
#
# It also fails on SQL outside storage code: a statement (GC_SQL, Exec,
# ExecScript, CopyIn, libpq calls) belongs in a file named pg_* or *_store*
# (a store behind an interface its module owns) or in node/db/ (the database
# layer), except for the few files listed in SQL_ALLOWED below, each with
# its reason; and on SQL that names another module's tables (the group log's
# outside services/groups, federation's outside federation/), with the
# exceptions listed below. Run by ctest as `layers`; by hand:
# scripts/check-layers.sh [SOURCE_DIR].
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"

edges=$(mktemp)
trap 'rm -f "$edges"' EXIT

# One pass over every source file: FILE:LINE:#include "PATH" -> checks.
status=0
find node services federation admin -type f \( -name '*.h' -o -name '*.cpp' \) | sort |
  xargs grep -n -H -E '^[[:space:]]*#[[:space:]]*include[[:space:]]+"(node|services|federation|admin)/[^"]+"' |
  awk -F: -v edges="$edges" '
    function module(p,   a) {
      if (p ~ /^node\/(node|commands)(_[a-z_]+)?\.(h|cpp)$/ || p == "node/main.cpp") return "root"
      split(p, a, "/")
      if ((a[1] == "node" || a[1] == "services") && length(a) >= 3) return a[1] "/" a[2]
      if (a[1] == "federation" || a[1] == "admin") return a[1]
      return "?"
    }
    function layer(m) {
      if (m == "root") return 4
      if (m == "federation" || m == "admin") return 3
      if (m ~ /^services\//) return 2
      if (m ~ /^node\//) return 1
      return 0
    }
    BEGIN { split("unknown platform services federation/admin composition-root", names, " ") }
    {
      file = $1; line = $2
      target = $0; sub(/^[^"]*"/, "", target); sub(/".*$/, "", target)
      from = module(file); to = module(target)
      if (layer(from) == 0) { print file ": not in any module"; bad++; next }
      if (from == to) next
      if (to == "root") { print file ":" line ": includes the composition root (" target ")"; bad++ }
      else if (layer(to) > layer(from)) {
        print file ":" line ": includes " target ": " from " (" names[layer(from) + 1] ") may not depend on " \
              to " (" names[layer(to) + 1] ")"
        bad++
      }
      print from, to > edges
    }
    END { exit bad > 0 }
  ' || status=1

# A cycle between modules: tsort names the modules on it.
if ! cycle=$(sort -u "$edges" | tsort 2>&1 >/dev/null); then
  echo "a cycle between modules:"
  echo "$cycle" | sed -E 's/^tsort: -: (.*)/  \1/; s/^tsort: /    /'
  status=1
fi

# SQL outside storage code. A line: a path (or a folder ending in /) and why.
SQL_ALLOWED='
services/groups/group_log.cpp        the group log is the group service storage mechanism (docs/architecture.md)
services/groups/group_log_sql.h      the group log: statements its reader and writer share
services/groups/group_log_writer.cpp the group log: it orders, chains, signs and commits events
services/groups/projections.cpp      the group log: what an event changes, inside its transaction
'
sql_files=$(grep -rlE 'GC_SQL\(|\.Exec\(|ExecScript\(|CopyIn\(|\bPQ[a-z][A-Za-z]*\(' node services federation admin \
              --include='*.cpp' --include='*.h' | sort)
sql_stray=0
for f in $sql_files; do
  case "$f" in node/db/*) continue ;; esac
  case "${f##*/}" in pg_* | *_store*) continue ;; esac
  allowed=0
  while read -r path _; do
    [ -n "$path" ] && [[ "$f" == "$path" || ( "$path" == */ && "$f" == "$path"* ) ]] && allowed=1
  done <<<"$SQL_ALLOWED"
  if [ "$allowed" -eq 0 ]; then
    echo "$f: SQL outside a store: move it behind the module's store interface (a pg_* file)"
    sql_stray=$((sql_stray + 1))
  fi
done
[ "$sql_stray" -eq 0 ] || status=1

# SQL naming a module's tables outside that module. The group log's tables
# (services/groups/migrations) are the group service's: federation, admin and
# the platform reach them through GroupLog and LogEntryStore
# (services/groups/log_entry_store.h), never by SQL. Federation's tables
# (fed_*) are federation's. A line of an exception list: a path (or a folder
# ending in /) and why.
GROUP_TABLES='events|groups|group_members|reactions|mentions|read_markers'
GROUP_TABLES_ALLOWED='
services/groups/                   the owner
services/messaging/                messages are events of the log: its stores read history, reactions, mentions and write read markers
services/media/pg_media_store.cpp  may a user see a media id: is it referenced by an event of a group they are in
services/notifications/pg_notification_store.cpp        the inbox worker follows the log after its cursor (the log is its outbox)
services/notifications/pg_notification_store_push.cpp   a pushed entry names its group (title, address)
services/notifications/pg_notification_store_email.cpp  a mailed entry names its group and is dropped once the group is read
'
FED_TABLES_ALLOWED='
federation/                          the owner
'
table_stray() {  # $1: table regex, $2: allowed list, $3: whose tables
  local files f path allowed n=0
  files=$(grep -rlE "\b(FROM|JOIN|INTO|UPDATE|TABLE)[[:space:]]+($1)\b" node services federation admin \
            --include='*.cpp' --include='*.h' | sort)
  for f in $files; do
    allowed=0
    while read -r path _; do
      [ -n "$path" ] && [[ "$f" == "$path" || ( "$path" == */ && "$f" == "$path"* ) ]] && allowed=1
    done <<<"$2"
    if [ "$allowed" -eq 0 ]; then
      echo "$f: SQL names $3 tables: go through its interface instead"
      n=$((n + 1))
    fi
  done
  [ "$n" -eq 0 ]
}
table_stray "$GROUP_TABLES" "$GROUP_TABLES_ALLOWED" "the group log's" || status=1
table_stray 'fed_[a-z_]+' "$FED_TABLES_ALLOWED" "federation's" || status=1

if [ "$status" -ne 0 ]; then
  echo "check-layers: failed; docs/architecture.md says which way dependencies point"
  exit 1
fi
echo "check-layers: ok ($(sort -u "$edges" | grep -c .) module dependencies, all downward, no cycle; SQL only in stores; tables only in their modules)"
