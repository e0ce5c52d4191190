#!/usr/bin/env bash
# Installs the Debian packages worker-agent needs to build, run and test, skipping
# the ones already present. Needs root (it is what `make deps` runs).
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config
  libcurl4-openssl-dev libssl-dev libyaml-dev libsystemd-dev libsqlite3-dev rapidjson-dev node-llhttp
  # tests and tooling
  libgtest-dev libgmock-dev python3 curl clang-format clang-tidy shellcheck
  # the engine and the static busybox the test images are made of
  docker.io busybox-static
  # the loopback image registries the pull tests use (scripts/registry-up.sh)
  docker-registry apache2-utils
  # packaging and its tests: the .deb, lintian, man pages, a systemd rootfs
  dpkg-dev debhelper lintian mandoc mmdebstrap systemd manpages
  # monitoring tests: promtool and a real Prometheus server
  prometheus
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing packages: ${missing[*]}; run as root (or: sudo make deps)" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
