#!/usr/bin/env bash
# Makes sure the local base image of the worker's container image exists, and prints its
# tag: a Debian bookworm "slim" rootfs (mmdebstrap --variant=minbase, with documentation,
# manual pages and locales left out the way Debian's official slim images leave them out)
# plus the runtime libraries named on the command line, imported into the engine with
# `docker import`. No registry is involved: the packages come from the Debian mirrors apt is
# configured with here. The image carries a hash of everything that goes into it (this
# script, the suite, the package list, the mirror lines) as a label; a rerun with the same
# inputs finds it in a second, a change rebuilds it.
# Usage: image-base.sh [PACKAGE...]     (BASE_TAG overrides the tag)
set -euo pipefail
# shellcheck source=scripts/debian-rootfs.sh
source "$(dirname "$0")/debian-rootfs.sh"

tag="${BASE_TAG:-worker-agent-base:bookworm-slim}"
suite=bookworm
label=org.worker-agent.base-inputs
mapfile -t packages < <(printf '%s\n' "$@" | grep -v '^$' | sort -u)

# The dpkg filters of Debian's own slim images (debuerreotype's --slimify): only the
# copyright files are kept of /usr/share/doc. mmdebstrap writes them to
# /etc/dpkg/dpkg.cfg.d/99mmdebstrap in the image, so a later dpkg -i honours them too.
excludes=(
  'path-exclude=/usr/share/doc/*' 'path-include=/usr/share/doc/*/copyright'
  'path-exclude=/usr/share/man/*' 'path-exclude=/usr/share/info/*'
  'path-exclude=/usr/share/groff/*' 'path-exclude=/usr/share/lintian/*'
  'path-exclude=/usr/share/linda/*' 'path-exclude=/usr/share/locale/*'
)

mapfile -t mirrors < <(debian_mirrors "$suite")
[ ${#mirrors[@]} -gt 0 ] || { echo "image-base: no Debian mirror to build from" >&2; exit 1; }

key="$( { cat "$0" "$debian_rootfs_lib"; echo "$suite"
        printf '%s\n' "${packages[@]}" "${excludes[@]}" "${mirrors[@]}"; } \
  | sha256sum | cut -c1-16)"
debian_rootfs_lock "${tag%%:*}"
have="$(docker image inspect -f "{{index .Config.Labels \"$label\"}}" "$tag" 2>/dev/null || true)"
if [ "$have" = "$key" ]; then
  echo "$tag"
  exit 0
fi
old_id="$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)"

echo "image-base: building $tag with mmdebstrap (minbase + ${packages[*]:-nothing})" >&2
start=$SECONDS
dpkgopts=()
for e in "${excludes[@]}"; do dpkgopts+=(--dpkgopt="$e"); done
include=()
[ ${#packages[@]} -eq 0 ] || include=(--include="$(IFS=,; echo "${packages[*]}")")
# The filters apply to what dpkg installs; the Essential packages mmdebstrap unpacks first
# keep their files, so the hooks remove those (as debuerreotype does), and apt's and
# ldconfig's caches. The merged-usr hook makes /bin, /lib, /sbin symlinks as debootstrap
# does and installs usr-is-merged; otherwise bookworm's init-system-helpers pulls in
# usrmerge, and with it perl and 45 MB.
# shellcheck disable=SC2016  # "$1" is the hook's argument (the rootfs), for mmdebstrap's shell
if ! debian_rootfs_import "$tag" --change 'CMD ["/bin/bash"]' --change "LABEL $label=$key" \
       --message "worker-agent image base ($suite, minbase, slim)" -- --quiet --variant=minbase "${dpkgopts[@]}" "${include[@]}" \
       --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
       --customize-hook='cd "$1"/usr/share && rm -rf man/* info/* locale/* groff/* lintian/* linda/*' \
       --customize-hook='find "$1"/usr/share/doc -xdev -not -name copyright -not -type d -delete' \
       --customize-hook='find "$1"/usr/share/doc -mindepth 1 -type d -empty -delete' \
       --customize-hook='rm -rf "$1"/var/cache/apt/*.bin "$1"/var/cache/ldconfig/aux-cache' \
       "$suite" - "${mirrors[@]}"; then
  echo "image-base: building the image failed" >&2
  exit 1
fi
echo "image-base: built in $((SECONDS - start)) s ($(docker image inspect -f '{{.Size}}' "$tag" \
  | awk '{ printf "%.0f MB", $1 / 1e6 }'))" >&2
# The base this one replaces is of no further use (an image built on it keeps it alive).
if [ -n "$old_id" ]; then docker image rm "$old_id" >/dev/null 2>&1 || true; fi
echo "$tag"
