#!/usr/bin/env python3
"""A simulated Docker Engine 29: a unix-socket proxy in front of a real dockerd that
answers the way Docker 29.0 answers about API versions, and forwards everything else.

- Every request whose path carries a version below the minimum (1.44) gets Docker 29's
  exact refusal: HTTP 400, {"message": "client version 1.41 is too old. Minimum supported
  API version is 1.44, please upgrade your client to a newer version"}; above the maximum
  (1.52), Docker's "too new" answer. As in Docker, the version check comes before the
  route, so a versioned /_ping is refused too.
- Every response says Api-Version: 1.52 and Server: Docker/29.0.0 (linux); /version (any
  spelling) says ApiVersion 1.52, MinAPIVersion 1.44, Version 29.0.0.
- Other requests go to the real engine with the version in their path rewritten to one
  it speaks (FORWARD_AS, 1.41 for Debian 12's docker.io); unversioned paths stay so.
  Each request gets a connection of its own to the engine ("Connection: close" both ways),
  so every request is seen and rewritten. A connection upgrade (the hijacked attach,
  "Upgrade: tcp", or BuildKit's h2c session) becomes a raw two-way pipe after the
  engine's 101 answer, half-closes passed on; long streams (wait, logs, build and pull
  progress) are copied as they come.

The range can be changed while it runs (set_range), which is how an engine upgraded
under a running worker looks from the socket. Standard library only.

Run alone: docker29_proxy.py --listen SOCK [--upstream /var/run/docker.sock] [--log FILE]
(make test-docker29 starts it through scripts/docker29-up.sh); the integration tests
import Docker29Proxy and run one in a thread of their own."""

import argparse
import json
import os
import re
import signal
import socket
import sys
import threading
import time

REFUSAL_TOO_OLD = ("client version %s is too old. Minimum supported API version is %s, "
                   "please upgrade your client to a newer version")
REFUSAL_TOO_NEW = "client version %s is too new. Maximum supported API version is %s"
MAX_HEAD = 64 * 1024
VERSIONED = re.compile(r"^/v(\d+)\.(\d+)(/.*)?$")


def parse_version(text):
    major, minor = text.split(".")[:2]
    return int(major), int(minor)


def read_head(sock, buffered=b""):
    """Reads up to the end of an HTTP head; returns (head, rest) or (None, data) at EOF."""
    data = buffered
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_HEAD:
            raise ValueError("HTTP head too large")
        chunk = sock.recv(65536)
        if not chunk:
            return None, data
        data += chunk
    end = data.index(b"\r\n\r\n") + 4
    return data[:end], data[end:]


def split_head(head):
    lines = head.decode("latin-1").split("\r\n")
    start = lines[0]
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return start, headers


def join_head(start, headers):
    return ("\r\n".join([start] + ["%s: %s" % h for h in headers]) + "\r\n\r\n").encode("latin-1")


def header(headers, name):
    for n, v in headers:
        if n.lower() == name.lower():
            return v
    return None


def without(headers, *names):
    lowered = {n.lower() for n in names}
    return [(n, v) for n, v in headers if n.lower() not in lowered]


def pipe(src, dst):
    """Copies src to dst until src ends, then half-closes dst; errors end it quietly."""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def dechunk(body):
    out = b""
    while body:
        line, _, body = body.partition(b"\r\n")
        size = int(line.split(b";")[0], 16)
        if size == 0:
            break
        out += body[:size]
        body = body[size + 2:]
    return out


class Docker29Proxy:
    def __init__(self, listen, upstream="/var/run/docker.sock", min_version="1.44",
                 max_version="1.52", forward_as="1.41", server_version="29.0.0", log=None):
        self.listen = listen
        self.upstream = upstream
        self.forward_as = forward_as
        self.server_version = server_version
        self.log_file = log
        self.lock = threading.Lock()
        self.set_range(min_version, max_version)
        self.refused = []      # targets refused for their version
        self.forwarded = 0
        # (regex, seconds): the engine's answer to a request whose path matches is held
        # that long before it goes on (a slow engine, for the fault tests).
        self.holds = []
        self.server = None
        self.thread = None

    def set_range(self, min_version, max_version, server_version=None):
        """The versions this engine speaks from now on (an upgrade in place)."""
        with self.lock:
            self.min_version = min_version
            self.max_version = max_version
            if server_version:
                self.server_version = server_version

    def hold_answers(self, pattern, seconds):
        """From now on, holds the answer to requests whose path matches pattern (a regex,
        the version left out) for seconds before passing it on."""
        with self.lock:
            self.holds.append((re.compile(pattern), seconds))

    def held_for(self, path):
        with self.lock:
            return max([s for p, s in self.holds if p.search(path)], default=0)

    def log(self, text):
        if self.log_file:
            with self.lock, open(self.log_file, "a") as f:
                f.write(text + "\n")

    def start(self):
        try:
            os.unlink(self.listen)
        except FileNotFoundError:
            pass
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(self.listen)
        # Who may use the engine's socket may use this one: its group, mode 0660.
        os.chown(self.listen, -1, os.stat(self.upstream).st_gid)
        os.chmod(self.listen, 0o660)
        self.server.listen(128)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server:
            try:
                self.server.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.server.close()
            self.server = None
        try:
            os.unlink(self.listen)
        except FileNotFoundError:
            pass

    def serve(self):
        while self.server:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(client,), daemon=True).start()

    def common_headers(self):
        with self.lock:
            return [("Api-Version", self.max_version), ("Docker-Experimental", "false"),
                    ("Ostype", "linux"), ("Server", "Docker/%s (linux)" % self.server_version)]

    def refuse(self, client, target, message):
        body = (json.dumps({"message": message}, separators=(",", ":")) + "\n").encode()
        headers = self.common_headers() + [("Content-Type", "application/json"),
                                           ("Content-Length", str(len(body))),
                                           ("Connection", "close")]
        client.sendall(join_head("HTTP/1.1 400 Bad Request", headers) + body)
        with self.lock:
            self.refused.append(target)
        self.log("refused %s: %s" % (target, message))

    def handle(self, client):
        upstream = None
        try:
            head, rest = read_head(client)
            if head is None:
                return
            start, headers = split_head(head)
            method, target, protocol = start.split(" ", 2)
            asked_target = target
            with self.lock:
                low, high = self.min_version, self.max_version
            path = target
            match = VERSIONED.match(target.split("?")[0])
            if match:
                asked = "%s.%s" % (match.group(1), match.group(2))
                if parse_version(asked) < parse_version(low):
                    self.refuse(client, target, REFUSAL_TOO_OLD % (asked, low))
                    return
                if parse_version(asked) > parse_version(high):
                    self.refuse(client, target, REFUSAL_TOO_NEW % (asked, high))
                    return
                path = target[len("/v" + asked):]
                target = "/v" + self.forward_as + path
            is_version = path.split("?")[0] == "/version"
            connection = (header(headers, "Connection") or "").lower()
            upgrade = "upgrade" in [t.strip() for t in connection.split(",")]
            if not upgrade:
                headers = without(headers, "Connection", "Keep-Alive") + [("Connection", "close")]
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.upstream)
            upstream.sendall(join_head("%s %s %s" % (method, target, protocol), headers) + rest)
            with self.lock:
                self.forwarded += 1
            self.log("%s %s -> %s" % (method, asked_target, target))
            # The request's body (if any) flows on by itself; the answer is read here.
            sender = threading.Thread(target=pipe, args=(client, upstream), daemon=True)
            sender.start()
            answer = b""
            while True:
                head, answer = read_head(upstream, answer)
                if head is None:
                    return
                status_line, answer_headers = split_head(head)
                status = int(status_line.split(" ")[1])
                answer_headers = without(answer_headers, "Api-Version", "Server", "Ostype") + \
                    self.common_headers()[:1] + self.common_headers()[2:]
                if 100 <= status < 200 and status != 101:
                    client.sendall(join_head(status_line, answer_headers))  # 100 Continue
                    continue
                break
            hold = self.held_for(path.split("?")[0])
            if hold:
                self.log("holding the answer to %s %s for %s s" % (method, asked_target, hold))
                time.sleep(hold)
            if status == 101:
                client.sendall(join_head(status_line, answer_headers) + answer)
                pipe(upstream, client)
                sender.join()
                return
            answer_headers = without(answer_headers, "Connection", "Keep-Alive") + \
                [("Connection", "close")]
            if is_version and status == 200:
                while True:
                    chunk = upstream.recv(65536)
                    if not chunk:
                        break
                    answer += chunk
                if (header(answer_headers, "Transfer-Encoding") or "").lower() == "chunked":
                    answer = dechunk(answer)
                body = json.dumps(self.rewrite_version(json.loads(answer))).encode() + b"\n"
                answer_headers = without(answer_headers, "Transfer-Encoding", "Content-Length") + \
                    [("Content-Length", str(len(body)))]
                client.sendall(join_head(status_line, answer_headers) + body)
                return
            client.sendall(join_head(status_line, answer_headers) + answer)
            pipe(upstream, client)
        except (OSError, ValueError) as e:
            self.log("connection ended: %s" % e)
        finally:
            # shutdown first: it wakes the other thread's recv, which close alone does not.
            for s in (client, upstream):
                if s is not None:
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    s.close()

    def rewrite_version(self, body):
        with self.lock:
            low, high, server = self.min_version, self.max_version, self.server_version
        body["ApiVersion"] = high
        body["MinAPIVersion"] = low
        body["Version"] = server
        for component in body.get("Components") or []:
            if component.get("Name") == "Engine":
                component["Version"] = server
                details = component.setdefault("Details", {})
                details["ApiVersion"] = high
                details["MinAPIVersion"] = low
        return body


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listen", required=True, help="unix socket to serve on")
    parser.add_argument("--upstream", default="/var/run/docker.sock")
    parser.add_argument("--min", default="1.44")
    parser.add_argument("--max", default="1.52")
    parser.add_argument("--forward-as", default="1.41",
                        help="the API version the real engine is sent")
    parser.add_argument("--log", help="append one line per request here")
    parser.add_argument("--pidfile")
    args = parser.parse_args()
    proxy = Docker29Proxy(args.listen, args.upstream, args.min, args.max, args.forward_as,
                          log=args.log)
    proxy.start()
    if args.pidfile:
        with open(args.pidfile, "w") as f:
            f.write("%d\n" % os.getpid())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print("docker29-proxy: %s -> %s (API %s to %s)" % (args.listen, args.upstream, args.min, args.max),
          file=sys.stderr, flush=True)
    stop.wait()
    proxy.stop()


if __name__ == "__main__":
    main()
