#!/usr/bin/env bash
# make test: build, run the suites in parallel, then alone: the system-limit suite, the timed
# end-to-end suites and the rollout simulation; close with one summary line over the runs.
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp /tmp/runner-test-log.XXXXXX)
trap 'rm -f "$log"' EXIT

swift build --build-tests || exit 1
status=0
# The house: no cycle between the folders of Sources/Pipeline, and formatted code (make format).
python3 scripts/folder-arrows.py --quiet || status=1
# No bench output or generated data in the repository.
bash scripts/large-files.sh || status=1
swift format lint --strict --recursive Sources Tests Fuzz/Targets Fuzz/Tests Fuzz/Driver Fuzz/Harness Package.swift Fuzz/Package.swift || { echo "unformatted code: run make format"; status=1; }
alone="SystemLimitTests|WedgeTests|AnsibleTests|FloodTests|RolloutSimulationTests"
# The Debian package, which InstallTests installs into a scratch root (where dpkg is).
if command -v dpkg-buildpackage >/dev/null; then
  deb_log=$(mktemp /tmp/runner-deb-log.XXXXXX)
  make deb >"$deb_log" 2>&1 || { tail -40 "$deb_log"; echo "make deb failed"; status=1; }
  rm -f "$deb_log"
  # The release binary make deb built: does the link order still fit it?
  bash scripts/link-order-check.sh || status=1
fi
# The parallel run starts dozens of senders at once, each with two inotify instances (its tree
# and its source's parent): more than the default 128 per user. Raised for the run, as root.
instances=/proc/sys/fs/inotify/max_user_instances
old_instances=$(cat "$instances")
if [[ -w "$instances" && "$old_instances" -lt 1024 ]]; then
  echo 1024 > "$instances"
  trap 'rm -f "$log"; echo "$old_instances" > "$instances"' EXIT
fi
swift test --skip-build --skip "$alone" 2>&1 | tee -a "$log" || status=1
# Alone: these lower system-wide inotify limits for a moment.
swift test --skip-build --filter SystemLimitTests 2>&1 | tee -a "$log" || status=1
# Alone: what is timed end to end as a user times it (an edit within 2 s, a lone edit within
# delay + 50 ms, a tool's pace, a push beside a flood) would measure the other suites' load,
# not runner.
swift test --skip-build --filter "WedgeTests|AnsibleTests|FloodTests" 2>&1 | tee -a "$log" || status=1
# Alone: ten thousand schedules take both cores.
swift test --skip-build --filter RolloutSimulationTests 2>&1 | tee -a "$log" || status=1

total=$(grep -oE "Test run with [0-9]+ tests?" "$log" | grep -oE "[0-9]+" | awk '{s += $1} END {print s + 0}')
# One line per failed test ("✘ Test name() failed after …"), not one per failed expectation.
failed=$(grep -E "^✘ Test .* failed after" "$log" | grep -vc "^✘ Test run with")
echo
echo "tests: $((total - failed)) passed, $failed failed"
exit $status
