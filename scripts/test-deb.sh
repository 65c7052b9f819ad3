#!/usr/bin/env bash
# Installs a runner .deb into a scratch root, checks what it laid out, purges it, and
# checks that nothing is left outside /var/lib/runner (and dpkg's own records). The scratch
# root is an overlay over / with its upper layer on a tmpfs, in a mount namespace of its
# own: the real system is never written, and the upper layer is exactly what the package
# changed. Usage: scripts/test-deb.sh PATH.deb (as root). Prints "deb: ok" last on success.
set -euo pipefail
deb=$(realpath "$1")
work=$(mktemp -d /tmp/runner-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/layers" "$work/root"
unshare --mount --propagation private bash -s "$deb" "$work" <<'NAMESPACE'
set -euo pipefail
deb=$1 work=$2 root=$2/root
mount -t tmpfs tmpfs "$work/layers"
mkdir -p "$work/layers/upper" "$work/layers/work"
mount -t overlay overlay -o "lowerdir=/,upperdir=$work/layers/upper,workdir=$work/layers/work" "$root"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount -t tmpfs tmpfs "$root/run"
mount -t tmpfs tmpfs "$root/tmp"
cp "$deb" "$root/tmp/runner.deb"
chroot "$root" /bin/bash -s <<'CHROOT'
set -euo pipefail
bad=0
fail() { echo "deb: $*"; bad=1; }
dpkg -i /tmp/runner.deb >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 1; }
expect() {  # path, "mode owner:group"
  local got; got=$(stat -c '%a %U:%G' "$1" 2>/dev/null || echo missing)
  [[ "$got" == "$2" ]] || fail "$1 is '$got', not '$2'"
}
expect /usr/bin/runner "755 root:root"
expect /etc/runner "755 root:root"
expect /var/lib/runner "700 root:root"
expect /lib/systemd/system/runner@.service "644 root:root"
expect /lib/systemd/system/runner-serve@.service "644 root:root"
expect /usr/share/runner/plugins/tempfiles.lua "644 root:root"
expect /usr/share/runner/plugins/phpfpm.lua "644 root:root"
expect /usr/share/doc/runner/examples/php_env.lua "644 root:root"
expect /usr/share/man/man1/runner.1.gz "644 root:root"
expect /usr/share/bash-completion/completions/runner "644 root:root"
expect /usr/share/zsh/vendor-completions/_runner "644 root:root"
expect /usr/share/fish/vendor_completions.d/runner.fish "644 root:root"
# Every path the package owns: root's, directories 755, the binary 755, everything else 644.
while IFS= read -r path; do
  [[ "$path" == "/." ]] && continue
  got=$(stat -c '%a %U:%G %F' "$path")
  case "$got" in
    "755 root:root directory") ;;
    "755 root:root regular file") [[ "$path" == /usr/bin/runner ]] || fail "$path is executable" ;;
    "644 root:root regular file") ;;
    "777 root:root symbolic link") [[ "$path" == /lib ]] || fail "$path is a symlink" ;;  # merged /usr
    *) fail "$path is '$got'" ;;
  esac
done < <(dpkg -L runner)
[[ -z "$(ls -A /etc/runner)" ]] || fail "/etc/runner is not empty"
getent passwd runner | grep -q ":/var/lib/runner:" || fail "no runner system user"
grep -q '^ConditionPathExists=/etc/runner/%i.lua$' /lib/systemd/system/runner@.service || fail "no condition on the script"
grep -q '^ExecStart=/usr/bin/runner run ' /lib/systemd/system/runner@.service || fail "the unit does not run /usr/bin/runner"
[[ "$(/usr/bin/runner --version)" == "$(dpkg-query -W -f='${Version}' runner)" ]] || fail "runner --version is not the package's"
# The installed plugins are found beside the binary, with no RUNNER_PLUGIN_PATH, and when a
# shell found runner on PATH (argv[0] is then only "runner").
printf 'local t = require "tempfiles"\npipeline "p" { source = "/tmp", ignore = { t.all }, to = "file:///srv/x" }\n' > /tmp/p.lua
(cd / && env -u RUNNER_PLUGIN_PATH PATH=/usr/bin:/bin runner check /tmp/p.lua >/dev/null) || fail "runner check of a script using a plugin"
out=$(cd /lib/systemd/system && systemd-analyze verify runner@.service runner-serve@.service 2>&1) || true
[[ -z "$out" ]] || fail "systemd-analyze verify: $out"
dpkg --purge runner >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 1; }
[[ ! -e /usr/bin/runner && ! -e /etc/runner && ! -e /lib/systemd/system/runner@.service ]] || fail "purge left files"
exit $bad
CHROOT
# What the package changed and left: dpkg's records, the system user (Debian keeps users),
# /var/lib/runner, the man-db cache. Anything else is left behind.
left=$(cd "$work/layers/upper" && find . -mindepth 1 \( -type f -o -type l -o -type c \) \
  | grep -vE '^\./(var/lib/dpkg/|var/log/(dpkg|apt/)|var/lib/runner(/|$)|var/cache/man/|etc/(passwd|group|shadow|gshadow|subuid|subgid)-?$|etc/\.pwd\.lock$|tmp/|root/\.)' || true)
[[ -z "$left" ]] || { echo "deb: left after purge:"; echo "$left"; exit 1; }
NAMESPACE
echo "deb: ok"
