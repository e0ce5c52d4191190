#!/usr/bin/env bash
# Installs what the arm64 cross build needs (`make deb ARCH=arm64`, `make test-arm64`):
# Debian's cross toolchain, the arm64 (multiarch) -dev packages of the libraries the
# worker links, GoogleTest for arm64, and qemu-user to run the arm64 unit tests. Adds
# arm64 as a dpkg foreign architecture first. Skips what is already installed; needs root.
# The architecture-independent inputs (rapidjson-dev, node-llhttp's C sources under
# /usr/share/llhttp) come from scripts/deps.sh, which `make deps` runs.
set -euo pipefail

arch=arm64
packages=(
  "crossbuild-essential-$arch"
  "libcurl4-openssl-dev:$arch" "libssl-dev:$arch" "libyaml-dev:$arch" "libsystemd-dev:$arch"
  "libsqlite3-dev:$arch"
  "libgtest-dev:$arch" "libgmock-dev:$arch"
  # pkgconf:arm64 brings the aarch64-linux-gnu-pkg-config cross wrapper (debhelper, CMake)
  "pkg-config:$arch"
  # qemu-aarch64-static runs the test binaries (CMAKE_CROSSCOMPILING_EMULATOR), no binfmt
  # needed; they load as on an arm64 machine: /lib/ld-linux-aarch64.so.1 and the multiarch
  # libraries, libstdc++ among them (qemu's -L sysroot makes a forked child hang on abort,
  # which GoogleTest's death tests do)
  qemu-user-static "libc6:$arch" "libstdc++6:$arch"
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "cross-deps: missing packages: ${missing[*]}; run as root (or: sudo make cross-deps)" >&2
  exit 1
fi
echo "cross-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
  dpkg --add-architecture "$arch"
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
