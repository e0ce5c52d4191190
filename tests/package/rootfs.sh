#!/usr/bin/env bash
# Makes sure a local Docker image holds a Debian bookworm rootfs that boots systemd,
# built with mmdebstrap (variant minbase) from the Debian mirrors apt is configured
# with on this machine, and prints its tag. The tag carries a hash of everything that
# goes into the image (this script, the suite, the package list, the mirror lines), so
# a rerun finds it in seconds and any change to the inputs builds a new one.
# Usage: rootfs.sh [PACKAGE...]   (extra packages to include, e.g. the .deb's dependencies)
set -euo pipefail

repository=worker-agent-pkgtest-rootfs
suite=bookworm
# systemd as PID 1 and the bus systemctl talks to; curl to ask the worker for /health;
# man-db so that `systemd-analyze verify` can check the unit's Documentation= pages.
packages=(systemd systemd-sysv dbus curl man-db "$@")
mapfile -t packages < <(printf '%s\n' "${packages[@]}" | sort -u)

# The Debian archive entries apt uses here (other vendors' repositories are left out:
# the test machine reaches only Debian's mirror).
mapfile -t mirrors < <(apt-get indextargets \
    --format '$(ORIGIN)|$(TARGET_OF)|$(IDENTIFIER)|deb $(REPO_URI) $(RELEASE) $(COMPONENT)' \
  | awk -F'|' '$1 == "Debian" && $2 == "deb" && $3 == "Packages" { print $4 }' \
  | grep -E " $suite(-updates|-security)? " | sort -u)
if [ ${#mirrors[@]} -eq 0 ]; then
  echo "rootfs: apt has no Debian $suite sources configured (apt-get update?)" >&2
  exit 1
fi

key="$( { cat "$0"; echo "$suite"; printf '%s\n' "${packages[@]}" "${mirrors[@]}"; } \
  | sha256sum | cut -c1-16)"
tag="$repository:$key"

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "$tag"
  exit 0
fi

echo "rootfs: building $tag with mmdebstrap (${packages[*]})" >&2
echo "rootfs: from ${mirrors[*]}" >&2
start=$SECONDS
# Straight into the engine: mmdebstrap writes a tarball to stdout, docker import reads
# it. The image gets its real tag only once both have succeeded, so a failed build is
# never mistaken for a cached one. mmdebstrap gets a session of its own: when it fails it
# signals its whole process group, which would otherwise include whoever ran this test.
partial="$repository:partial-$$"
if ! setsid --wait mmdebstrap --variant=minbase --include="$(IFS=,; echo "${packages[*]}")" \
       "$suite" - "${mirrors[@]}" \
     | docker import --change 'CMD ["/sbin/init"]' \
         --message "worker-agent package test rootfs ($suite, minbase)" - "$partial" >/dev/null; then
  docker image rm "$partial" >/dev/null 2>&1 || true
  echo "rootfs: building the image failed" >&2
  exit 1
fi
docker tag "$partial" "$tag"
docker image rm "$partial" >/dev/null
echo "rootfs: built in $((SECONDS - start)) s" >&2

# Older rootfs images of this test are of no further use.
docker image ls --format '{{.Repository}}:{{.Tag}}' "$repository" | grep -vxF "$tag" \
  | xargs -r docker image rm >/dev/null 2>&1 || true
echo "$tag"
