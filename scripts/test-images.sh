#!/usr/bin/env bash
# Builds the local images the examples and tests run (no registry is needed or used).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
image="${TEST_IMAGE:-worker-agent-busybox:1}"

ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
cp "$here/tests/images/busybox/Dockerfile" "$ctx/"
cp /bin/busybox "$ctx/busybox"
# The legacy builder is what Debian's engine offers; its deprecation notice is noise here.
if ! docker build -q -t "$image" "$ctx" >"$ctx/build.log" 2>&1; then
  cat "$ctx/build.log" >&2
  exit 1
fi
echo "test-images: $image ready"
