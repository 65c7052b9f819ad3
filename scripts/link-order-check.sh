#!/usr/bin/env bash
# Whether scripts/link-order.txt still fits the release binary (make test runs it after make
# deb built one): the linker skips names that are gone, so a stale list costs memory, never
# correctness. Ordered, the receiver idles in about 1.3 MB less RSS and the sender peaks 1 MB
# lower (measured against the same build unordered). Past 10% of its names gone, the check
# fails and says how to regenerate it: make link-order.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/runner
[[ -x "$bin" ]] || { echo "link-order: no release binary, not checked"; exit 0; }
total=$(sort -u scripts/link-order.txt | wc -l)
gone=$(comm -23 <(sort -u scripts/link-order.txt) <(nm --defined-only "$bin" | awk '{ print $3 }' | sort -u) | wc -l)
since=$(git log --oneline "$(git log -1 --format=%H -- scripts/link-order.txt 2>/dev/null)..HEAD" -- Sources 2>/dev/null | wc -l)
echo "link-order: $gone of $total names gone; $since commits to Sources since it was made"
if (( gone * 10 > total )); then
  echo "link-order: more than 10% of scripts/link-order.txt is gone: run make link-order and commit it"
  exit 1
fi
