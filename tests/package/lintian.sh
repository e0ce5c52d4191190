#!/usr/bin/env bash
# Runs lintian over the built source and binary packages (the .changes file) and fails
# on any error or warning; info and pedantic tags are shown, not fatal.
# Usage: lintian.sh [CHANGES]   (default: build-deb/worker-agent_VERSION_ARCH.changes)
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
version="$(dpkg-parsechangelog -l "$repo/debian/changelog" -S Version)"
changes="${1:-${DEB_DIR:-$repo/build-deb}/worker-agent_${version}_$(dpkg --print-architecture).changes}"
[ -f "$changes" ] || { echo "no $changes (make deb)" >&2; exit 1; }

lintian --version
# --pedantic and --display-info show everything lintian has to say; only E: and W: fail.
lintian --pedantic --display-info --show-overrides --fail-on error,warning "$changes"
echo "lintian: no errors or warnings for $(basename "$changes")"
