#!/usr/bin/env bash
# Regenerates scripts/link-order.txt: every function runner executes on its common paths
# (check, serve and a forked session, run --once with deltas, a live run), as callgrind
# records them. `make release` hands the list to lld, which lays those functions side by
# side: the pages a process touches shrink from scattered pieces of 12 MB of code to a
# few MB, and with them every process's RSS. Names that no longer exist are skipped by
# the linker, so a stale list costs only memory, never correctness.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.build/release/runner"
[[ -x "$bin" ]] || { echo "link-order: build first: swift build -c release --static-swift-stdlib --product runner" >&2; exit 1; }
command -v valgrind >/dev/null || apt-get install -y -qq valgrind
work=$(mktemp -d /tmp/runner-link-order.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
# valgrind 3.19 cannot read the DWARF 5 debug info Swift emits; symbols are enough.
strip -g -o "$work/runner" "$bin"
vg=(valgrind --tool=callgrind --demangle=no "--callgrind-out-file=$work/cg.%p")
once=(valgrind --tool=callgrind --demangle=no "--callgrind-out-file=$work/once.%p")
export RUNNER_PLUGIN_PATH="$root/plugins"
export XDG_STATE_HOME="$work/state"  # its own state, not the machine's

mkdir -p "$work/src/sub" "$work/module" "$work/dst"
printf '[www]\nenv[APP_MODE] = one\n' > "$work/src/www.conf"
head -c 300000 /dev/urandom > "$work/src/sub/big.bin"
ln -s www.conf "$work/src/link"
printf 'u:secret\n' > "$work/secrets"; chmod 600 "$work/secrets"
printf 'secret\n' > "$work/u.secret"; chmod 600 "$work/u.secret"
cat > "$work/receiver.lua" <<EOF
settings { listen = "127.0.0.1:0" }
module "m" { path = "$work/module", auth_users = { "u" }, secrets = "$work/secrets" }
EOF
wait_for() { for _ in $(seq 600); do grep -q "$1" "$2" 2>/dev/null && return 0; sleep 0.1; done; echo "link-order: no '$1' in $2" >&2; exit 1; }

"${vg[@]}" "$work/runner" serve "$work/receiver.lua" 2> "$work/serve.log" &
serve=$!
wait_for "listening on" "$work/serve.log"
# What a process runs once it is up (it gives its start-up pages back then: CodePages) goes
# first in the list, so that the pages it keeps are few and full: each long-lived process's
# start-up is dumped apart (cg.PID.1) and the rest of its run, and its sessions', is steady.
callgrind_control --dump=startup "$serve" >/dev/null 2>&1
port=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$work/serve.log" | cut -d: -f2)
cat > "$work/p.lua" <<EOF
local tempfiles = require "tempfiles"
pipeline "remote" { source = "$work/src", to = "runner://127.0.0.1:$port/m", delete = true, delay = 0,
  ignore = { tempfiles.all }, auth = { user = "u", secret_file = "$work/u.secret" } }
pipeline "local" { source = "$work/src", to = "file://$work/dst", delete = true, delay = 0 }
EOF
"${once[@]}" "$work/runner" check "$work/p.lua" >/dev/null
"${once[@]}" "$work/runner" explain "$work/p.lua" .www.conf.swp >/dev/null
"${once[@]}" "$work/runner" run "$work/p.lua" --once 2>/dev/null
printf 'tail\n' >> "$work/src/sub/big.bin"; sed -i 's/one/two/' "$work/src/www.conf"; rm "$work/src/link"
"${once[@]}" "$work/runner" run "$work/p.lua" --once 2>/dev/null
"${vg[@]}" "$work/runner" run "$work/p.lua" 2> "$work/run.log" &
live=$!
wait_for "ready" "$work/run.log"
callgrind_control --dump=startup "$live" >/dev/null 2>&1
printf 'new\n' > "$work/src/new.conf"; printf 'x' > "$work/src/.new.conf.swp"; mv "$work/src/new.conf" "$work/src/moved.conf"
for _ in $(seq 600); do [[ -e "$work/module/moved.conf" ]] && break; sleep 0.1; done
[[ -e "$work/module/moved.conf" && -e "$work/module/sub/big.bin" ]] || { echo "link-order: the live sync did not arrive" >&2; exit 1; }
kill -TERM "$live"; wait "$live" || true
kill -TERM %1; wait %1 || true

# Function names callgrind saw (fn= and cfn= lines), kept if the binary defines them.
nm --defined-only "$work/runner" | awk '$2 ~ /^[tTwW]$/ { print $3 }' | sort -u > "$work/defined"
names() { sed -n 's/^c\{0,1\}fn=([0-9]*) \(.*\)$/\1/p' "$@" | sort -u; }
names $(ls "$work"/cg.* | grep -v -e "/cg\.$serve\.1$" -e "/cg\.$live\.1$") > "$work/steady"
names "$work"/cg.* "$work"/once.* > "$work/seen"
# Prebuilt libraries (the Swift runtime's, Foundation's) keep a file's internal functions in
# one section: the linker moves it whole, so one listed function would pull a megabyte of
# others between the hot ones. Those functions are left out; the rest of a library's
# functions stand alone (make release compiles ours and the packages' with function sections).
make -s -C "$root" release-binary BUILD_FLAGS="-Xlinker -Map=$work/runner.map" >/dev/null
awk '$5 ~ /:\(/ { section = $5; next } NF == 5 && $4 == 1 && section ~ /:\(\.text\)$/ { print $5 }' \
  "$work/runner.map" | sort -u > "$work/unmovable"
comm -12 "$work/defined" "$work/steady" | comm -23 - "$work/unmovable" > "$root/scripts/link-order.txt"
comm -12 "$work/defined" "$work/seen" | comm -23 - "$work/steady" | comm -23 - "$work/unmovable" \
  >> "$root/scripts/link-order.txt"
echo "link-order: $(ls "$work"/cg.* "$work"/once.* | wc -l) profiles, $(wc -l < "$work/steady") functions run once up"
echo "link-order: $(wc -l < "$root/scripts/link-order.txt") functions -> scripts/link-order.txt"
