#!/usr/bin/env bash
# Runs lintian over the built source and binary packages (the .changes file) and fails
# on any error or warning; info and pedantic tags are shown, not fatal.
# Usage: lintian.sh [CHANGES]   (default: build-deb/worker-agent_VERSION_ARCH.changes)
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
version="$(dpkg-parsechangelog -l "$repo/debian/changelog" -S Version)"
deb_dir="${DEB_DIR:-build-deb}"  # as in the Makefile: relative to the source tree
[[ "$deb_dir" == /* ]] || deb_dir="$repo/$deb_dir"
changes="${1:-$deb_dir/worker-agent_${version}_$(dpkg --print-architecture).changes}"
[ -f "$changes" ] || { echo "no $changes (make deb)" >&2; exit 1; }

lintian --version
# --pedantic and --display-info show everything lintian has to say; only E: and W: fail.
lintian --pedantic --display-info --show-overrides --fail-on error,warning "$changes"
echo "lintian: no errors or warnings for $(basename "$changes")"
