#!/usr/bin/env bash
# make demo: a live sync of a sample tree with the sample pipeline (samples/local.lua).
# Shows the initial sync, an in-place edit, a temp file being ignored, a file replaced
# by rename (as rsync and sed -i do), and a clean stop. Ends by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin="$root/.build/debug/runner"
work=$(mktemp -d /tmp/runner-demo.XXXXXX)
runner_pid=""
cleanup() {
  if [[ -n "$runner_pid" ]] && kill -0 "$runner_pid" 2>/dev/null; then kill -TERM "$runner_pid"; wait "$runner_pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# Poll until the mirror equals the source minus ignored files, or give up after 10 s.
wait_synced() {
  for _ in $(seq 1 200); do
    if diff -r -x '.*.swp' -x '.*.[A-Za-z0-9][A-Za-z0-9][A-Za-z0-9][A-Za-z0-9][A-Za-z0-9][A-Za-z0-9]' \
         "$work/fpm.d" "$work/mirror" >/dev/null 2>&1; then return 0; fi
    sleep 0.05
  done
  echo "demo: the mirror did not catch up" >&2
  diff -r "$work/fpm.d" "$work/mirror" >&2 || true
  return 1
}

cp samples/local.lua "$work/"
cp -r samples/fpm.d "$work/"
export RUNNER_DEMO_TARGET="$work/mirror"
export RUNNER_PLUGIN_PATH="$root/plugins"

step "runner check: the sample pipeline is valid"
"$bin" check "$work/local.lua"

step "runner explain: which rule drops which path"
"$bin" explain "$work/local.lua" .www.conf.Xy12Zq .www.conf.swp www.conf drafts/new.conf

step "runner run --once --dry-run: what the first sync would do (nothing is written)"
"$bin" run "$work/local.lua" --once --dry-run

step "runner run: the service (log below), initial sync then watching"
"$bin" run "$work/local.lua" 2>> "$work/runner.log" &
runner_pid=$!
for _ in $(seq 1 200); do grep -q "ready" "$work/runner.log" 2>/dev/null && break; sleep 0.05; done
wait_synced
cat "$work/runner.log"; : > "$work/runner.log"

step "edit in place: sed changes APP_MODE in www.conf (sed -i writes sedXXXXXX, then renames it over)"
sed -i 's/APP_MODE] = functional/APP_MODE] = demo/' "$work/fpm.d/www.conf"
wait_synced
grep APP_MODE "$work/mirror/www.conf"

step "a vim swap file appears: ignored, never synced, no batch"
echo "swap" > "$work/fpm.d/.api.conf.swp"

step "replace by rename, as rsync does: write .api.conf.AbC123, then mv it over api.conf"
sed 's/pm.max_children = 4/pm.max_children = 8/' "$work/fpm.d/api.conf" > "$work/fpm.d/.api.conf.AbC123"
mv "$work/fpm.d/.api.conf.AbC123" "$work/fpm.d/api.conf"
wait_synced
grep max_children "$work/mirror/api.conf"

step "and the replaced file is still watched: one more in-place edit"
echo "; edited after the replace" >> "$work/fpm.d/api.conf"
wait_synced
tail -1 "$work/mirror/api.conf"

step "runner's log for these changes"
cat "$work/runner.log"

step "the mirror has no temp files"
ls -la "$work/mirror"
if [[ -e "$work/mirror/.api.conf.swp" ]]; then echo "demo: the swap file was synced" >&2; exit 1; fi

step "SIGTERM: clean stop, no staging left behind"
kill -TERM "$runner_pid"
wait "$runner_pid"; status=$?
runner_pid=""
echo "runner exited with status $status"
ls -a "$work" | grep -q runner-staging && { echo "demo: staging left behind" >&2; exit 1; }
echo "demo: done"
