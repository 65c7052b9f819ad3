#!/usr/bin/env bash
# make demo: a live sync of a sample tree with the sample pipeline (samples/local.lua).
# Shows the initial sync, an in-place edit, a temp file being ignored, a file replaced
# by rename (as rsync and sed -i do), and a clean stop. Then the php-fpm case: a
# `runner serve` on 127.0.0.1 in front of a real php-fpm, a changed env value served a
# moment later, and a broken pool file rolled back with php-fpm still up. Then the fleet
# (samples/php_env.lua): two groups of two php-fpm hosts with their own values in the
# same pool file, and a broken pool file stopped at each group's canary while every host
# goes on serving. Ends by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin="$root/.build/debug/runner"
work=$(mktemp -d /tmp/runner-demo.XXXXXX)
runner_pid=""
serve_pid=""
fleet_pid=""
fleet_serve_pid=""
cleanup() {
  for pid in "$runner_pid" "$serve_pid" "$fleet_pid" "$fleet_serve_pid"; do
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" || true; fi
  done
  for pidfile in "$work"/host/php-fpm.pid "$work"/fleet/*/php-fpm.pid; do
    if [[ -s "$pidfile" ]]; then kill -QUIT "$(cat "$pidfile")" 2>/dev/null || true; fi
  done
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

# The samples as they are, but for where they push: the demo's own directories and ports.
sed "s|/tmp/runner-demo/fpm.d|$work/mirror|" samples/local.lua > "$work/local.lua"
cp -r samples/fpm.d "$work/"
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
kill -TERM "$runner_pid"; wait "$runner_pid" || true; runner_pid=""

step "the fleet (samples/php_env.lua): two groups of two php-fpm hosts, one pool template, each group's values"
hosts=(F1 F2 R1 R2)
receiver="settings { listen = \"127.0.0.1:0\" }"$'\n'"local phpfpm = require \"phpfpm\""$'\n'
declare -A fpm_port
for h in "${hosts[@]}"; do
  fpm_port[$h]=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  bash scripts/test-phpfpm.sh "$work/fleet/$h" "${fpm_port[$h]}" > /dev/null
  receiver+="module \"$h\" { path = \"$work/fleet/$h/pool.d\", on_sync = { phpfpm.reload { pidfile = \"$work/fleet/$h/php-fpm.pid\","
  receiver+=" check_address = \"127.0.0.1:${fpm_port[$h]}\", check_script = \"$work/fleet/$h/www/env.php\", args = { \"-R\" } } } }"$'\n'
done
printf '%s' "$receiver" > "$work/fleet.lua"
"$bin" serve "$work/fleet.lua" 2>> "$work/fleet-serve.log" &
fleet_serve_pid=$!
for _ in $(seq 1 200); do grep -q "listening on" "$work/fleet-serve.log" 2>/dev/null && break; sleep 0.05; done
fleet_port=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$work/fleet-serve.log" | cut -d: -f2)
status_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
status_address="127.0.0.1:$status_port"
edits=(-e "s|status = \"127.0.0.1:9873\"|status = \"$status_address\"|")
for h in "${hosts[@]}"; do
  lower=$(tr 'A-Z' 'a-z' <<< "$h")
  edits+=(-e "s|runner://web-$lower.example:8730/fpm|runner://127.0.0.1:$fleet_port/$h|g"
          -e "s|\(/$h\" { vars = { PORT = \)[0-9]*|\1${fpm_port[$h]}|")
done
sed "${edits[@]}" samples/php_env.lua > "$work/php_env.lua"
cp -r samples/php_env "$work/"
export XDG_STATE_HOME="$work/fleet-state"  # its revision log and rollout, apart from the first pipelines
serves() { SCRIPT_FILENAME="$work/fleet/$1/www/env.php" REQUEST_METHOD=GET cgi-fcgi -bind -connect "127.0.0.1:${fpm_port[$1]}" | tail -1; }
show_fleet() { for h in "${hosts[@]}"; do echo "  $h serves APP_MODE = $(serves "$h")"; done; }
"$bin" render "$work/php_env.lua" www.conf --group regression | grep APP_MODE
: > "$work/fleet.log"
"$bin" run "$work/php_env.lua" 2>> "$work/fleet.log" &
fleet_pid=$!
for _ in $(seq 1 400); do
  [[ "$(serves F1)$(serves F2)$(serves R1)$(serves R2)" == "functionalfunctionalregressionregression" ]] && break; sleep 0.05
done
show_fleet
grep -E "canary|applied" "$work/fleet.log" | sed 's/^/  /'
[[ "$(serves F2)$(serves R2)" == "functionalregression" ]] || { echo "demo: the fleet did not get its values" >&2; exit 1; }

step "push a broken pool file: each group's canary refuses it (php-fpm -t); the rest of each group never sees it"
: > "$work/fleet.log"
echo 'env[BROKEN = x' >> "$work/php_env/www.conf"
for _ in $(seq 1 400); do [[ $(grep -c "held: canary" "$work/fleet.log") -ge 2 ]] && break; sleep 0.05; done
grep -E "held|rolled back" "$work/fleet.log" | sed 's/^/  /'
[[ $(grep -c "held: canary" "$work/fleet.log") -ge 2 ]] || { echo "demo: the canaries did not hold the batch" >&2; exit 1; }
show_fleet
grep -q BROKEN "$work/fleet/F2/pool.d/www.conf" "$work/fleet/R2/pool.d/www.conf" && { echo "demo: a non-canary host got the broken file" >&2; exit 1; }
echo "  F2 and R2 never received it: $(grep -c BROKEN "$work/fleet/F2/pool.d/www.conf" || true) broken lines there"

step "the fix: it goes to each canary first, then to the rest"
: > "$work/fleet.log"
sed -i '/BROKEN/d; s/^env\[DB\] = {{ DB }}$/env[DB] = {{ DB }}\nenv[FIXED] = yes/' "$work/php_env/www.conf"
for _ in $(seq 1 400); do
  [[ $(grep -l "FIXED" "$work"/fleet/*/pool.d/www.conf 2>/dev/null | wc -l) -eq 4 && $(grep -c ": applied" "$work/fleet.log") -ge 4 ]] && break
  sleep 0.05
done
grep -E "canary|applied" "$work/fleet.log" | sed 's/^/  /'
show_fleet
[[ $(grep -l "FIXED" "$work"/fleet/*/pool.d/www.conf | wc -l) -eq 4 ]] || { echo "demo: the fix did not reach every host" >&2; exit 1; }
step "look back: runner log (who cut each revision, what changed, each group's verdict)"
"$bin" log "$work/php_env.lua" -n 3 | sed 's/^/  /'

step "go back: runner rollback --group functional --last (its diff first, then through the canary)"
: > "$work/fleet.log"
"$bin" rollback "$work/php_env.lua" --group functional --last --dry-run | sed 's/^/  /'
"$bin" rollback "$work/php_env.lua" --group functional --last | sed 's/^/  /'
for _ in $(seq 1 400); do
  [[ $(grep -l FIXED "$work"/fleet/F*/pool.d/www.conf | wc -l) -eq 0 && $(grep -c ": applied" "$work/fleet.log") -ge 2 ]] && break
  sleep 0.05
done
grep -E "rolled back to|canary|applied" "$work/fleet.log" | sed 's/^/  /'
[[ $(grep -l FIXED "$work"/fleet/F*/pool.d/www.conf | wc -l) -eq 0 && $(grep -l FIXED "$work"/fleet/R*/pool.d/www.conf | wc -l) -eq 2 ]] \
  || { echo "demo: the rollback did not give functional its earlier pool (and regression kept its own)" >&2; exit 1; }
echo "  functional is back to the pool before the fix; regression keeps the fix"

step "hold: regression now waits for runner approve (approve = { \"regression\" }, reloaded with SIGHUP)"
: > "$work/fleet.log"
sed -i 's/^  rollout = "canary",$/  rollout = "canary",\n  approve = { "regression" },/' "$work/php_env.lua"
kill -HUP "$fleet_pid"
for _ in $(seq 1 400); do grep -q "reloaded" "$work/fleet.log" && break; sleep 0.05; done
sed -i 's/^env\[FIXED\] = yes$/env[FIXED] = approved/' "$work/php_env/www.conf"
for _ in $(seq 1 400); do
  grep -q "group regression: revision [0-9]* waits for approval" "$work/fleet.log" \
    && [[ $(grep -l "FIXED. = approved" "$work"/fleet/F*/pool.d/www.conf | wc -l) -eq 2 ]] && break
  sleep 0.05
done
grep -E "waits for approval|applied" "$work/fleet.log" | sed 's/^/  /'
[[ $(grep -l "FIXED. = approved" "$work"/fleet/R*/pool.d/www.conf | wc -l) -eq 0 ]] \
  || { echo "demo: regression got a revision nobody approved" >&2; exit 1; }
: > "$work/fleet.log"
"$bin" approve "$work/php_env.lua" --group regression | sed 's/^/  /'
for _ in $(seq 1 400); do [[ $(grep -l "FIXED. = approved" "$work"/fleet/*/pool.d/www.conf | wc -l) -eq 4 ]] && break; sleep 0.05; done
[[ $(grep -l "FIXED. = approved" "$work"/fleet/*/pool.d/www.conf | wc -l) -eq 4 ]] || { echo "demo: the approval did not reach regression" >&2; exit 1; }
for _ in $(seq 1 400); do [[ $(grep -c ": applied.*/R[12] " "$work/fleet.log") -ge 2 ]] && break; sleep 0.05; done
grep -E "approved by|applied" "$work/fleet.log" | sed 's/^/  /'
show_fleet

step "what ops see: runner status (exit 0: every host current), and the page"
"$bin" status "$work/php_env.lua" | sed 's/^/  /'
"$bin" status "$work/php_env.lua" > /dev/null || { echo "demo: runner status says a host is not current" >&2; exit 1; }
echo "  the page, while runner runs: http://$status_address/  (and /status, /metrics, /healthz)"
echo "demo: done"
