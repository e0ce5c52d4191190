#!/usr/bin/env bash
# Builds the worker's container image (Dockerfile) from the local Debian package, with no
# registry: the base image comes from scripts/image-base.sh, holding the package's runtime
# libraries (its Depends, less the engine and the tools of its maintainer scripts), and the
# build context holds the .deb alone. Tags IMAGE_NAME:<version> and IMAGE_NAME:latest.
# Usage: image-build.sh DEB
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
deb="$1"
name="${IMAGE_NAME:-worker-agent}"
[ -f "$deb" ] || { echo "image-build: no package at $deb (make deb)" >&2; exit 1; }
version="$(dpkg-deb -f "$deb" Version)"

# docker.io | docker-ce | podman-docker: the engine is the host's, reached through the
# mounted socket. adduser: the package's postinst makes its user with it; the Dockerfile
# makes its own. procps: a dependency of earlier packages (/bin/kill for the unit's
# ExecReload). ca-certificates: not a Depends, but pulls from TLS registries need the CA
# bundle libcurl reads.
mapfile -t runtime < <( { dpkg-deb -f "$deb" Depends | tr ',' '\n' \
    | sed -E 's/^ *([^ |(]+).*/\1/' | grep -vxE 'docker\.io|docker-ce|adduser|procps|'; \
  echo ca-certificates; } | sort -u)
base="$("$repo/scripts/image-base.sh" "${runtime[@]}")"

ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
cp "$repo/Dockerfile" "$ctx/"
cp "$deb" "$ctx/"
start=$SECONDS
old_id="$(docker image inspect -f '{{.Id}}' "$name:latest" 2>/dev/null || true)"
if ! docker build --build-arg BASE="$base" --build-arg VERSION="$version" -t "$name:$version" -t "$name:latest" "$ctx" \
    >"$ctx/build.log" 2>&1; then
  cat "$ctx/build.log" >&2
  echo "image-build: docker build failed" >&2
  exit 1
fi
grep -E '^worker-agent [0-9]' "$ctx/build.log" || true
# The first stages of earlier builds (untagged; the newest is this build's, kept as its
# cache), then the image this build replaced, once nothing names it any more.
docker image ls -q --filter dangling=true --filter label=org.worker-agent.stage=package \
  | tail -n +2 | xargs -r docker image rm >/dev/null 2>&1 || true
if [ -n "$old_id" ] && [ "$old_id" != "$(docker image inspect -f '{{.Id}}' "$name:latest")" ] &&
  [ -z "$(docker image inspect -f '{{join .RepoTags " "}}' "$old_id" 2>/dev/null)" ]; then
  docker image rm "$old_id" >/dev/null 2>&1 || true
fi
# What the image promises: it runs the worker, as a user other than root, with no manual
# pages, documentation (but copyright files) or locales.
user="$(docker image inspect -f '{{.Config.User}}' "$name:$version")"
case "${user%%:*}" in "" | 0 | root)
  echo "image-build: $name:$version runs as root ('$user')" >&2; exit 1 ;;
esac
docker run --rm --network none "$name:$version" --version
extra="$(docker run --rm --network none --entrypoint sh "$name:$version" -c \
  'find /usr/share/man /usr/share/locale /usr/share/info -mindepth 1 -not -type d; \
   find /usr/share/doc -mindepth 1 -not -type d -not -name copyright' | head -n 5)"
if [ -n "$extra" ]; then
  echo "image-build: $name:$version holds documentation, e.g.:" >&2
  echo "$extra" >&2
  exit 1
fi
size="$(docker image inspect -f '{{.Size}}' "$name:$version" | awk '{ printf "%.0f MB", $1 / 1e6 }')"
echo "image-build: $name:$version ($size, on $base) built in $((SECONDS - start)) s"
