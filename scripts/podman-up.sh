#!/usr/bin/env bash
# Makes sure Podman's Docker-compatible API answers on $PODMAN_SOCK (by default
# /run/worker-agent-podman/podman.sock): installs Debian's podman (4.3) when missing,
# writes its configuration to $PODMAN_CONF_DIR (by default /etc/worker-agent-podman; the
# service and `podman` run by the scripts read it through CONTAINERS_CONF and
# CONTAINERS_REGISTRIES_CONF, so the host's /etc/containers stays as it is), and starts
# `podman system service --time=0` in the background when nothing answers.
#
# What the configuration bridges on these machines:
#   runtime = "runc"   crun (Podman's default) refuses the hybrid cgroup v1 layout here.
#   default_ulimits    Podman asks the runtime for nofile and nproc limits above what the
#                      host permits (runc: "error setting rlimit type 6: operation not
#                      permitted"). These are the current hard limits, nproc at most 32768:
#                      Podman lowers its own hard nproc to that at start (seen in
#                      /proc/<pid>/limits), and a container cannot get more than Podman has.
#   cgroup_manager     "cgroupfs": there is no systemd to ask for scopes when PID 1 is not it.
#   events_logger      "file": no journald needed; the events API reads the file.
#   registries.conf    127.0.0.1:5000 and :5001 are insecure (plain HTTP), as the Docker
#                      engine treats loopback registries; short names resolve on docker.io.
# Safe to run again; needs root. Prints nothing but what it does.
# Usage: podman-up.sh [--install-only]   (--install-only: the packages, nothing else)
set -euo pipefail
install_only=0
[ "${1:-}" != --install-only ] || install_only=1
# shellcheck source=scripts/engine-wait.sh
. "$(dirname "$0")/engine-wait.sh"

sock="${PODMAN_SOCK:-/run/worker-agent-podman/podman.sock}"
conf_dir="${PODMAN_CONF_DIR:-/etc/worker-agent-podman}"
log=/var/log/worker-agent-podman.log

if [ "$(id -u)" -ne 0 ]; then
  if engine_ping "$sock"; then exit 0; fi
  echo "podman-up: nothing answers on $sock; run as root" >&2
  exit 1
fi

missing=()
for p in podman runc conmon uidmap slirp4netns catatonit; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "podman-up: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" \
    >/dev/null
fi
[ "$install_only" = 0 ] || exit 0

mkdir -p "$conf_dir" "$(dirname "$sock")"
pidfile="$(dirname "$sock")/service.pid"
changed=0
write_if_changed() {  # write_if_changed FILE (content on stdin)
  local new
  new="$(cat)"
  if [ ! -f "$1" ] || [ "$(cat "$1")" != "$new" ]; then
    printf '%s\n' "$new" >"$1.new"
    mv "$1.new" "$1"
    changed=1
  fi
}

# The limits every container gets (test-images.sh gives podman build the same ones).
nofile="$(ulimit -Hn)"
nproc="$(ulimit -Hu)"
if [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; then nproc=32768; fi
if [ "$nofile" = unlimited ] || [ "$nofile" -gt 1048576 ]; then nofile=1048576; fi
write_if_changed "$conf_dir/containers.conf" <<EOF
# Written by worker-agent's scripts/podman-up.sh; rewritten on every start.
[containers]
default_ulimits = [
  "nofile=$nofile:$nofile",
  "nproc=$nproc:$nproc",
]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF

write_if_changed "$conf_dir/registries.conf" <<'EOF'
# Written by worker-agent's scripts/podman-up.sh; rewritten on every start.
unqualified-search-registries = ["docker.io"]
short-name-mode = "permissive"

[[registry]]
location = "127.0.0.1:5000"
insecure = true

[[registry]]
location = "127.0.0.1:5001"
insecure = true
EOF

export CONTAINERS_CONF="$conf_dir/containers.conf"
export CONTAINERS_REGISTRIES_CONF="$conf_dir/registries.conf"

# A service this script started earlier reads its configuration once: restart it when the
# configuration changed. One started otherwise is left alone.
if [ "$changed" = 1 ] && [ -f "$pidfile" ] &&
  [ "$(cat "/proc/$(cat "$pidfile")/comm" 2>/dev/null)" = podman ]; then
  echo "podman-up: configuration changed; restarting the service (pid $(cat "$pidfile"))"
  kill "$(cat "$pidfile")"
  engine_wait_gone "$sock" 10
fi
if engine_ping "$sock"; then exit 0; fi
rm -f "$sock"
echo "podman-up: starting podman system service on $sock (log: $log)"
nohup setsid podman system service --time=0 "unix://$sock" >>"$log" 2>&1 </dev/null &
echo $! >"$pidfile"
engine_wait podman-up "$sock" 30 "$log"
