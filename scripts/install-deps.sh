#!/usr/bin/env bash
# Installs exactly what runner's build, tests and demo need, skipping what is present.
# Idempotent: safe to run on every `make demo` / `make test` / CI run.
set -euo pipefail

packages=(
  liblua5.4-dev   # CLua: the Lua 5.4 the bridge embeds
  libxxhash-dev   # CXXHash: xxh3-128 strong sums
  libzstd-dev     # CZstd: literal compression in deltas
  pkg-config      # SwiftPM finds lua5.4 through it
  rsync           # torture tests use real rsync as a writer
  git             # torture tests: git checkout in the source
  vim-tiny        # torture tests: a real vim save
  openssh-server  # ssh:// tests: a real sshd on a loopback port
  openssh-client  # ssh:// targets run the system ssh
  python3         # a test's gated receiver wrapper (passes the first bytes at once)
  php-fpm         # post-sync action tests and the demo: a real php-fpm to validate and reload
  libfcgi-bin     # cgi-fcgi: the tests' own FastCGI client, independent of runner's
  iproute2        # ip netns: a receiver in a network namespace of its own, cut off and healed
  nftables        # nft: a dial-in receiver's namespace drops every inbound connection
  patch           # --dry-run diffs are checked by applying them with the real patch
  prometheus      # promtool check metrics: /metrics is checked by Prometheus's own tool
  chromium-headless-shell # the status page, rendered by a real browser (--dump-dom)
  systemd         # systemd-analyze verify: the units in dist/systemd
  debhelper       # make deb (and make test, which builds the package and installs it)
  help2man        # the package's manual page, from runner --help
  lintian         # make deb checks the package
  etcd-server     # two senders: the leader lease and the revision log in a real etcd cluster
  etcd-client     # etcdctl: the tests see when a test cluster has a leader
)
# `make bench` also needs the peers it is measured against.
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(
    inotify-tools # inotifywait: the watcher baseline
    rdiff         # librsync's CLI: the delta baseline
    xxhash        # xxhsum -H3: the hashing reference
    time          # GNU time: peak RSS of each tool
    lsyncd        # the end-to-end baseline (with rsync's daemon)
    xfsprogs      # mkfs.xfs: a loop-mounted xfs image, where the receiver patches reflink clones
  )
fi

# From PyPI: ansible-core, whose ansible-playbook templates files into a watched source (a
# slow writer, for the burst-aware cut's test).
if ! command -v ansible-playbook >/dev/null 2>&1; then
  echo "install-deps: installing ansible-core from PyPI"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore 'ansible-core>=2.19,<2.20'
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all present (${packages[*]})"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# apt-get update only when the package lists do not know a missing package yet (apt-cache
# show can succeed on a stale cache, so a failed install also updates and tries once more).
if ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then
  $SUDO apt-get update -qq
fi
if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
