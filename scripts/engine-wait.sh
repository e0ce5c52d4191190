# shellcheck shell=bash
# Sourced by scripts/docker-up.sh and scripts/podman-up.sh: asking an engine's API socket
# whether it answers, and waiting until it does.

# engine_ping SOCK: true when an engine answers /_ping on the unix socket SOCK.
engine_ping() { curl -fsS --max-time 2 --unix-socket "$1" http://engine/_ping >/dev/null 2>&1; }

# engine_wait NAME SOCK SECONDS LOG: returns 0 once SOCK answers, or after SECONDS prints
# why (as NAME, with the last lines of the engine's LOG) and returns 1.
engine_wait() {
  local name="$1" sock="$2" seconds="$3" log="$4" i
  for ((i = 0; i < seconds * 2; i++)); do
    if engine_ping "$sock"; then return 0; fi
    sleep 0.5
  done
  echo "$name: nothing answered on $sock within $seconds s; last lines of $log:" >&2
  tail -n 20 "$log" >&2 || true
  return 1
}

# engine_wait_gone SOCK SECONDS: returns once SOCK no longer answers, or after SECONDS.
engine_wait_gone() {
  local i
  for ((i = 0; i < $2 * 4; i++)); do
    engine_ping "$1" || return 0
    sleep 0.25
  done
}
