#!/usr/bin/env bash
# Makes sure a Docker engine answers on /var/run/docker.sock (or $DOCKER_HOST's socket):
# when none does, starts Debian's dockerd in the background and waits for it.
set -euo pipefail
# shellcheck source=scripts/engine-wait.sh
. "$(dirname "$0")/engine-wait.sh"

sock=/var/run/docker.sock
if [[ "${DOCKER_HOST:-}" == unix://* ]]; then sock="${DOCKER_HOST#unix://}"; fi

if engine_ping "$sock"; then exit 0; fi
if ! command -v dockerd >/dev/null; then
  echo "docker-up: no engine answers on $sock and dockerd is not installed (make deps)" >&2
  exit 1
fi
log=/var/log/worker-agent-dockerd.log
echo "docker-up: starting dockerd in the background (log: $log)"
nohup dockerd >"$log" 2>&1 &
engine_wait docker-up "$sock" 60 "$log"
