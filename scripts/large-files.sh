#!/usr/bin/env bash
# Fails on a tracked file over 1 MB outside the allowed paths: bench output and generated
# data stay out of the repository (the seeds of Fuzz/corpus are inputs too large on purpose).
set -uo pipefail
cd "$(dirname "$0")/.."
git rev-parse --git-dir >/dev/null 2>&1 || { echo "large-files: not a git checkout, skipped"; exit 0; }
allowed='^Fuzz/corpus/'
found=0
while IFS= read -r -d '' path; do
  [[ -f "$path" ]] || continue
  size=$(stat -c %s -- "$path")
  if (( size > 1000000 )) && ! [[ "$path" =~ $allowed ]]; then
    echo "tracked file over 1 MB: $path ($size bytes); keep it out of git, or allow its path in $0"
    found=1
  fi
done < <(git ls-files -z)
exit $found
