#!/usr/bin/env bash
# Starts a throwaway sshd on 127.0.0.1 for the ssh:// tests, with its own host key,
# client key and config in DIR, and prints the port. Stop it with: kill $(cat DIR/sshd.pid)
#   scripts/test-sshd.sh DIR [PORT]     (PORT: start on that port, e.g. to restart it)
set -euo pipefail
dir=$1
wanted=${2:-}
mkdir -p "$dir" /run/sshd
chmod 700 "$dir"
[[ -f "$dir/host_key" ]] || ssh-keygen -q -t ed25519 -N '' -f "$dir/host_key"
[[ -f "$dir/client_key" ]] || ssh-keygen -q -t ed25519 -N '' -f "$dir/client_key"
cp "$dir/client_key.pub" "$dir/authorized_keys"
chmod 600 "$dir/authorized_keys"

for attempt in $(seq 1 20); do
  port=${wanted:-$((20000 + RANDOM % 20000))}
  cat > "$dir/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $port
HostKey $dir/host_key
AuthorizedKeysFile $dir/authorized_keys
PidFile $dir/sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AcceptEnv RUNNER_*
CONF
  rm -f "$dir/sshd.pid"
  /usr/sbin/sshd -f "$dir/sshd_config" -E "$dir/sshd.log" || continue
  # sshd forks into the background once it listens; a taken port makes it exit.
  for _ in $(seq 1 50); do
    if [[ -s "$dir/sshd.pid" ]] && kill -0 "$(cat "$dir/sshd.pid")" 2>/dev/null; then
      echo "$port"
      exit 0
    fi
    sleep 0.05
  done
done
echo "test-sshd: could not start sshd (see $dir/sshd.log)" >&2
exit 1
