#!/usr/bin/env bash
# Builds the Debian package from the working tree: copies every file git knows of
# (tracked, or new and not ignored) into OUT_DIR/worker-agent-VERSION and runs
# dpkg-buildpackage there, so the source tree stays clean. Leaves the .deb, the
# source package and the .changes in OUT_DIR. Usage: build-deb.sh OUT_DIR
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
out="$(mkdir -p "$1" && cd "$1" && pwd)"
version="$(dpkg-parsechangelog -l "$repo/debian/changelog" -S Version)"
src="$out/worker-agent-$version"

rm -rf "$src" "$out"/worker-agent_"$version"*
mkdir -p "$src"
(cd "$repo" && git ls-files -co --exclude-standard -z \
  | xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh \
  | tar --null -T - -cf -) | tar -xf - -C "$src"

cd "$src"
# -us -uc: nothing to sign in a local build.
DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" dpkg-buildpackage -us -uc
rm -rf "$src"
ls -l "$out"/worker-agent_"$version"*
