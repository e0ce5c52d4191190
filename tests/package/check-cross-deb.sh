#!/usr/bin/env bash
# Checks a cross-built package (make deb ARCH=arm64): the .deb says Architecture arm64 and
# depends on the libraries it links (dpkg-shlibdeps ran against the arm64 ones), its
# daemon is an aarch64 ELF, the packaged binary runs under qemu-user (--version, and
# --check-config on the packaged configuration), and lintian finds no error or warning.
# Usage: check-cross-deb.sh OUT_DIR [ARCH]   (ARCH: arm64, the one qemu is set up for)
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
out="$1"
arch="${2:-arm64}"
[ "$arch" = arm64 ] || { echo "check-cross-deb: only arm64 is set up" >&2; exit 2; }
[[ "$out" == /* ]] || out="$repo/$out"
version="$(dpkg-parsechangelog -l "$repo/debian/changelog" -S Version)"
deb="$out/worker-agent_${version}_$arch.deb"
changes="$out/worker-agent_${version}_$arch.changes"
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

[ -f "$deb" ] || fail "no $deb (make deb ARCH=$arch)"
dpkg-deb -I "$deb"
[ "$(dpkg-deb -f "$deb" Architecture)" = "$arch" ] || fail "Architecture is not $arch"
depends="$(dpkg-deb -f "$deb" Depends)"
for lib in libc6 libcurl4 libyaml-0-2 libsystemd0 libssl3 libstdc++6; do
  [[ ", $depends," == *", $lib "* || ", $depends," == *", $lib,"* ]] \
    || fail "Depends lacks $lib: $depends"
done

tree="$(mktemp -d)"
trap 'rm -rf "$tree"' EXIT
dpkg-deb -x "$deb" "$tree"
description="$(file -b "$tree/usr/sbin/worker-agent")"
echo "usr/sbin/worker-agent: $description"
grep -q 'ELF 64-bit LSB pie executable, ARM aarch64' <<<"$description" \
  || fail "usr/sbin/worker-agent is not an aarch64 PIE: $description"

# The arm64 loader and libraries from the :arm64 packages (scripts/cross-deps.sh).
qemu=(qemu-aarch64-static)
reported="$("${qemu[@]}" "$tree/usr/sbin/worker-agent" --version)"
echo "under qemu: $reported"
[ "$reported" = "worker-agent ${version%%-*}" ] || fail "--version under qemu: $reported"
"${qemu[@]}" "$tree/usr/sbin/worker-agent" --check-config \
  --config "$tree/etc/worker-agent/worker-agent.yaml" || fail "--check-config under qemu"

bash "$repo/tests/package/lintian.sh" "$changes"
echo "check-cross-deb: $(basename "$deb") is a good $arch package"
