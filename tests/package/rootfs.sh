#!/usr/bin/env bash
# Makes sure a local Docker image holds a Debian rootfs (bookworm, or ROOTFS_SUITE: trixie)
# that boots systemd, built with mmdebstrap (variant minbase) from the Debian mirrors apt
# is configured with on this machine, and prints its tag. The tag carries a hash of everything that
# goes into the image (this script, the suite, the package list, the mirror lines), so
# a rerun finds it in seconds and any change to the inputs builds a new one.
# Usage: rootfs.sh [PACKAGE...]   (extra packages to include, e.g. the .deb's dependencies)
set -euo pipefail
# shellcheck source=scripts/debian-rootfs.sh
source "$(dirname "$0")/../../scripts/debian-rootfs.sh"

suite="${ROOTFS_SUITE:-bookworm}"
# One repository per suite: each keeps only its newest image (below).
repository=worker-agent-pkgtest-rootfs
[ "$suite" = bookworm ] || repository="$repository-$suite"
# systemd as PID 1 and the bus systemctl talks to; curl to ask the worker for /health;
# man-db so that `systemd-analyze verify` can check the unit's Documentation= pages;
# openssl for the token docs/OPERATIONS.md makes.
packages=(systemd systemd-sysv dbus curl man-db openssl "$@")
mapfile -t packages < <(printf '%s\n' "${packages[@]}" | sort -u)

mapfile -t mirrors < <(debian_mirrors "$suite")
[ ${#mirrors[@]} -gt 0 ] || { echo "rootfs: no Debian mirror to build from" >&2; exit 1; }

key="$( { cat "$0" "$debian_rootfs_lib"; echo "$suite"
        printf '%s\n' "${packages[@]}" "${mirrors[@]}"; } \
  | sha256sum | cut -c1-16)"
tag="$repository:$key"

debian_rootfs_lock "$repository"
if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "$tag"
  exit 0
fi

echo "rootfs: building $tag with mmdebstrap (${packages[*]})" >&2
echo "rootfs: from ${mirrors[*]}" >&2
start=$SECONDS
if ! debian_rootfs_import "$tag" --change 'CMD ["/sbin/init"]' \
       --message "worker-agent package test rootfs ($suite, minbase)" -- --variant=minbase \
       --include="$(IFS=,; echo "${packages[*]}")" "$suite" - "${mirrors[@]}"; then
  echo "rootfs: building the image failed" >&2
  exit 1
fi
echo "rootfs: built in $((SECONDS - start)) s" >&2

# Older rootfs images of this test are of no further use.
docker image ls --format '{{.Repository}}:{{.Tag}}' "$repository" | grep -vxF "$tag" \
  | xargs -r docker image rm >/dev/null 2>&1 || true
echo "$tag"
