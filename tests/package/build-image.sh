#!/usr/bin/env bash
# Makes sure a local Docker image holds a Debian SUITE rootfs that can build the package:
# build-essential, dpkg-dev and debian/control's Build-Depends, built with mmdebstrap
# from the Debian mirrors apt uses here (scripts/debian-rootfs.sh), and prints its tag.
# The tag carries a hash of its inputs (this script, the suite, debian/control, the
# mirror lines): a rerun finds it at once, a change builds a new one.
# Usage: build-image.sh SUITE   (trixie, ...)
set -euo pipefail
# shellcheck source=scripts/debian-rootfs.sh
source "$(dirname "$0")/../../scripts/debian-rootfs.sh"

repo="$(cd "$(dirname "$0")/../.." && pwd)"
suite="$1"
repository="worker-agent-build-$suite"

# Build-Depends' package names, versions and alternatives dropped; debhelper-compat is
# debhelper's virtual package, which mmdebstrap cannot pick by itself.
mapfile -t packages < <( {
  echo build-essential
  echo dpkg-dev
  sed -n '/^Build-Depends:/,/^[A-Z]/p' "$repo/debian/control" | sed '$d' \
    | sed 's/^Build-Depends://' | tr ',' '\n' | sed -E 's/^ *([^ |(]+).*/\1/' | grep -v '^$'
} | sed 's/^debhelper-compat$/debhelper/' | sort -u)

mapfile -t mirrors < <(debian_mirrors "$suite")
key="$( { cat "$0" "$debian_rootfs_lib" "$repo/debian/control"; echo "$suite"
        printf '%s\n' "${mirrors[@]}"; } | sha256sum | cut -c1-16)"
tag="$repository:$key"
if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "$tag"
  exit 0
fi
echo "build-image: building $tag with mmdebstrap (${packages[*]})" >&2
start=$SECONDS
if ! debian_rootfs_import "$tag" --message "worker-agent package build rootfs ($suite)" -- \
       --variant=minbase --include="$(IFS=,; echo "${packages[*]}")" "$suite" - "${mirrors[@]}"; then
  echo "build-image: building the image failed" >&2
  exit 1
fi
echo "build-image: built in $((SECONDS - start)) s" >&2
docker image ls --format '{{.Repository}}:{{.Tag}}' "$repository" | grep -vxF "$tag" \
  | xargs -r docker image rm >/dev/null 2>&1 || true
echo "$tag"
