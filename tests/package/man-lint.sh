#!/usr/bin/env bash
# mandoc -Tlint over the manual pages in man/. Every message fails the test except one:
# "referenced manual not found" for a page of this package, which the build host has not
# installed (mandoc looks cross-references up in /usr/share/man); such a reference must
# name a page in man/, and the install test checks that `man` finds it once installed.
# mandoc's notes about an outdated mandoc.db are about the host's database, not the pages.
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
status=0
for page in "$repo"/man/*.[1-9]; do
  out="$(mandoc -Tlint "$page" 2>&1 || true)"
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    case "$line" in
      "mandoc: outdated mandoc.db"*) continue ;;
    esac
    if [[ "$line" =~ referenced\ manual\ not\ found:\ Xr\ ([^ ]+)\ ([0-9]) ]] \
       && [ -f "$repo/man/${BASH_REMATCH[1]}.${BASH_REMATCH[2]}" ]; then
      echo "ok (a page of this package): $line"
      continue
    fi
    echo "$line"
    status=1
  done <<<"$out"
  echo "checked $(basename "$page")"
done
if [ $status -ne 0 ]; then
  echo "mandoc -Tlint: problems above" >&2
else
  echo "mandoc -Tlint: clean"
fi
exit $status
