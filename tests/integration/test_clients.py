"""Clients that vanish, stall or crowd the worker: connections cut mid-request and
mid-response, a client that pipelines without ever reading, slowloris, thousands of idle
connections over max_connections, and the open-file limit fitted at start. After each,
the worker still answers at once, still runs a job, and holds no descriptor it did not
hold before. Figures (RSS, times) are printed to stderr for the record."""

import json
import os
import resource
import selectors
import socket
import struct
import sys
import threading
import time
import unittest

from harness import IMAGE, Worker, WorkerTestCase, make_job

MAX_CONNECTIONS = 1000
# HttpServerOptions::header_timeout: a request head must be complete this long after its
# first byte (after the accept, for a fresh connection), however it trickles in.
HEAD_DEADLINE = 10.0
# A worker that answers slower than this is not "serving"; generous for a loaded 2-core box.
PROMPT = 5.0
SETTLE = 15.0


def note(*args):
    print("[test_clients]", *args, file=sys.stderr, flush=True)


def socket_inodes(pid, table, port=None):
    """Inodes of the sockets in /proc/<pid>/net/<table>; for tcp, only those on port."""
    inodes = set()
    try:
        with open("/proc/%d/net/%s" % (pid, table)) as f:
            next(f)
            for line in f:
                fields = line.split()
                if table.startswith("tcp"):
                    if int(fields[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(fields[9])
                else:
                    inodes.add(fields[6])
    except FileNotFoundError:
        pass
    return inodes


def descriptors(pid, port):
    """(descriptors other than engine connections, HTTP sockets on port incl. the listener).

    Unix sockets are the engine's connections (docker_host is unix://), which curl
    caches up to 16 of at its discretion: they are counted out. Everything else the
    daemon holds must come back to where it was."""
    http = socket_inodes(pid, "tcp", port) | socket_inodes(pid, "tcp6", port)
    unix = socket_inodes(pid, "unix")
    own = http_count = 0
    for name in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, name))
        except FileNotFoundError:  # closed while we looked
            continue
        inode = target[len("socket:["):-1] if target.startswith("socket:[") else None
        if inode in http:
            http_count += 1
        if inode is None or inode not in unix:
            own += 1
    return own, http_count


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def raise_nofile(wanted):
    """Raises this process's soft RLIMIT_NOFILE to wanted; False if the hard limit is lower."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < wanted:
        return False
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return True


def reset_close(sock):
    """Closes with a RST, as a client that crashed or was killed would."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def read_until_closed(sock, timeout):
    """Everything sock receives until the peer closes it (or resets it, or timeout)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    return data


def collect(socks, closed_wanted, timeout):
    """Reads every socket of socks without blocking until closed_wanted of them are closed
    by the peer (or timeout). Returns ({sock: bytes received}, set of closed socks)."""
    selector = selectors.DefaultSelector()
    received = {}
    for sock in socks:
        sock.setblocking(False)
        received[sock] = b""
        selector.register(sock, selectors.EVENT_READ)
    closed = set()
    deadline = time.monotonic() + timeout
    while len(closed) < closed_wanted and time.monotonic() < deadline:
        for key, _ in selector.select(0.2):
            try:
                chunk = key.fileobj.recv(65536)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                chunk = b""
            if chunk:
                received[key.fileobj] += chunk
            else:
                closed.add(key.fileobj)
                selector.unregister(key.fileobj)
    selector.close()
    return received, closed


class ClientsTestCase(WorkerTestCase):
    """Helpers shared by the classes below: descriptor baselines and the after-check."""

    def connect(self, **kwargs):
        return socket.create_connection(("127.0.0.1", self.worker.port), timeout=10, **kwargs)

    def baseline(self):
        """The daemon's own descriptors now, once nothing of a previous test is left."""
        pid, port = self.worker.pid, self.worker.port
        deadline = time.monotonic() + SETTLE
        while True:
            own, http = descriptors(pid, port)
            if http == 1 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(http, 1, "HTTP connections still open before the test")
        # A file the sampler is reading just then would count: take the least of a few.
        samples = [own]
        for _ in range(3):
            time.sleep(0.05)
            samples.append(descriptors(pid, port)[0])
        return min(samples)

    def assertNoDescriptorLeak(self, baseline):
        pid, port = self.worker.pid, self.worker.port
        deadline = time.monotonic() + SETTLE
        while True:
            own, http = descriptors(pid, port)
            if (own <= baseline and http == 1) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(http, 1, "HTTP connections left open by the daemon")
        self.assertLessEqual(own, baseline, "descriptors leaked: %d before, %d after" % (baseline, own))

    def assertStillServing(self, baseline):
        """GET /health answers promptly, a job submitted now finishes, no descriptor leaked."""
        started = time.monotonic()
        status, _ = self.worker.request("GET", "/health")
        elapsed = time.monotonic() - started
        self.assertEqual(status, 200)
        self.assertLess(elapsed, PROMPT)
        job = make_job(cmd=["true"])
        status, body = self.worker.submit(job)
        self.assertEqual(status, 202, body)
        self.assertEqual(self.worker.wait_for(job["job_id"])["state"], "finished")
        self.assertNoDescriptorLeak(baseline)

    def timed_health(self):
        """(status, seconds) of one GET /health on a fresh connection."""
        started = time.monotonic()
        status, _ = self.worker.request("GET", "/health")
        return status, time.monotonic() - started


class VanishingClients(ClientsTestCase):
    config = {"allowed_images": [IMAGE], "max_connections": MAX_CONNECTIONS}
    big_job_id = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # A record of about 1 MB (its stdout) for the responses cut short below.
        job = make_job(cmd=["sh", "-c", "head -c 900000 /dev/zero | tr '\\0' x"])
        status, body = cls.worker.submit(job)
        assert status == 202, body
        record = cls.worker.wait_for(job["job_id"])
        assert record["state"] == "finished" and len(record["stdout"]) == 900000, record["state"]
        cls.big_job_id = job["job_id"]

    def test_connection_closed_mid_request(self):
        baseline = self.baseline()
        _, listing = self.worker.request("GET", "/jobs")
        jobs_before = listing["count"]
        job = make_job(cmd=["true"])
        body = json.dumps(job).encode()
        head = (b"POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n")
        cuts = [
            b"GET /hea",
            b"GET /health HTTP/1.1\r\nHost: x\r\nAcc",
            b"POST /jobs HTTP/1.1\r\nContent-Type: appl",
            head % len(body) + body[:len(body) // 2],  # half the body
            head % (len(body) + 100) + body,  # all of it, and a Content-Length promising more
        ]
        for round_ in range(20):
            for raw in cuts:
                sock = self.connect()
                sock.sendall(raw)
                if round_ % 2:
                    reset_close(sock)
                else:
                    sock.close()
        # Once the daemon has closed all of them it has seen every byte they sent.
        self.assertNoDescriptorLeak(baseline)
        self.assertEqual(self.worker.job(job["job_id"])[0], 404, "a cut-short POST created the job")
        _, listing = self.worker.request("GET", "/jobs")
        self.assertEqual(listing["count"], jobs_before)
        self.assertStillServing(baseline)

    def test_connection_closed_mid_response(self):
        baseline = self.baseline()
        record = b"GET /jobs/%s HTTP/1.1\r\nHost: x\r\n\r\n" % self.big_job_id.encode()
        listing = b"GET /jobs?limit=1000 HTTP/1.1\r\nHost: x\r\n\r\n"
        for round_ in range(20):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            # A small receive buffer leaves most of the response waiting in the daemon.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.settimeout(10)
            sock.connect(("127.0.0.1", self.worker.port))
            sock.sendall((record if round_ % 2 else listing) * 3)  # pipelined, too
            self.assertTrue(sock.recv(16).startswith(b"HTTP/1.1 200"))
            if round_ % 4 < 2:
                reset_close(sock)
            else:
                sock.close()  # with unread data the kernel sends a RST anyway
        self.assertStillServing(baseline)

    def test_client_that_pipelines_and_never_reads(self):
        baseline = self.baseline()
        pid = self.worker.pid
        rss_before = rss_kb(pid)
        hog = self.connect()
        hog.setblocking(False)
        requests = b"GET /jobs/%s HTTP/1.1\r\nHost: x\r\n\r\n" % self.big_job_id.encode() * 200
        sent = 0
        blocked_since = None
        deadline = time.monotonic() + 30
        # Send until the socket stays full for a second: the daemon has stopped reading.
        while time.monotonic() < deadline:
            try:
                sent += hog.send(requests)
                blocked_since = None
            except BlockingIOError:
                now = time.monotonic()
                blocked_since = blocked_since or now
                if now - blocked_since > 1.0:
                    break
                time.sleep(0.01)
        self.assertIsNotNone(blocked_since, "the daemon kept reading %d bytes of requests" % sent)
        # Meanwhile other clients are served, and the hog's unread answers do not pile up.
        statuses = []
        for _ in range(5):
            statuses.append(self.timed_health())
            time.sleep(0.2)
        rss_during = rss_kb(pid)
        note("never-reading client: sent %d KiB of requests (~%d requests, each answered with a "
             "~1 MB record) before the daemon stopped reading; daemon RSS %d -> %d KiB; "
             "/health meanwhile %s" % (sent // 1024, sent // (len(requests) // 200), rss_before,
                                       rss_during, ["%d in %.3f s" % s for s in statuses]))
        for status, elapsed in statuses:
            self.assertEqual(status, 200)
            self.assertLess(elapsed, PROMPT)
        # One answer at a time waits in the daemon (the rest sit in socket buffers, which
        # are not RSS); thousands of unread 1 MB answers would be gigabytes.
        self.assertLess(rss_during - rss_before, 64 * 1024)
        hog.close()
        self.assertStillServing(baseline)


class SlowClients(ClientsTestCase):
    config = {"allowed_images": [IMAGE], "max_connections": MAX_CONNECTIONS}

    def test_slowloris_is_closed_at_the_head_deadline(self):
        baseline = self.baseline()
        head = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"s" * 64 + b"\r\n\r\n"
        slow = []
        started = time.monotonic()
        for _ in range(20):
            sock = self.connect()
            sock.setblocking(False)
            slow.append({"sock": sock, "data": b"", "closed_at": None})
        done = threading.Event()

        def trickle():
            # One byte a second on each connection until the daemon closes it.
            for i in range(len(head)):
                for s in slow:
                    if s["closed_at"] is not None:
                        continue
                    try:
                        s["sock"].send(head[i:i + 1])
                    except OSError:
                        pass
                    try:
                        while True:
                            chunk = s["sock"].recv(4096)
                            if not chunk:
                                s["closed_at"] = time.monotonic()
                                break
                            s["data"] += chunk
                    except BlockingIOError:
                        pass
                    except OSError:
                        s["closed_at"] = time.monotonic()
                if all(s["closed_at"] is not None for s in slow) or done.is_set():
                    return
                time.sleep(1.0)

        thread = threading.Thread(target=trickle, daemon=True)
        thread.start()
        statuses = []
        while thread.is_alive() and time.monotonic() - started < HEAD_DEADLINE + 20:
            statuses.append(self.timed_health())
            time.sleep(0.5)
        done.set()
        thread.join(5)
        for s in slow:
            s["sock"].close()
        closed = [s["closed_at"] - started for s in slow if s["closed_at"] is not None]
        note("slowloris: %d connections closed %.1f..%.1f s after they opened (head deadline %.0f s); "
             "%d /health meanwhile, slowest %.3f s" % (len(closed), min(closed or [0]), max(closed or [0]),
                                                      HEAD_DEADLINE, len(statuses),
                                                      max(e for _, e in statuses)))
        self.assertEqual(len(closed), len(slow), "slow connections left open")
        for s in slow:
            self.assertTrue(s["data"].startswith(b"HTTP/1.1 408 "), s["data"][:100])
            self.assertIn(b"REQUEST_TIMEOUT", s["data"])
        # A timer cannot fire early; late only by the load on the machine.
        self.assertGreaterEqual(min(closed), HEAD_DEADLINE - 0.5)
        self.assertLess(max(closed), HEAD_DEADLINE + 15)
        self.assertGreaterEqual(len(statuses), 10)
        for status, elapsed in statuses:
            self.assertEqual(status, 200)
            self.assertLess(elapsed, PROMPT)
        self.assertStillServing(baseline)


class CrowdingClients(ClientsTestCase):
    config = {"allowed_images": [IMAGE], "max_connections": MAX_CONNECTIONS}
    CLIENTS = 5000

    def test_thousands_of_idle_connections_over_max_connections(self):
        if not raise_nofile(self.CLIENTS + 256):
            self.skipTest("the hard RLIMIT_NOFILE is below %d" % (self.CLIENTS + 256))
        baseline = self.baseline()
        pid = self.worker.pid
        rss_before = rss_kb(pid)
        log_start = len(self.worker.log_lines)
        started = time.monotonic()
        socks = []
        try:
            for _ in range(self.CLIENTS):
                socks.append(self.connect())
            opened = time.monotonic() - started
            # Every connection is idle: it sends nothing. Those over the cap are answered
            # 503 and closed by the daemon; read what each received.
            received, closed = collect(socks, self.CLIENTS - MAX_CONNECTIONS, 8)
            rss_held = rss_kb(pid)
            held = [s for s in socks if s not in closed]
            refused = [s for s in closed if received[s].startswith(b"HTTP/1.1 503 ")]
            timed_out = [s for s in closed if received[s].startswith(b"HTTP/1.1 408 ")]
            bare_close = [s for s in closed if not received[s]]
            # A new client meanwhile is answered at once, with a 503 while the cap is reached.
            status, elapsed = self.timed_health_or_503()
            note("%d idle connections opened in %.2f s with max_connections=%d: %d held, %d got 503, "
                 "%d closed without a word, %d timed out (408); daemon RSS %d KiB before, %d KiB "
                 "holding them (%+d KiB); a new client meanwhile got %d in %.3f s"
                 % (self.CLIENTS, opened, MAX_CONNECTIONS, len(held), len(refused), len(bare_close),
                    len(timed_out), rss_before, rss_held, rss_held - rss_before, status, elapsed))
            self.assertEqual(len(refused) + len(bare_close) + len(timed_out), len(closed),
                             "unexpected answers: %r" % [received[s][:60] for s in closed
                                                         if s not in refused + bare_close + timed_out][:3])
            self.assertLessEqual(len(held), MAX_CONNECTIONS)
            # The first MAX_CONNECTIONS accepted are held until their head deadline, so
            # only a machine too slow to open them all within it sees a 408 here.
            self.assertGreaterEqual(len(held) + len(timed_out), MAX_CONNECTIONS)
            self.assertGreater(len(refused), 0)
            for sock in refused:
                self.assertIn(b"TOO_MANY_CONNECTIONS", received[sock])
            self.assertIn(status, (200, 503))
            self.assertLess(elapsed, PROMPT)
            # Connections cost the daemon little memory: a few KiB each, not a buffer each.
            self.assertLess(rss_held - rss_before, 64 * 1024)
            warnings = [l for l in self.worker.log_lines[log_start:] if "connection limit of" in l]
            self.assertGreaterEqual(len(warnings), 1)
            self.assertNotIn("Too many open files", self.worker.log())
        finally:
            for sock in socks:
                sock.close()
        self.assertStillServing(baseline)

    def timed_health_or_503(self):
        started = time.monotonic()
        sock = self.connect()
        try:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = read_until_closed(sock, 10)
        finally:
            sock.close()
        status = int(data[9:12]) if data.startswith(b"HTTP/1.1 ") else 0
        return status, time.monotonic() - started


class DescriptorLimitAtStart(unittest.TestCase):
    """The daemon fits RLIMIT_NOFILE to max_connections at start (core/descriptor_limit)."""

    def start_worker(self, soft, hard):
        def limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        worker = Worker({"allowed_images": [IMAGE], "max_connections": MAX_CONNECTIONS},
                        preexec_fn=limit)
        self.addCleanup(worker.close)
        return worker

    def limits(self, pid):
        with open("/proc/%d/limits" % pid) as f:
            for line in f:
                if line.startswith("Max open files"):
                    return tuple(int(v) for v in line.split()[3:5])
        raise AssertionError("no open-file limit for %d" % pid)

    def test_soft_limit_is_raised_to_fit(self):
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard < 2048:
            self.skipTest("hard RLIMIT_NOFILE %d leaves no room" % hard)
        worker = self.start_worker(256, hard)
        # 1000 connections + 64 + 12 per job slot (2) for the daemon itself.
        worker.wait_log(r"raised the open-file limit \(RLIMIT_NOFILE\) from 256 to 1088")
        self.assertEqual(self.limits(worker.pid)[0], 1088)

    def test_low_hard_limit_answers_503_earlier(self):
        if not raise_nofile(600):
            self.skipTest("the hard RLIMIT_NOFILE is below 600")
        worker = self.start_worker(300, 300)
        worker.wait_log(r"too low for max_connections=1000 .*connections beyond 212 will get 503")
        socks = [socket.create_connection(("127.0.0.1", worker.port), timeout=10) for _ in range(400)]
        try:
            received, closed = collect(socks, 400 - 212, 8)
            refused = [s for s in closed if received[s].startswith(b"HTTP/1.1 503 ")]
            note("hard RLIMIT_NOFILE 300: of 400 idle connections, %d got 503" % len(refused))
            self.assertGreaterEqual(len(refused), 400 - 212)
        finally:
            for s in socks:
                s.close()
        self.assertNotIn("Too many open files", worker.log())
        self.assertEqual(worker.request("GET", "/health")[0], 200)


if __name__ == "__main__":
    unittest.main()
