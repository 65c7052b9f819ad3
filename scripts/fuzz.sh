#!/usr/bin/env bash
# make fuzz: builds the libFuzzer executables of Fuzz/ (-sanitize=fuzzer,address) and runs
# each for FUZZ_S seconds (default 60), as many at once as there are cores, over the
# checked-in seeds (Fuzz/corpus/<target>) and what earlier runs learned (Fuzz/.build/corpus).
# A crash, timeout or out-of-memory input is kept as a new seed, Fuzz/corpus/<target>/
# crash-<sha1> (`make test` replays it from then on), and fails the run.
# FUZZ_TARGETS="frame delta" runs some of them.
set -uo pipefail
cd "$(dirname "$0")/../Fuzz"
seconds=${FUZZ_S:-60}
targets=${FUZZ_TARGETS:-$(ls Harness)}
swift build -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld 2>&1 | grep -vE "^\[|warning: Cannot export" || true
[[ -x .build/debug/fuzz-frame ]] || { echo "fuzz: the build failed" >&2; exit 1; }
mkdir -p .build/logs

fuzz() {
  local t=$1
  mkdir -p ".build/corpus/$t" ".build/crashes/$t"
  # Swift's backtracer would hang on the crash it is asked to report; libFuzzer reports it.
  SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0 ".build/debug/fuzz-$t" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix=".build/crashes/$t/" ".build/corpus/$t" "corpus/$t" > ".build/logs/$t.log" 2>&1
}

running=0
for t in $targets; do
  fuzz "$t" &
  running=$((running + 1))
  if (( running >= $(nproc) )); then wait -n; running=$((running - 1)); fi
done
wait

status=0
printf "%-14s %10s %10s %8s %8s  %s\n" target "exec/s" runs "new" "peak MB" found
for t in $targets; do
  log=.build/logs/$t.log
  stat() { grep -oE "stat::$1: *[0-9]+" "$log" | grep -oE "[0-9]+$" || echo "-"; }
  found="nothing"
  for artifact in .build/crashes/$t/*; do
    [[ -f $artifact ]] || continue
    kind=$(basename "$artifact" | cut -d- -f1)
    cp "$artifact" "corpus/$t/$kind-$(sha1sum "$artifact" | cut -c1-16)"
    rm "$artifact"
    found="$kind: kept as corpus/$t/$kind-…; see Fuzz/.build/logs/$t.log"
    status=1
  done
  printf "%-14s %10s %10s %8s %8s  %s\n" "$t" "$(stat average_exec_per_sec)" "$(stat number_of_executed_units)" \
    "$(stat new_units_added)" "$(stat peak_rss_mb)" "$found"
done
exit $status
