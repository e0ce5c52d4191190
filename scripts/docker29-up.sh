#!/usr/bin/env bash
# Makes sure a simulated Docker Engine 29 answers on $DOCKER29_SOCK (by default
# /run/worker-agent-docker29/docker.sock): tests/integration/docker29_proxy.py in front of
# the engine on $DOCKER29_UPSTREAM (/var/run/docker.sock), refusing clients older than
# Engine API 1.44 with Docker 29.0's own answer and saying it speaks 1.44 to 1.52. Starts
# it in the background (its output: /var/log/worker-agent-docker29.log; one line per
# request, "refused ..." for each refusal: $DOCKER29_REQUESTS_LOG) when nothing answers
# there as Docker 29 does; a proxy it started before is restarted when the proxy has
# changed since. Safe to run again; needs root for /run and /var/log.
set -euo pipefail
# shellcheck source=scripts/engine-wait.sh
. "$(dirname "$0")/engine-wait.sh"

repo="$(cd "$(dirname "$0")/.." && pwd)"
proxy="$repo/tests/integration/docker29_proxy.py"
sock="${DOCKER29_SOCK:-/run/worker-agent-docker29/docker.sock}"
upstream="${DOCKER29_UPSTREAM:-/var/run/docker.sock}"
log=/var/log/worker-agent-docker29.log
requests="${DOCKER29_REQUESTS_LOG:-/var/log/worker-agent-docker29.requests.log}"
run_dir="$(dirname "$sock")"
pidfile="$run_dir/proxy.pid"
stamp="$run_dir/proxy.sha256"

engine_ping "$upstream" || { echo "docker29-up: no engine answers on $upstream (make docker-up)" >&2; exit 1; }
# The real engine's newest version is what the proxy sends it.
upstream_api="$(curl -fsS --max-time 5 --unix-socket "$upstream" http://engine/version \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["ApiVersion"])')"
want="$( { sha256sum "$proxy" | cut -c1-64; echo "$upstream $upstream_api"; } | sha256sum | cut -c1-64)"

answers_as_29() {
  curl -fsS --max-time 2 -o /dev/null -D - --unix-socket "$sock" http://engine/_ping 2>/dev/null \
    | tr -d '\r' | grep -qix 'api-version: 1.52'
}

if answers_as_29 && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  echo "docker29-up: restarting the proxy (pid $(cat "$pidfile"))"
  kill "$(cat "$pidfile")"
  engine_wait_gone "$sock" 10
fi
mkdir -p "$run_dir"
echo "docker29-up: starting the simulated Docker 29 on $sock (in front of $upstream, API $upstream_api)"
nohup setsid python3 "$proxy" --listen "$sock" --upstream "$upstream" --forward-as "$upstream_api" \
  --log "$requests" --pidfile "$pidfile" >>"$log" 2>&1 </dev/null &
engine_wait docker29-up "$sock" 20 "$log"
answers_as_29 || { echo "docker29-up: $sock answers, but not as Docker 29" >&2; exit 1; }
echo "$want" >"$stamp"
