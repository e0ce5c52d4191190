#!/usr/bin/env bash
# Builds the Debian package from the working tree: copies every file git knows of
# (tracked, or new and not ignored) into a scratch directory under OUT_DIR and runs
# dpkg-buildpackage there, so the source tree stays clean. The .deb, the source package
# and the .changes are then moved into OUT_DIR, each file replaced at once, so a reader
# (or a second build running at the same time) never sees a half-written package.
# ARCH (default: this machine's) other than the build machine's cross-builds with
# Debian's cross toolchain (dpkg-buildpackage -a ARCH, binary packages only: the source
# package is the native build's); scripts/cross-deps.sh installs what that needs.
# SUITE (e.g. trixie) builds for that Debian release instead of this machine's: the same
# dpkg-buildpackage runs in a container of the local Docker engine from a SUITE build
# rootfs (build-image.sh), without network, so the package depends on the library
# packages of that release.
# Usage: build-deb.sh OUT_DIR [ARCH [SUITE]]
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
out="$(mkdir -p "$1" && cd "$1" && pwd)"
version="$(dpkg-parsechangelog -l "$repo/debian/changelog" -S Version)"
build_arch="$(dpkg --print-architecture)"
host_arch="${2:-$build_arch}"
suite="${3:-}"
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
if [ -z "$suite" ]; then
  (cd "$src" && DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" \
    dpkg-buildpackage "${options[@]}")
else
  [ "$host_arch" = "$build_arch" ] || { echo "build-deb: SUITE builds are native only" >&2; exit 1; }
  image="$("$(dirname "$0")/build-image.sh" "$suite")"
  echo "build-deb: building in $image" >&2
  # The files it writes are given back to whoever runs this script.
  docker run --rm --network none -v "$scratch:/build" -w "/build/worker-agent-$version" \
    -e DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" \
    -e OWNER="$(id -u):$(id -g)" "$image" \
    sh -c 'dpkg-buildpackage "$@"; status=$?; chown -R "$OWNER" /build; exit $status' sh \
    "${options[@]}"
fi

# The .changes last: it names the others.
find "$scratch" -maxdepth 1 -type f ! -name '*.changes' -exec mv -f {} "$out/" \;
find "$scratch" -maxdepth 1 -type f -name '*.changes' -exec mv -f {} "$out/" \;
ls -l "$out"/*"_$version"*
