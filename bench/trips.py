#!/usr/bin/env python3
"""Engine round trips per job: a counting proxy on the Docker socket.

Starts each worker-agent binary given with docker_host pointing at a Unix socket proxy
that forwards every connection to the real engine and records, per connection, the
requests it carries (method and path, the API version prefix and container ids
stripped). Then runs the same trivial job (busybox cat of its stdin) N times one after
another and prints requests and connections per job, and which requests they were.
The worker's own background calls (the periodic /_ping, /version, /info, the start-up
sweep) are left out: only requests under /containers and /images count, and only those
made while the jobs ran. The job is bench.py's (TEST_IMAGE, worker-agent-busybox:1).

    bench/trips.py [--jobs N] [--rounds N] [--json PATH] BINARY [BINARY ...]

Runs the binaries in turn, several rounds interleaved, so that each is measured under
the same conditions (the counts do not depend on load anyway)."""

import argparse
import collections
import json
import os
import re
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (start_worker_agent, the protocol client)

DOCKER_SOCK = "/var/run/docker.sock"
ID = re.compile(r"/[0-9a-f]{64}(?=/|$)")


class CountingProxy:
    """Listens on a Unix socket; each accepted connection is piped to the engine. The
    client's bytes are parsed as HTTP/1.1 requests (headers, then Content-Length or
    chunked bodies) until a request is answered with 101 or hijacked by attach, after
    which both directions are only piped."""

    def __init__(self, path, upstream=DOCKER_SOCK):
        self.path = path
        self.upstream = upstream
        self.lock = threading.Lock()
        self.connections = []  # per connection: list of "METHOD /path"
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(64)
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            engine = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            engine.connect(self.upstream)
            with self.lock:
                requests = []
                self.connections.append(requests)
            threading.Thread(target=self.client_to_engine, args=(client, engine, requests),
                             daemon=True).start()
            threading.Thread(target=self.pipe, args=(engine, client), daemon=True).start()

    @staticmethod
    def pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (dst,):
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def client_to_engine(self, client, engine, requests):
        buf = b""
        parsing = True
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    break
                engine.sendall(data)
                if not parsing:
                    continue
                buf += data
                while parsing:
                    end = buf.find(b"\r\n\r\n")
                    if end < 0:
                        break
                    head = buf[:end].decode("latin-1").split("\r\n")
                    method, target = head[0].split(" ")[:2]
                    headers = {h.split(":", 1)[0].strip().lower(): h.split(":", 1)[1].strip()
                               for h in head[1:] if ":" in h}
                    path = ID.sub("/{id}", re.sub(r"^/v[0-9.]+", "", target.split("?")[0]))
                    with self.lock:
                        requests.append("%s %s" % (method, path))
                    rest = buf[end + 4:]
                    if path.endswith("/attach") or headers.get("upgrade"):
                        parsing = False  # hijacked: raw stream from here on
                        break
                    length = int(headers.get("content-length", "0"))
                    if headers.get("transfer-encoding", "").lower() == "chunked":
                        # Not sent by worker-agent for these calls; stop counting rather
                        # than misparse.
                        parsing = False
                        break
                    if len(rest) < length:
                        buf = b""  # the body's bytes are not needed: piped as they come
                        skip = length - len(rest)
                        while skip > 0:
                            more = client.recv(min(65536, skip))
                            if not more:
                                raise OSError("closed")
                            engine.sendall(more)
                            skip -= len(more)
                        break
                    buf = rest[length:]
        except OSError:
            pass
        try:
            engine.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def snapshot(self):
        with self.lock:
            return [list(c) for c in self.connections]

    def close(self):
        self.listener.close()


def job_requests(connections, opened_before):
    """Requests about containers and images, and how many connections opened during the
    jobs carried some (connections[i] for i < opened_before existed before: kept alive)."""
    def counted(r):
        return " /containers" in r or " /images" in r
    reqs = [r for c in connections for r in c if counted(r)]
    conns = sum(1 for c in connections[opened_before:] if any(counted(r) for r in c))
    return reqs, conns


def measure(binary, jobs):
    sock = tempfile.mktemp(prefix="wa-trips-", suffix=".sock")
    proxy = CountingProxy(sock)
    state = tempfile.mkdtemp(prefix="wa-trips-")
    proc, worker = bench.start_worker_agent(binary, {
        "worker_id": "trips-" + os.path.basename(state)[-6:], "listen": "127.0.0.1", "port": 0,
        "docker_host": "unix://" + sock, "jobs_path": state, "max_concurrent_jobs": 1,
        "shutdown_drain_seconds": 0,
    })
    try:
        time.sleep(1.0)  # the start-up sweep and the first ping are over
        before = proxy.snapshot()
        seen = [len(c) for c in before]
        for _ in range(jobs):
            worker.run_job(poll_s=0.005)
        time.sleep(0.2)
        after = proxy.snapshot()
        new = [c[seen[i]:] if i < len(seen) else c for i, c in enumerate(after)]
        reqs, conns = job_requests(new, len(seen))
        return {"requests_per_job": len(reqs) / jobs, "new_connections_per_job": conns / jobs,
                "requests": dict(collections.Counter(reqs))}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proxy.close()
        os.unlink(sock)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binaries", nargs="+")
    ap.add_argument("--jobs", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json")
    args = ap.parse_args()
    results = {b: [] for b in args.binaries}
    for _ in range(args.rounds):
        for b in args.binaries:
            results[b].append(measure(b, args.jobs))
    for b, rounds in results.items():
        print("%s" % b)
        for r in rounds:
            print("  %.2f requests/job, %.2f new connections/job" %
                  (r["requests_per_job"], r["new_connections_per_job"]))
            for req, n in sorted(r["requests"].items()):
                print("    %5d  %s" % (n, req))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"jobs": args.jobs, "rounds": results}, f, indent=1)


if __name__ == "__main__":
    main()
