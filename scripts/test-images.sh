#!/usr/bin/env bash
# Builds the local images the examples and tests run (no registry is needed or used).
# ENGINE=podman builds them into Podman's storage instead (scripts/podman-up.sh's
# configuration), where the worker finds them through Podman's API socket.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
image="${TEST_IMAGE:-worker-agent-busybox:1}"

ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
cp "$here/tests/images/busybox/Dockerfile" "$ctx/"
cp /bin/busybox "$ctx/busybox"
build=(docker build -q)
if [ "${ENGINE:-docker}" = podman ]; then
  conf_dir="${PODMAN_CONF_DIR:-/etc/worker-agent-podman}"
  export CONTAINERS_CONF="$conf_dir/containers.conf"
  export CONTAINERS_REGISTRIES_CONF="$conf_dir/registries.conf"
  # Docker's image format: Podman's default (OCI) has no place for some of what the
  # Docker engine reports, and the tests compare the two.
  # RUN steps get the limits containers get (containers.conf's default_ulimits, which
  # podman build does not apply itself): Podman's own would be refused here.
  limits=()
  # shellcheck disable=SC2013  # the matches are single words (nofile=N:M)
  for u in $(sed -n 's/^ *"\(nofile\|nproc\)=\([0-9:]*\)",*$/\1=\2/p' "$CONTAINERS_CONF"); do
    limits+=(--ulimit "$u")
  done
  build=(podman build -q --format docker "${limits[@]}")
fi
# The legacy builder is what Debian's engine offers; its deprecation notice is noise here.
if ! "${build[@]}" -t "$image" "$ctx" >"$ctx/build.log" 2>&1; then
  cat "$ctx/build.log" >&2
  exit 1
fi
echo "test-images: $image ready (${ENGINE:-docker})"
