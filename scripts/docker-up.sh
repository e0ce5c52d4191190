#!/usr/bin/env bash
# Makes sure a Docker engine answers on /var/run/docker.sock (or $DOCKER_HOST's socket):
# when none does, starts Debian's dockerd in the background and waits for it.
set -euo pipefail

sock=/var/run/docker.sock
if [[ "${DOCKER_HOST:-}" == unix://* ]]; then sock="${DOCKER_HOST#unix://}"; fi

ping() { curl -fsS --max-time 2 --unix-socket "$sock" http://docker/_ping >/dev/null 2>&1; }

if ping; then exit 0; fi
if ! command -v dockerd >/dev/null; then
  echo "docker-up: no engine answers on $sock and dockerd is not installed (make deps)" >&2
  exit 1
fi
log=/var/log/worker-agent-dockerd.log
echo "docker-up: starting dockerd in the background (log: $log)"
nohup dockerd >"$log" 2>&1 &
for _ in $(seq 1 120); do
  if ping; then exit 0; fi
  sleep 0.5
done
echo "docker-up: dockerd did not answer within 60 s; last lines of $log:" >&2
tail -n 20 "$log" >&2 || true
exit 1
