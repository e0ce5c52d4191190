#!/usr/bin/env bash
# Installs what the browser test needs (tests/browser, CTest label "browser"; `make
# browser-up`, which `make test` runs): Debian's chromium, Node.js and npm when there is no
# node or npm yet, and playwright-core as pinned in tests/browser/package-lock.json, put in
# tests/browser/node_modules by `npm ci` (again only when the lock file changed). npm runs
# no install scripts: playwright-core downloads no browser, the test drives Debian's.
# Needs root for apt.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=tests/browser
packages=()
dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q 'install ok installed' ||
  packages+=(chromium)
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)
if [ ${#packages[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "browser-up: missing packages: ${packages[*]}; run as root" >&2
    exit 1
  fi
  echo "browser-up: installing ${packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

# playwright-core's own floor (its package.json "engines").
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
  echo "browser-up: node $(node --version) is too old for playwright-core (18 or later)" >&2
  exit 1
fi

# The lock file npm ci last installed from, kept beside what it installed.
stamp=$dir/node_modules/.worker-agent-lock.json
if ! cmp -s "$dir/package-lock.json" "$stamp"; then
  echo "browser-up: npm ci in $dir"
  (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
  cp "$dir/package-lock.json" "$stamp"
fi
