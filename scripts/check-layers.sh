#!/usr/bin/env bash
# Checks that #include dependencies point one way (docs/architecture.md):
#
#   platform  node/common, node/config, node/db, node/http, node/identity, node/stream
#      ^
#   services  services/<name>
#      ^
#   federation/, admin/
#      ^
#   composition root: node/node.{h,cpp}, node/commands.{h,cpp}, node/main.cpp
#
# A module is services/X, node/X or a top folder (federation, admin). It fails
# on an include into a higher layer, on any include of the composition root
# from outside it, and on a cycle between modules (of any layers). Run by
# ctest as `layers`; by hand: scripts/check-layers.sh [SOURCE_DIR].
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"

# module PATH -> the module a source path belongs to
module() {
  case "$1" in
    node/node.h|node/node.cpp|node/commands.h|node/commands.cpp|node/main.cpp) echo root ;;
    node/*/*|services/*/*) echo "$1" | cut -d/ -f1-2 ;;
    federation/*|admin/*) echo "${1%%/*}" ;;
    *) echo "?$1" ;;
  esac
}

layer() {
  case "$1" in
    root) echo 4 ;;
    federation|admin) echo 3 ;;
    services/*) echo 2 ;;
    node/*) echo 1 ;;
    *) echo 0 ;;
  esac
}

layer_name() { case "$1" in 1) echo platform ;; 2) echo services ;; 3) echo "federation/admin" ;; 4) echo "composition root" ;; *) echo unknown ;; esac; }

failures=0
edges=""
while IFS= read -r file; do
  from=$(module "$file")
  from_layer=$(layer "$from")
  if [ "$from_layer" = 0 ]; then
    echo "$file: not in any module (node/X/, services/X/, federation/, admin/ or the composition root)"
    failures=$((failures + 1))
    continue
  fi
  while IFS=: read -r line target; do
    [ -n "$target" ] || continue
    to=$(module "$target")
    [ "$to" = "$from" ] && continue
    to_layer=$(layer "$to")
    if [ "$to" = root ]; then
      echo "$file:$line: includes the composition root ($target)"
      failures=$((failures + 1))
    elif [ "$to_layer" -gt "$from_layer" ]; then
      echo "$file:$line: includes $target: $from ($(layer_name "$from_layer")) may not depend on $to ($(layer_name "$to_layer"))"
      failures=$((failures + 1))
    fi
    edges+="$from $to"$'\n'
  done < <(grep -n -o -E '^[[:space:]]*#[[:space:]]*include[[:space:]]+"(node|services|federation|admin)/[^"]+"' "$file" |
           sed -E 's/^([0-9]+):.*"([^"]+)"$/\1:\2/')
done < <(find node services federation admin -type f \( -name '*.h' -o -name '*.cpp' \) | sort)

# A cycle between modules: tsort names the modules on it.
if ! cycle=$(printf '%s' "$edges" | sort -u | tsort 2>&1 >/dev/null); then
  echo "a cycle between modules:"
  echo "$cycle" | sed -E 's/^tsort: -: (.*)/  \1/; s/^tsort: /    /'
  failures=$((failures + 1))
fi

if [ "$failures" -gt 0 ]; then
  echo "check-layers: $failures problem(s); docs/architecture.md says which way dependencies point"
  exit 1
fi
echo "check-layers: ok ($(printf '%s' "$edges" | sort -u | grep -c .) module dependencies, all downward, no cycle)"
