# shellcheck shell=bash
# Debian rootfs images built with mmdebstrap and imported into the engine with
# `docker import`; no registry is involved. Shared by scripts/image-base.sh (the base of
# the worker's own image) and tests/package/rootfs.sh (the systemd rootfs of the package
# test). Sourced, not run: it only defines functions.

# The file itself, for the callers' input hashes: a change here rebuilds their images.
# shellcheck disable=SC2034  # used by the scripts that source this one
debian_rootfs_lib="${BASH_SOURCE[0]}"

# debian_mirrors SUITE: the Debian archive entries apt uses on this machine for SUITE and
# its -updates and -security suites, one "deb URI SUITE COMPONENT" line each. A suite apt
# has no sources for (trixie on a bookworm host) gets the same mirrors as the suites it
# has, with the suite names changed. Other vendors' repositories are left out: the test
# machines reach only Debian's mirror. Fails, saying why, when there is none.
debian_mirrors() {
  local suite="$1" all lines
  # shellcheck disable=SC2016  # $(...) are apt's format fields, not the shell's
  all="$(apt-get indextargets \
      --format '$(ORIGIN)|$(TARGET_OF)|$(IDENTIFIER)|deb $(REPO_URI) $(RELEASE) $(COMPONENT)' \
    | awk -F'|' '$1 == "Debian" && $2 == "deb" && $3 == "Packages" { print $4 }' | sort -u)" || true
  lines="$(grep -E " $suite(-updates|-security)? " <<<"$all")" || true
  if [ -z "$lines" ]; then
    # "deb URI bookworm-security main" -> "deb URI trixie-security main"; backports and
    # the like have no counterpart to take.
    lines="$(awk -v s="$suite" '$3 ~ /^[a-z]+(-updates|-security)?$/ {
        sub(/^[a-z]+/, s, $3); print }' <<<"$all" | sort -u)" || true
  fi
  if [ -z "$lines" ]; then
    echo "apt has no Debian sources configured (apt-get update?)" >&2
    return 1
  fi
  printf '%s\n' "$lines"
}

# debian_rootfs_import TAG IMPORT_OPTION... -- MMDEBSTRAP_ARGUMENT...: runs mmdebstrap with
# its arguments (the target must be "-", a tarball on stdout) and pipes the tarball into
# `docker import` with the import options. The image gets TAG
# only once both have succeeded, so a failed build is never mistaken for a finished one.
# mmdebstrap gets a session of its own: when it fails it signals its whole process group,
# which would otherwise include whoever ran the caller.
debian_rootfs_import() {
  local tag="$1" import_options=()
  shift
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    import_options+=("$1")
    shift
  done
  shift || { echo "debian_rootfs_import: no -- before mmdebstrap's arguments" >&2; return 2; }
  command -v mmdebstrap >/dev/null || {
    echo "mmdebstrap is missing (make deps)" >&2
    return 1
  }
  local partial="${tag%%:*}:partial-$$"
  if ! setsid --wait mmdebstrap "$@" \
       | docker import "${import_options[@]}" - "$partial" >/dev/null; then
    docker image rm "$partial" >/dev/null 2>&1 || true
    return 1
  fi
  docker tag "$partial" "$tag"
  docker image rm "$partial" >/dev/null
}

# debian_rootfs_lock NAME: holds an exclusive lock named NAME until the calling script
# exits, so that two runs building the same image (.ci/run prepares them in the
# background while the tests that need them may already ask) build it once: the second
# waits, then finds it.
debian_rootfs_lock() {
  local dir=/run/lock
  [ -w "$dir" ] || dir="${TMPDIR:-/tmp}"
  exec {debian_rootfs_lock_fd}>"$dir/worker-agent-rootfs-$1.lock"
  flock "$debian_rootfs_lock_fd"
}
