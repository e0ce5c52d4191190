# The worker's own container image, built from the local Debian package with no registry
# and no network: `make image` (scripts/image-build.sh) builds BASE first, a Debian
# bookworm slim rootfs holding the package's runtime libraries (scripts/image-base.sh),
# then this file with a build context holding only the .deb.
#
# Run it with the engine's socket mounted (access to that socket is root on the host; see
# README.md and worker-agent(8), "RUNNING IN A CONTAINER"):
#   docker run -d --name worker-agent --read-only --cap-drop ALL \
#     --security-opt no-new-privileges --network host --cgroupns host \
#     -v /sys/fs/cgroup:/sys/fs/cgroup:ro -v /var/run/docker.sock:/var/run/docker.sock \
#     --group-add "$(stat -c %g /var/run/docker.sock)" worker-agent:latest
ARG BASE=worker-agent-base:bookworm-slim

# Stage 1: install the package with dpkg. Its runtime libraries are in the base; of its
# other dependencies the engine (docker.io) is the host's, reached through the socket, so
# dpkg is told to go on without it. Then the binary must find every library it needs. The packaged configuration serves the
# operator's unix socket in /run/worker-agent, which systemd makes; a read-only container
# has no such directory, so the image's configuration leaves listen_unix empty (mount a
# tmpfs there and set WORKER_AGENT_LISTEN_UNIX to have one).
FROM ${BASE} AS package
LABEL org.worker-agent.stage=package
COPY worker-agent_*.deb /tmp/
RUN set -eu; \
    dpkg --force-depends -i /tmp/worker-agent_*.deb; \
    [ "$(dpkg-query -W -f='${Status}' worker-agent)" = "install ok installed" ]; \
    missing="$(ldd /usr/sbin/worker-agent | grep 'not found' || true)"; \
    if [ -n "$missing" ]; then echo "runtime libraries missing from the base: $missing" >&2; exit 1; fi; \
    /usr/sbin/worker-agent --version; \
    sed -i 's|^listen_unix: .*|listen_unix: ""|' /etc/worker-agent/worker-agent.yaml; \
    /usr/sbin/worker-agent --config /etc/worker-agent/worker-agent.yaml --check-config

# Stage 2: the base with the binary and the packaged config, run as an unprivileged user.
FROM ${BASE}
ARG VERSION=unknown
LABEL org.opencontainers.image.title="worker-agent" \
      org.opencontainers.image.description="ProcessorCluster worker that runs jobs in Docker containers" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT"
COPY --from=package /usr/sbin/worker-agent /usr/sbin/worker-agent
COPY --from=package /etc/worker-agent/worker-agent.yaml /etc/worker-agent/worker-agent.yaml
COPY --from=package /usr/share/doc/worker-agent/copyright /usr/share/doc/worker-agent/copyright
# A fixed uid and gid, so that the owner of a volume mounted at /var/lib/worker-agent is
# known in advance. The user is in no group that reaches the engine: the socket's group is
# the host's, given at run time with --group-add.
RUN set -eu; \
    groupadd --system --gid 990 worker-agent; \
    useradd --system --uid 990 --gid worker-agent --home-dir /var/lib/worker-agent \
      --no-create-home --shell /usr/sbin/nologin worker-agent; \
    install -d -m 0750 -o worker-agent -g worker-agent /var/lib/worker-agent
# Numeric, so that a runtime can tell the user is not root without reading /etc/passwd.
USER 990:990
WORKDIR /var/lib/worker-agent
# The packaged config listens on 127.0.0.1:9000: with --network host that is the host's
# loopback. On a bridge network set WORKER_AGENT_LISTEN=0.0.0.0 and publish the port on a
# loopback address (-p 127.0.0.1:9000:9000): whoever reaches the API can run jobs.
EXPOSE 9000
ENTRYPOINT ["/usr/sbin/worker-agent"]
CMD ["--config", "/etc/worker-agent/worker-agent.yaml"]
