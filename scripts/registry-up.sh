#!/usr/bin/env bash
# Makes sure the two local image registries the integration tests pull from answer on
# loopback (plain HTTP; the engine treats 127.0.0.0/8 registries as insecure by default):
#   127.0.0.1:5000  open: anyone may push and pull
#   127.0.0.1:5001  htpasswd basic auth, user $REGISTRY_AUTH_USER (tests/integration/harness.py
#                   holds the same user and password)
# Each one that does not answer is started in the background with Debian's docker-registry
# (installed when missing), with its own config.yml, data/, registry.pid and registry.log in
# $state_dir/open-5000 and $state_dir/auth-5001.
# Safe to run again and from several shells at once; needs root.
set -euo pipefail

state_dir="${WORKER_AGENT_REGISTRY_DIR:-/var/tmp/worker-agent-registry}"
open_addr=127.0.0.1:5000
auth_addr=127.0.0.1:5001
# Fixed test credentials: they guard nothing but a loopback registry of test images.
auth_user="${REGISTRY_AUTH_USER:-wa-test}"
auth_password="${REGISTRY_AUTH_PASSWORD:-wa-test-password-5001}"

# The HTTP status of GET /v2/ ("000": nothing answers).
v2_status() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$1/v2/" || true; }

# A registry answers /v2/ with 200 when open and 401 when it wants credentials.
answers_as() { [ "$(v2_status "$1")" = "$2" ]; }

if answers_as "$open_addr" 200 && answers_as "$auth_addr" 401; then exit 0; fi

if [ "$(id -u)" -ne 0 ]; then
  echo "registry-up: no registries answer on $open_addr and $auth_addr; run as root" >&2
  exit 1
fi

mkdir -p "$state_dir"
# Two shells (make test in two trees) must not start two registries on one port.
exec 9>"$state_dir/.lock"
flock -w 600 9

install_packages() {
  local missing=()
  command -v docker-registry >/dev/null || missing+=(docker-registry)
  command -v htpasswd >/dev/null || missing+=(apache2-utils)
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "registry-up: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" \
    >/dev/null
}

# Where services may start (systemd, or an init script allowed by policy-rc.d), the
# package's postinst starts the package's own instance (/etc/docker/registry/config.yml:
# port 5000 on every interface, htpasswd auth). It holds the open registry's port, so it
# is stopped; the instances started here replace it.
stop_package_instance() {
  if [ -d /run/systemd/system ] && systemctl is-active --quiet docker-registry.service; then
    echo "registry-up: stopping docker-registry.service (the package's own; it holds :5000)"
    systemctl stop docker-registry.service
  fi
  local pidfile=/var/run/docker-registry.pid
  if [ -f "$pidfile" ]; then
    echo "registry-up: stopping the package's own docker-registry (it holds :5000)"
    start-stop-daemon --stop --quiet --oknodo --retry 5 --pidfile "$pidfile" \
      --exec /usr/bin/docker-registry --remove-pidfile
  fi
}

# write_config DIR ADDR [HTPASSWD]: the registry's config file for one instance.
write_config() {
  local dir="$1" addr="$2" htpasswd="${3:-}"
  cat >"$dir/config.yml.new" <<EOF
# Written by worker-agent's scripts/registry-up.sh; rewritten on every start.
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: $addr
  headers:
    X-Content-Type-Options: [nosniff]
EOF
  if [ -n "$htpasswd" ]; then
    cat >>"$dir/config.yml.new" <<EOF
auth:
  htpasswd:
    realm: worker-agent-test
    path: $htpasswd
EOF
  fi
  mv "$dir/config.yml.new" "$dir/config.yml"
}

# start NAME ADDR WANTED_STATUS [HTPASSWD]: starts the instance NAME unless ADDR already
# answers as wanted, then waits (at most 30 s) until it does.
start() {
  local name="$1" addr="$2" want="$3" htpasswd="${4:-}"
  local dir="$state_dir/$name"
  local status
  status="$(v2_status "$addr")"
  if [ "$status" = "$want" ]; then return 0; fi
  if [ "$status" != 000 ]; then
    echo "registry-up: something else answers http://$addr/v2/ with HTTP $status" \
      "(wanted $want); stop it or free the port" >&2
    return 1
  fi
  mkdir -p "$dir/data"
  write_config "$dir" "$addr" "$htpasswd"
  touch "$dir/registry.log"
  chown -R docker-registry:docker-registry "$dir"
  # Tests delete their manifests when done; their blobs go here, while no registry serves
  # this storage (collecting under a running registry is unsafe). Empty storage has no
  # repositories directory, which garbage-collect takes for an error.
  if [ -d "$dir/data/docker/registry/v2/repositories" ] &&
    ! start-stop-daemon --status --pidfile "$dir/registry.pid" --exec /usr/bin/docker-registry; then
    setpriv --reuid docker-registry --regid docker-registry --init-groups \
      docker-registry garbage-collect --delete-untagged "$dir/config.yml" >>"$dir/registry.log" 2>&1 ||
      echo "registry-up: garbage collection in $dir/data failed (see $dir/registry.log)" >&2
  fi
  echo "registry-up: starting docker-registry on $addr (log: $dir/registry.log)"
  # --oknodo: a registry still starting from an earlier run (its pid file names a live
  # docker-registry) is left alone and waited for below.
  start-stop-daemon --start --quiet --oknodo --background \
    --make-pidfile --pidfile "$dir/registry.pid" \
    --chuid docker-registry:docker-registry --output "$dir/registry.log" \
    --exec /usr/bin/docker-registry -- serve "$dir/config.yml"
  for _ in $(seq 1 60); do
    if [ "$(v2_status "$addr")" = "$want" ]; then return 0; fi
    sleep 0.5
  done
  echo "registry-up: $addr did not answer /v2/ with $want within 30 s; last lines of" \
    "$dir/registry.log:" >&2
  tail -n 20 "$dir/registry.log" >&2 || true
  return 1
}

install_packages
if ! answers_as "$open_addr" 200; then stop_package_instance; fi

mkdir -p "$state_dir/auth-5001"
htpasswd_file="$state_dir/auth-5001/htpasswd"
# The registry's htpasswd support reads bcrypt entries only (-B).
if ! [ -s "$htpasswd_file" ] || ! htpasswd -vb "$htpasswd_file" "$auth_user" "$auth_password" \
  >/dev/null 2>&1; then
  htpasswd -Bbn "$auth_user" "$auth_password" >"$htpasswd_file.new"
  mv "$htpasswd_file.new" "$htpasswd_file"
fi

start open-5000 "$open_addr" 200
start auth-5001 "$auth_addr" 401 "$htpasswd_file"
echo "registry-up: registries ready on $open_addr (open) and $auth_addr (basic auth)"
