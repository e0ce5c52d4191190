#!/usr/bin/env bash
# Builds the Debian package from the working tree: copies every file git knows of
# (tracked, or new and not ignored) into a scratch directory under OUT_DIR and runs
# dpkg-buildpackage there, so the source tree stays clean. The .deb, the source package
# and the .changes are then moved into OUT_DIR, each file replaced at once, so a reader
# (or a second build running at the same time) never sees a half-written package.
# ARCH (default: this machine's) other than the build machine's cross-builds with
# Debian's cross toolchain (dpkg-buildpackage -a ARCH, binary packages only: the source
# package is the native build's); scripts/cross-deps.sh installs what that needs.
# Usage: build-deb.sh OUT_DIR [ARCH]
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
out="$(mkdir -p "$1" && cd "$1" && pwd)"
version="$(dpkg-parsechangelog -l "$repo/debian/changelog" -S Version)"
build_arch="$(dpkg --print-architecture)"
host_arch="${2:-$build_arch}"
options=(-us -uc)
if [ "$host_arch" != "$build_arch" ]; then
  options+=(-a "$host_arch" -B)
fi

scratch="$(mktemp -d "$out/.build.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
src="$scratch/worker-agent-$version"
mkdir -p "$src"
# shellcheck disable=SC2016  # the inner sh expands "$f", not this one
(cd "$repo" && git ls-files -co --exclude-standard -z \
  | xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh \
  | tar --null -T - -cf -) | tar -xf - -C "$src"

# -us -uc: nothing to sign in a local build.
(cd "$src" && DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" \
  dpkg-buildpackage "${options[@]}")

# The .changes last: it names the others.
find "$scratch" -maxdepth 1 -type f ! -name '*.changes' -exec mv -f {} "$out/" \;
find "$scratch" -maxdepth 1 -type f -name '*.changes' -exec mv -f {} "$out/" \;
ls -l "$out"/*"_$version"*
