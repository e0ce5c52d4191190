#!/usr/bin/env bash
# Makes sure a real Debian 13 (trixie) Docker engine answers on $TRIXIE_SOCK (by default
# /var/tmp/worker-agent-trixie-engine/rootfs/run/wa-trixie/docker.sock): trixie's
# docker.io (26.1, Engine API 1.45), containerd and runc, installed with mmdebstrap into a
# rootfs under $TRIXIE_DIR and run from a chroot on this host, with a data root, exec
# root, socket, pid file and bridge (wa-trixie0, no iptables rules) of its own beside the
# host's engine; the host's docker0 is never touched (the bridge is never "none": a
# dockerd whose bridge is disabled deletes docker0). The test image is copied in from
# the host's engine. Safe to run again; needs root.
#
# What the chroot needs: "/" must be a mount point (the rootfs is bind-mounted onto
# itself): dockerd unpacks image layers in a mount namespace of its own where it makes
# "/" private, which fails in a plain chroot ("remount /, flags: 0x84000: invalid
# argument" on every docker load or pull); /proc, /sys (with /sys/fs/cgroup) and /dev
# are the host's, bound recursively.
set -euo pipefail
# shellcheck source=scripts/engine-wait.sh
. "$(dirname "$0")/engine-wait.sh"
# shellcheck source=scripts/debian-rootfs.sh
. "$(dirname "$0")/debian-rootfs.sh"

dir="${TRIXIE_DIR:-/var/tmp/worker-agent-trixie-engine}"
rootfs="$dir/rootfs"
sock="$rootfs/run/wa-trixie/docker.sock"
image="${TEST_IMAGE:-worker-agent-busybox:1}"
host_sock=/var/run/docker.sock
bridge=wa-trixie0
packages=docker.io,containerd,runc,iptables,ca-certificates,procps

if ! engine_ping "$sock"; then
  if [ ! -x "$rootfs/usr/sbin/dockerd" ]; then
    mapfile -t mirrors < <(debian_mirrors trixie)
    echo "trixie-engine-up: installing trixie's docker.io into $rootfs (mmdebstrap)"
    rm -rf "$rootfs"
    mkdir -p "$dir"
    setsid --wait mmdebstrap --variant=minbase --include="$packages" trixie "$rootfs" \
      "${mirrors[@]}" >"$dir/mmdebstrap.log" 2>&1 \
      || { tail -n 20 "$dir/mmdebstrap.log" >&2; exit 1; }
  fi
  mountpoint -q "$rootfs" || mount --bind "$rootfs" "$rootfs"
  for d in proc sys dev; do
    mountpoint -q "$rootfs/$d" || mount --rbind "/$d" "$rootfs/$d"
    mount --make-rslave "$rootfs/$d"
  done
  mkdir -p "$rootfs/run/wa-trixie"
  ip link show "$bridge" >/dev/null 2>&1 || ip link add name "$bridge" type bridge
  echo "trixie-engine-up: starting trixie's dockerd on $sock (log: $dir/dockerd.log)"
  nohup setsid chroot "$rootfs" /usr/sbin/dockerd --host unix:///run/wa-trixie/docker.sock \
    --pidfile /run/wa-trixie/docker.pid --data-root /var/lib/docker-trixie \
    --exec-root /run/wa-trixie/exec --bridge "$bridge" --iptables=false --ip6tables=false \
    --ip-masq=false >>"$dir/dockerd.log" 2>&1 </dev/null &
  engine_wait trixie-engine-up "$sock" 60 "$dir/dockerd.log"
fi
if ! curl -fsS --unix-socket "$sock" "http://engine/images/$image/json" >/dev/null 2>&1; then
  echo "trixie-engine-up: copying $image from the host's engine"
  curl -fsS --unix-socket "$host_sock" "http://engine/images/get?names=$image" \
    | curl -fsS --unix-socket "$sock" -X POST -H 'Content-Type: application/x-tar' \
        --data-binary @- "http://engine/images/load?quiet=1" >/dev/null
fi
echo "trixie-engine-up: $(curl -fsS --unix-socket "$sock" http://engine/version \
  | python3 -c 'import json,sys; v=json.load(sys.stdin); print("Docker", v["Version"], "API", v["MinAPIVersion"], "to", v["ApiVersion"])') on $sock"
