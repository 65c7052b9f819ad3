#!/usr/bin/env bash
# make test-tsan / make test-asan: the suite built with a sanitizer (thread or address),
# in a build path of its own. The runner binaries the tests start are instrumented too;
# every process writes its reports under .build/sanitizer-<kind>/reports, and any report
# fails the run, as a failed test does. SystemLimitTests run in `make test` only.
set -uo pipefail
cd "$(dirname "$0")/.."
kind=${1:?usage: test-sanitized.sh thread|address}
build=.build/sanitizer-$kind
reports=$PWD/$build/reports
rm -rf "$reports" && mkdir -p "$reports"
start=$(date +%s)
swift build --build-tests --sanitize="$kind" --build-path "$build" || exit 1
built=$(date +%s)
options="log_path=$reports/report"
status=0
# A thousand simulated schedules, not ten thousand: the machine's code is the same in each.
RUNNER_SIM_SCHEDULES=1000 TSAN_OPTIONS="$options" \
  ASAN_OPTIONS="$options:detect_leaks=0:suppressions=$PWD/scripts/asan.supp" \
  swift test --skip-build --sanitize="$kind" --build-path "$build" --skip SystemLimitTests || status=1
end=$(date +%s)
if compgen -G "$reports/report*" > /dev/null; then
  echo "sanitizer ($kind) reports:"
  head -n 40 "$reports"/report*
  status=1
fi
echo "sanitizer ($kind): build $((built - start)) s, tests $((end - built)) s, $(ls "$reports" | wc -l) report(s)"
exit $status
