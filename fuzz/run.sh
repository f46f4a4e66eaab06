#!/usr/bin/env bash
# Runs every libFuzzer target for a bounded time on a copy of its corpus
# (fuzz/README.md). Usage: fuzz/run.sh BUILD_DIR SECONDS [TARGET...]
# The committed corpus is never written to; inputs that crash or break an
# invariant are kept in BUILD_DIR/artifacts/ and make the script fail.
set -uo pipefail
cd "$(dirname "$0")/.."
build="$1"
seconds="$2"
shift 2
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(canonical_json federation_frame event_content config http_head ws_frame)
fi

work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$build/artifacts"
# One target per core at a time (FUZZ_JOBS, default nproc): each is one
# process on one core, so in turn they would leave the other cores idle.
jobs_max="${FUZZ_JOBS:-$(nproc)}"
run_one() {
  local t="$1" bin="$build/${1}_fuzz" log="$build/artifacts/${1}.log"
  cp -r "fuzz/corpus/$t" "$work/$t"
  local dirs=("$work/$t")
  [ -d "fuzz/regressions/$t" ] && dirs+=("fuzz/regressions/$t")
  # -timeout: one input taking over 10 s counts as a hang (a crash);
  # -rss_limit_mb: the default, stated; output to a log, the summary below.
  "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$build/artifacts/$t-" "${dirs[@]}" >"$log" 2>&1
  local rc=$?
  local execs
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  if [ $rc -ne 0 ]; then
    echo "fuzz: $t FAILED after ${execs:-?} executions (exit $rc); log $log:"
    grep -E "ERROR|invariant|runtime error|Test unit written" "$log" | head -20
  else
    echo "fuzz: $t ok, ${execs:-?} executions in ${seconds} s, corpus $(ls "$work/$t" | wc -l) files"
  fi
  return $rc
}
for t in "${targets[@]}"; do
  [ -x "$build/${t}_fuzz" ] || { echo "fuzz: $build/${t}_fuzz is missing (make fuzz-build)" >&2; exit 1; }
done
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n; done
  { run_one "$t" >"$work/$t.summary"; echo $? >"$work/$t.rc"; } &
done
wait
failed=()
for t in "${targets[@]}"; do
  cat "$work/$t.summary"
  [ "$(cat "$work/$t.rc")" = 0 ] || failed+=("$t")
done
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: failed: ${failed[*]} (reproduce: $build/TARGET_fuzz $build/artifacts/TARGET-crash-...)"
  exit 1
fi
