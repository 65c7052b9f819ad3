#!/usr/bin/env bash
# make demo: a live sync of a sample tree with the sample pipeline (samples/local.lua).
# Shows the initial sync, an in-place edit, a temp file being ignored, a file replaced
# by rename (as rsync and sed -i do), and a clean stop. Then the php-fpm case: a
# `runner serve` on 127.0.0.1 in front of a real php-fpm, a changed env value served a
# moment later, and a broken pool file rolled back with php-fpm still up. Ends by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin="$root/.build/debug/runner"
work=$(mktemp -d /tmp/runner-demo.XXXXXX)
runner_pid=""
serve_pid=""
cleanup() {
  for pid in "$runner_pid" "$serve_pid"; do
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" || true; fi
  done
  if [[ -s "$work/host/php-fpm.pid" ]]; then kill -QUIT "$(cat "$work/host/php-fpm.pid")" 2>/dev/null || true; fi
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
export XDG_STATE_HOME="$work/state"  # the demo's own state, not the machine's

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

step "the php-fpm case: a php-fpm of its own on 127.0.0.1, its pool directory served by runner serve"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
bash scripts/test-phpfpm.sh "$work/host" "$port"
fpm_request() { SCRIPT_FILENAME="$work/host/www/env.php" REQUEST_METHOD=GET cgi-fcgi -bind -connect "127.0.0.1:$port" | tail -1; }
mkdir -p "$work/pools"
cp "$work/host/pool.d/www.conf" "$work/pools/"
printf 'sync:demo-secret\n' > "$work/receiver.secrets"; chmod 600 "$work/receiver.secrets"
printf 'demo-secret\n' > "$work/sync.secret"; chmod 600 "$work/sync.secret"
cat > "$work/receiver.lua" <<LUA
local phpfpm = require "phpfpm"
settings { listen = "127.0.0.1:0" }
module "fpm" {
  path = "$work/host/pool.d", auth_users = { "sync" }, secrets = "$work/receiver.secrets",
  on_sync = { phpfpm.reload { pidfile = "$work/host/php-fpm.pid", check_address = "127.0.0.1:$port",
                              check_script = "$work/host/www/env.php", args = { "-R" } } },
}
LUA
"$bin" check "$work/receiver.lua"
"$bin" serve "$work/receiver.lua" 2>> "$work/serve.log" &
serve_pid=$!
for _ in $(seq 1 200); do grep -q "listening on" "$work/serve.log" 2>/dev/null && break; sleep 0.05; done
serve_port=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$work/serve.log" | cut -d: -f2)
cat > "$work/php.lua" <<LUA
local tempfiles = require "tempfiles"
pipeline "pools" {
  source = "$work/pools", to = "runner://127.0.0.1:$serve_port/fpm", delete = true, delay = 0.1,
  ignore = { tempfiles.all }, auth = { user = "sync", secret_file = "$work/sync.secret" },
}
LUA
: > "$work/runner.log"
"$bin" run "$work/php.lua" 2>> "$work/runner.log" &
runner_pid=$!
for _ in $(seq 1 200); do grep -q "ready" "$work/runner.log" 2>/dev/null && break; sleep 0.05; done
echo "php-fpm serves APP_MODE = $(fpm_request)"

step "change env[APP_MODE] on the source: synced, validated (php-fpm -t), one reload, verified"
: > "$work/runner.log"
sed -i 's/APP_MODE] = initial/APP_MODE] = demo/' "$work/pools/www.conf"
for _ in $(seq 1 200); do [[ "$(fpm_request)" == "demo" ]] && break; sleep 0.05; done
echo "php-fpm serves APP_MODE = $(fpm_request)"
cat "$work/runner.log"
[[ "$(fpm_request)" == "demo" ]] || { echo "demo: php-fpm does not serve the new value" >&2; exit 1; }

step "push a broken pool file: php-fpm -t refuses it, the batch is rolled back, php-fpm stays up"
master=$(cat "$work/host/php-fpm.pid")
: > "$work/runner.log"
echo 'env[BROKEN = x' >> "$work/pools/www.conf"
for _ in $(seq 1 200); do grep -q "rolled back" "$work/runner.log" && break; sleep 0.05; done
cat "$work/runner.log"
grep -q "rolled back" "$work/runner.log" || { echo "demo: the broken file was not rolled back" >&2; exit 1; }
echo "on the receiver, www.conf still ends with: $(tail -1 "$work/host/pool.d/www.conf")"
echo "php-fpm master $master alive: $(kill -0 "$master" && echo yes), serving APP_MODE = $(fpm_request)"
echo "demo: done"
