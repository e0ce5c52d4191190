#!/usr/bin/env bash
# The package's real install test. Boots a Debian bookworm rootfs (rootfs.sh; trixie with
# ROOTFS_SUITE=trixie) in the local Docker engine with systemd as PID 1, installs the .deb
# as docs/OPERATIONS.md says (`apt install ./worker-agent_*.deb`) and checks, step by
# step: the service is enabled and active, /health answers with the engine reachable
# through the mounted socket, a job runs, the sandbox holds, `systemctl reload` applies a
# good configuration and fails on a rejected one with the running configuration kept, the
# operator's command (worker-agent ctl) drains, resumes and checks, an upgrade restarts
# it, keeps the admin's config edit and loses nothing of a job running through it (the
# journal), `systemctl stop` leaves a running job to the next start (stop_action keep) or
# drains it past a short TimeoutStopSec= (stop_action drain; the daemon extends the
# timeout) and exits cleanly, and `apt purge` removes everything but the system user.
# Along the way it runs every `sh test=NAME` block of docs/OPERATIONS.md as written
# (doc_blocks.py), and fails if one is left out. Needs root, a Docker engine, mmdebstrap,
# and the local test image.
# Usage: install-test.sh [--prepare] [DEB]   (default: build-deb/worker-agent_VERSION_ARCH.deb)
#   --prepare: only make sure the rootfs image the test boots exists (.ci/run builds
#   them in the background, ahead of the test), then exit.
set -euo pipefail
prepare=0
if [ "${1:-}" = --prepare ]; then
  prepare=1
  shift
fi

repo="$(cd "$(dirname "$0")/../.." && pwd)"
here="$repo/tests/package"
version="$(dpkg-parsechangelog -l "$repo/debian/changelog" -S Version)"
deb_dir="${DEB_DIR:-build-deb}"  # as in the Makefile: relative to the source tree
[[ "$deb_dir" == /* ]] || deb_dir="$repo/$deb_dir"
deb="${1:-$deb_dir/worker-agent_${version}_$(dpkg --print-architecture).deb}"
job_image="${TEST_IMAGE:-worker-agent-busybox:1}"
sock=/var/run/docker.sock

step() { printf '\n== %s\n' "$*"; }
# The reason is said again after the diagnosis (the unit's status and journal), so that
# it is the last line of a failed run's output.
failure=""
fail() { failure="$*"; printf 'FAIL: %s\n' "$*" >&2; exit 1; }
started=$SECONDS
guide="$repo/docs/OPERATIONS.md"
ran_blocks=()

[ -f "$deb" ] || fail "no package at $deb (make deb)"
[ "$prepare" = 1 ] || docker image inspect "$job_image" >/dev/null 2>&1 || fail "no image $job_image (make images)"
gid="$(stat -L -c %g "$sock")"
[ "$gid" != 0 ] || fail "$sock belongs to group root; the service user reaches it through a docker group"

suite="${ROOTFS_SUITE:-bookworm}"
echo "package: $deb ($(dpkg-deb -f "$deb" Version), Depends: $(dpkg-deb -f "$deb" Depends))"
step "rootfs image ($suite)"
# The package's dependencies go into the image, as apt would install them; the Docker
# engine is the exception: the container uses the host's (see below).
mapfile -t deps < <(dpkg-deb -f "$deb" Depends | tr ',' '\n' | grep -v docker \
  | sed -E 's/^ *([^ |(]+).*/\1/' | grep -v '^$')
tag="$(ROOTFS_SUITE="$suite" "$here/rootfs.sh" "${deps[@]}")"
echo "image: $tag"
[ "$prepare" = 0 ] || exit 0

work="$(mktemp -d)"
name="wa-pkgtest-$$-$RANDOM"
worker_id="$name"  # the packaged config leaves worker_id to its default: the hostname
leftovers() {
  docker ps -aq --filter "label=worker-agent.worker_id=$worker_id"
}
cleanup() {
  if [ "${keep:-0}" = 1 ]; then echo "keeping container $name"; else docker rm -f "$name" >/dev/null 2>&1 || true; fi
  leftovers | xargs -r docker rm -f >/dev/null 2>&1 || true
  rm -rf "$work"
}
ct() { docker exec "$name" "$@"; }
# Runs the commands of docs/OPERATIONS.md's block `sh test=$1` as written, as root in /root
# of the container (where the package is), stopping at the first that fails. Its standard
# input is "y" (apt purge asks before it removes).
run_block() {
  local block="$1"
  step "docs/OPERATIONS.md: $block"
  python3 "$here/doc_blocks.py" "$guide" show "$block" >"$work/block-$block.sh"
  docker cp "$work/block-$block.sh" "$name:/root/block-$block.sh"
  printf 'y\n' | docker exec -i -w /root "$name" bash -euxo pipefail "/root/block-$block.sh" \
    || fail "the guide's block test=$block failed"
  ran_blocks+=("$block")
}
diagnose() {
  ct systemctl status --no-pager worker-agent 2>&1 | tail -n 20 || true
  ct journalctl --no-pager -n 40 -u worker-agent 2>&1 || true
}
# shellcheck disable=SC2154  # status is assigned inside the trap's own string
trap 'status=$?; if [ $status -ne 0 ]; then diagnose; echo "FAIL: ${failure:-exit status $status}" >&2; fi; cleanup' EXIT

step "boot systemd in a container"
# No --privileged (CI refuses it). CAP_SYS_ADMIN lets systemd build the unit's mount
# sandbox (ProtectSystem=, PrivateTmp=, ...); where the engine refuses even that, the
# test runs without it and systemd skips the mount sandbox, which is reported.
# --network none: the worker is reached on the container's own loopback; its engine is
# the host's, through the socket mounted at /run/docker.sock.
run_args=(-d --name "$name" --hostname "$name" --cgroupns=host
  -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock
  --network none -v "$sock:/run/docker.sock")
sandbox=yes
if ! docker run --cap-add SYS_ADMIN "${run_args[@]}" "$tag" >/dev/null 2>"$work/run.err"; then
  cat "$work/run.err" >&2
  docker rm -f "$name" >/dev/null 2>&1 || true
  echo "NOTE: the engine refused --cap-add SYS_ADMIN; running without it (mount sandbox not checked)"
  sandbox=no
  docker run "${run_args[@]}" "$tag" >/dev/null
fi
state=""
for _ in $(seq 1 60); do
  state="$(ct systemctl is-system-running 2>/dev/null || true)"
  case "$state" in running | degraded) break ;; esac
  sleep 0.5
done
echo "system: $state"
case "$state" in
  running) ;;
  degraded) ct systemctl --failed --no-pager ;;
  *) fail "systemd did not finish booting (state: $state)" ;;
esac

step "install with apt"
# On a real host docker.io provides the engine and creates the docker group. Here the
# engine is the host's: a one-file package that Provides docker.io (in the host engine's
# version, which the package's versioned dependency checks) stands in for it (what equivs
# would build), and the docker group gets the gid of the mounted socket.
engine_version="$(docker version -f '{{.Server.Version}}')"
mkdir -p "$work/host-docker/DEBIAN"
cat >"$work/host-docker/DEBIAN/control" <<CONTROL
Package: host-docker-engine
Version: 1.0
Architecture: all
Maintainer: worker-agent package test <root@localhost>
Provides: docker.io (= $engine_version)
Description: stands in for docker.io: the host's engine, reached through a mounted socket
CONTROL
dpkg-deb --root-owner-group --build "$work/host-docker" "$work/host-docker-engine.deb" >/dev/null
ct groupadd --system --non-unique --gid "$gid" docker
# Into /root: trixie's systemd mounts a tmpfs over /tmp, which hides what docker cp writes.
docker cp "$work/host-docker-engine.deb" "$name:/root/"
docker cp "$deb" "$name:/root/worker-agent.deb"
docker cp "$deb" "$name:/root/$(basename "$deb")"
ct dpkg -i /root/host-docker-engine.deb
# As the guide says an administrator installs a downloaded package: apt resolves its
# dependencies (all present in the rootfs: the container has no network) and refuses it
# when one is not satisfiable, as a package built for another release may not be.
run_block install

health() { ct curl -fsS --max-time 5 http://127.0.0.1:9000/health; }
# Prints one field of a JSON document read from stdin (a.b for nested fields).
field() { python3 -c 'import json,sys; v=json.load(sys.stdin)
for k in sys.argv[1].split("."): v=v[k]
print(json.dumps(v) if not isinstance(v,str) else v)' "$1"; }
main_pid() { ct systemctl show -p MainPID --value worker-agent; }
# The service's journal, whole: grep -q on a pipe from journalctl would end the pipe early
# and fail it (SIGPIPE under pipefail) once the journal is long.
journal() { ct journalctl --no-pager -u worker-agent -o cat; }
# The waits below are bounded generously (a minute or more at 0.25 s a try) and end as soon
# as the state is there: CI runs this beside the integration suite, where a restart and a
# container start have taken far longer than here (load average 7 seen).
wait_healthy() {
  for _ in $(seq 1 240); do
    if out="$(health 2>/dev/null)" && [ "$(field docker.reachable <<<"$out")" = true ]; then
      echo "$out"
      return 0
    fi
    sleep 0.25
  done
  fail "/health did not answer with the engine reachable: ${out:-no answer}"
}

step "service enabled and active"
[ "$(ct systemctl is-enabled worker-agent)" = enabled ] || fail "not enabled"
[ "$(ct systemctl is-active worker-agent)" = active ] || fail "not active"
echo "enabled, active, main PID $(main_pid)"

step "user, group, workspace, conffile, manual pages, operator socket, licence"
ct id worker-agent
# The unit gives the service the docker group (SupplementaryGroups=); the account is not
# made a member.
if ct id -nG worker-agent | tr ' ' '\n' | grep -qx docker; then
  fail "the postinst made worker-agent a member of the docker group"
fi
[ "$(ct stat -c '%U:%G %a' /run/worker-agent/api.sock)" = "worker-agent:worker-agent 660" ] \
  || fail "/run/worker-agent/api.sock: $(ct stat -c '%U:%G %a' /run/worker-agent/api.sock)"
ct grep -q '^License: Expat$' /usr/share/doc/worker-agent/copyright || fail "no Expat (MIT) licence in copyright"
if [ -e /usr/share/llhttp/llhttp.c ]; then  # built with llhttp's sources in the binary
  dpkg-deb -f "$deb" Built-Using | grep -q '^node-undici (= ' || fail "no Built-Using for llhttp's sources"
fi
[ "$(ct stat -c '%U:%G %a' /var/lib/worker-agent)" = "worker-agent:worker-agent 750" ] \
  || fail "/var/lib/worker-agent: $(ct stat -c '%U:%G %a' /var/lib/worker-agent)"
# shellcheck disable=SC2016  # ${Conffiles} is dpkg-query's field
ct dpkg-query -W -f='${Conffiles}\n' worker-agent | grep -q ' /etc/worker-agent/worker-agent.yaml ' \
  || fail "/etc/worker-agent/worker-agent.yaml is not a conffile"
ct test -x /usr/sbin/worker-agent
ct man -w 'worker-agent(8)' 'worker-agent.yaml(5)' 'worker-agent-ctl(8)'

step "systemd-analyze verify and security (inside the container)"
ct systemd-analyze verify /lib/systemd/system/worker-agent.service
ct systemd-analyze security --no-pager worker-agent.service | tail -n 1

step "GET /health"
out="$(wait_healthy)"
echo "$out" | cut -c1-200
[ "$(field status <<<"$out")" = ok ] || fail "status is not ok"
ct grep '^Groups:' "/proc/$(main_pid)/status" | tr -s ' \t' '\n' | grep -qx "$gid" \
  || fail "the service does not hold the docker group ($gid)"
run_block verify

if [ "$sandbox" = yes ]; then
  step "sandbox"
  pid="$(main_pid)"
  ct grep -E '^(NoNewPrivs|Seccomp|CapEff|CapBnd):' "/proc/$pid/status"
  ct grep -qE '^NoNewPrivs:\s+1$' "/proc/$pid/status" || fail "NoNewPrivs not set"
  ct grep -qE '^Seccomp:\s+2$' "/proc/$pid/status" || fail "no seccomp filter"
  ct grep -qE '^CapEff:\s+0+$' "/proc/$pid/status" || fail "capabilities left"
  # mountinfo: field 5 is the mount point, field 6 its options.
  # shellcheck disable=SC2016  # awk's fields
  mount_opts() { ct awk -v m="$1" '$5 == m { o = $6 } END { print o }' "/proc/$pid/mountinfo"; }
  echo "/: $(mount_opts /)  /var/lib/worker-agent: $(mount_opts /var/lib/worker-agent)  /tmp: $(mount_opts /tmp)"
  [[ "$(mount_opts /)" == ro,* ]] || fail "/ is not read-only for the service"
  [[ "$(mount_opts /var/lib/worker-agent)" == rw,* ]] || fail "/var/lib/worker-agent is not writable"
  [ -n "$(mount_opts /tmp)" ] || fail "no private /tmp"
fi

# Submits a job (JSON on stdin) inside the container; prints the answer.
submit() {
  docker exec -i "$name" curl -sS --max-time 5 -X POST -H 'Content-Type: application/json' --data-binary @- \
    http://127.0.0.1:9000/jobs
}
job() { ct curl -fsS --max-time 5 "http://127.0.0.1:9000/jobs/$1"; }
job_json() {  # job_id, then the runtime's cmd as a JSON array (empty: the image's)
  printf '{"protocol_version": 1, "job_id": "%s", "task": {"type": "package_test", "payload": {}},
    "runtime": {"mode": "image", "image": "%s", "cmd": %s,
    "limits": {"memory_mb": 64, "max_runtime_seconds": 30}}}' "$1" "$job_image" "${2:-[]}"
}

step "a job runs through the host's engine"
job_json pkg-echo-1 '["echo", "hello from the package test"]' | submit
echo
for _ in $(seq 1 240); do
  out="$(job pkg-echo-1)"
  case "$(field state <<<"$out")" in finished | failed) break ;; esac
  sleep 0.25
done
echo "$out" | cut -c1-300
[ "$(field state <<<"$out")" = finished ] || fail "the job did not finish"
[ "$(field stdout <<<"$out")" = "hello from the package test" ] || fail "unexpected stdout"
run_block sample-job
for _ in $(seq 1 240); do
  [ "$(job sample-echo-1 | field state)" = finished ] && break
  sleep 0.25
done
[ "$(job sample-echo-1 | field state)" = finished ] || fail "the guide's sample job did not finish"

step "systemctl reload keeps it active and applies the configuration"
pid="$(main_pid)"
ct systemctl reload worker-agent
sleep 0.5
[ "$(ct systemctl is-active worker-agent)" = active ] || fail "not active after reload"
[ "$(main_pid)" = "$pid" ] || fail "reload changed the main PID"
health >/dev/null || fail "/health does not answer after reload"
echo "active, main PID still $pid"
info() { ct curl -fsS --max-time 5 http://127.0.0.1:9000/info; }
ct sed -i 's/^labels: .*/labels: [pkgtest]/' /etc/worker-agent/worker-agent.yaml
run_block reload
[ "$(info | field labels)" = '["pkgtest"]' ] || fail "the reload did not apply labels"
[ "$(main_pid)" = "$pid" ] || fail "reload changed the main PID"

step "systemctl reload fails on a rejected configuration and keeps the running one"
ct sed -i 's/^labels: .*/labels: [rejected]/; s/^max_concurrent_jobs: .*/max_concurrent_jobs: 0/' \
  /etc/worker-agent/worker-agent.yaml
if ct systemctl reload worker-agent; then fail "systemctl reload succeeded on a rejected configuration"; fi
[ "$(ct systemctl is-active worker-agent)" = active ] || fail "not active after the failed reload"
[ "$(main_pid)" = "$pid" ] || fail "the failed reload changed the main PID"
[ "$(health | field max_concurrent_jobs)" = 2 ] || fail "max_concurrent_jobs changed"
[ "$(info | field labels)" = '["pkgtest"]' ] || fail "labels changed"
log="$(journal)"
grep 'nothing was reloaded' <<<"$log" | tail -n 1
grep -q 'max_concurrent_jobs: must be between 1 and 1024, got 0' <<<"$log" \
  || fail "the reason is not in the journal"
ct sed -i 's/^labels: .*/labels: []/; s/^max_concurrent_jobs: .*/max_concurrent_jobs: 2/' \
  /etc/worker-agent/worker-agent.yaml
ct systemctl reload worker-agent
[ "$(info | field labels)" = '[]' ] || fail "the corrected configuration was not applied"
echo "reload failed as it should, the worker kept its configuration, and took the corrected one"

step "the operator's drain: 503 DRAINING, /health and /info say so"
ct worker-agent ctl drain
out="$(job_json pkg-drained-1 '["true"]' | submit)"
echo "$out"
[ "$(field error.code <<<"$out")" = DRAINING ] || fail "POST /jobs was not refused with DRAINING"
[ "$(health | field draining)" = true ] || fail "/health does not say draining"
[ "$(info | field accepting_jobs)" = false ] || fail "/info does not say it takes no jobs"
ct worker-agent ctl resume
[ "$(health | field accepting_jobs)" = true ] || fail "not accepting jobs after resume"
run_block monitor
run_block drain
run_block maintenance
[ "$(health | field accepting_jobs)" = true ] || fail "not accepting jobs after the maintenance"
pid="$(main_pid)"

# Waits for a job to end; prints its record.
wait_job() {
  local out=""
  for _ in $(seq 1 480); do
    out="$(job "$1")"
    case "$(field state <<<"$out")" in finished | failed) break ;; esac
    sleep 0.25
  done
  echo "$out"
}
# A job whose output comes in two halves: line-0 to line-4, then, once the test opens its
# gate (open_gate: a file in the job's /tmp, made through the engine), line-5 to line-19,
# one each 0.2 s. However slow the machine, the restart under test happens between them.
# shellcheck disable=SC2016  # the job's shell expands them, not this one
slow='["sh", "-c", "i=0; while [ $i -lt 20 ]; do [ $i -ne 5 ] || while [ ! -e /tmp/gate ]; do sleep 0.1; done; echo line-$i; i=$((i+1)); sleep 0.2; done"]'
expected_slow="$(for i in $(seq 0 19); do echo "line-$i"; done)"
wait_running() {
  for _ in $(seq 1 240); do
    [ "$(job "$1" | field state)" = running ] && job "$1" | field stdout | grep -qx line-4 && return 0
    sleep 0.25
  done
  fail "$1 is not running"
}
# Lets the job $1 go on past its gate. This worker's container only: the bookworm and
# trixie runs of this test share the host's engine and their job ids, and a filter on the
# job id alone found both runs' containers when they overlapped: two ids in one exec path
# were CI's "page not found", and the count check here then failed a fresh-clone run.
open_gate() {
  local ids
  ids="$(docker ps -q --filter "label=worker-agent.worker_id=$worker_id" \
    --filter "label=worker-agent.job_id=$1")"
  [ "$(wc -w <<<"$ids")" = 1 ] || fail "not one running container for $1: ${ids:-none}"
  docker exec "$ids" touch /tmp/gate || fail "cannot open the gate of $1 (container $ids)"
}

step "upgrade while a job runs: the admin's edit survives, the service restarts, the job finishes whole"
ct sed -i 's/^max_concurrent_jobs: .*/max_concurrent_jobs: 3/' /etc/worker-agent/worker-agent.yaml
job_json pkg-upgrade-1 "$slow" | submit
echo
wait_running pkg-upgrade-1
ct dpkg -i /root/worker-agent.deb
ct grep -qx 'max_concurrent_jobs: 3' /etc/worker-agent/worker-agent.yaml || fail "the edit was lost"
[ "$(ct systemctl is-active worker-agent)" = active ] || fail "not active after the upgrade"
[ "$(main_pid)" != "$pid" ] || fail "the upgrade did not restart the service"
out="$(wait_healthy)"
[ "$(field max_concurrent_jobs <<<"$out")" = 3 ] || fail "the restarted worker does not use the edited config"
echo "restarted (main PID $(main_pid)), max_concurrent_jobs 3"
for _ in $(seq 1 240); do
  journal | grep -q 'job adopted after a restart job_id=pkg-upgrade-1' && break
  sleep 0.25
done
journal | grep -q 'job adopted after a restart job_id=pkg-upgrade-1' \
  || fail "the job was not adopted after the upgrade"
open_gate pkg-upgrade-1
out="$(wait_job pkg-upgrade-1)"
[ "$(field state <<<"$out")" = finished ] || fail "the job that ran through the upgrade did not finish: $out"
[ "$(field stdout <<<"$out")" = "$expected_slow" ] || fail "its output is not whole: $(field stdout <<<"$out")"
echo "the job that ran through the upgrade finished with all 20 lines"
# The guide's upgrade, with this very version installed: apt finds nothing to do.
run_block upgrade

run_block token
token="$(ct cat /etc/worker-agent/token)"
[ "$(ct curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9000/jobs)" = 401 ] \
  || fail "/jobs answers without the token"
ct worker-agent ctl status >/dev/null || fail "worker-agent ctl does not find the token"
# Back to no token for the steps below; the reload needs none on the operator socket.
ct sed -i 's|^auth_token_file: .*|auth_token_file: ""|' /etc/worker-agent/worker-agent.yaml
ct systemctl reload worker-agent
[ "$(ct curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9000/jobs)" = 200 ] \
  || fail "/jobs still wants the token"
[ -n "$token" ] || fail "the guide's token file is empty"
if journal | grep -F "$token" >/dev/null; then
  fail "the token is in the journal"
fi
run_block ipallow
wait_healthy >/dev/null

step "systemctl stop leaves a running job to the next start (stop_action keep)"
job_json pkg-stop-1 "$slow" | submit
echo
wait_running pkg-stop-1
ct systemctl stop worker-agent
[ "$(ct systemctl is-active worker-agent || true)" = inactive ] || fail "not inactive after stop"
[ "$(ct systemctl show -p Result --value worker-agent)" = success ] || fail "stop did not end in success"
[ -n "$(leftovers)" ] || fail "the stop did not leave the running job's container"
ct systemctl start worker-agent
open_gate pkg-stop-1
out="$(wait_job pkg-stop-1)"
[ "$(field stdout <<<"$out")" = "$expected_slow" ] || fail "the job kept over the stop did not finish whole: $out"
echo "kept over the stop, finished whole after the start"

step "with stop_action drain, systemctl stop drains a running job past TimeoutStopSec, then exits 0"
ct sed -i 's/^stop_action: .*/stop_action: drain/' /etc/worker-agent/worker-agent.yaml
ct systemctl reload worker-agent
# A stop timeout shorter than the job: the daemon extends it while it drains
# (EXTEND_TIMEOUT_USEC), so the job finishes instead of being killed at 3 s.
ct mkdir -p /etc/systemd/system/worker-agent.service.d
printf '[Service]\nTimeoutStopSec=3s\n' | docker exec -i "$name" \
  sh -c 'cat >/etc/systemd/system/worker-agent.service.d/stop-timeout.conf'
ct systemctl daemon-reload
job_json pkg-sleep-1 '["sleep", "6"]' | submit
echo
for _ in $(seq 1 240); do
  [ "$(job pkg-sleep-1 | field state)" = running ] && break
  sleep 0.25
done
[ "$(job pkg-sleep-1 | field state)" = running ] || fail "the sleep job is not running"
t0=$SECONDS
ct systemctl stop worker-agent
echo "stopped in $((SECONDS - t0)) s"
[ "$(ct systemctl is-active worker-agent || true)" = inactive ] || fail "not inactive after stop"
[ "$(ct systemctl show -p Result --value worker-agent)" = success ] || fail "stop did not end in success"
[ "$(ct systemctl show -p ExecMainStatus --value worker-agent)" = 0 ] || fail "exit status is not 0"
log="$(journal)"
grep -E 'shutting down|drain|shutdown complete' <<<"$log" | tail -n 4
grep -q 'letting 1 running job(s) finish' <<<"$log" || fail "the running job was not given the drain"
grep -q 'job finished job_id=pkg-sleep-1' <<<"$log" \
  || fail "the job did not finish in the drain (killed at TimeoutStopSec?)"
grep -q 'shutdown complete' <<<"$log" || fail "no 'shutdown complete'"
[ -z "$(leftovers)" ] || fail "containers left behind: $(leftovers)"

run_block uninstall
for path in /usr/sbin/worker-agent /lib/systemd/system/worker-agent.service /etc/worker-agent \
            /var/lib/worker-agent /usr/share/man/man8/worker-agent.8.gz; do
  if ct test -e "$path"; then fail "$path is still there"; fi
done
# Debian leaves system accounts behind: files may still carry their ids.
ct getent passwd worker-agent >/dev/null || fail "purge removed the system user"
[ "$(ct systemctl is-active worker-agent || true)" != active ] || fail "still active after purge"
echo "gone: binary, unit, config, workspace and journal, manual pages; the system user stays"

step "every test block of docs/OPERATIONS.md ran"
mapfile -t blocks < <(python3 "$here/doc_blocks.py" "$guide" names)
for block in "${blocks[@]}"; do
  printf '%s\n' "${ran_blocks[@]}" | grep -qxF "$block" || fail "the guide's block test=$block was not run"
done
echo "${#blocks[@]} blocks: ${blocks[*]}"

printf '\nPASS: package install test on %s in %d s (mount sandbox checked: %s)\n' \
  "$suite" "$((SECONDS - started))" "$sandbox"
