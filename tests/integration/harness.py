"""Test harness: runs the real worker-agent on a loopback port against the real Docker
engine, and talks to both over HTTP. Standard library only."""

import http.client
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

BIN = os.environ.get("WORKER_AGENT_BIN", os.path.join(os.path.dirname(__file__), "../../build/src/worker-agent"))
IMAGE = os.environ.get("TEST_IMAGE", "worker-agent-busybox:1")
DOCKER_SOCK = "/var/run/docker.sock"
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
# A command the daemon runs under, e.g. "valgrind --leak-check=full" (make test-valgrind).
# Under valgrind the harness gives it a log file of its own and fails the test that closes
# the worker when that log reports errors.
WRAPPER = shlex.split(os.environ.get("WORKER_AGENT_WRAPPER", ""))
# Multiplies the time the harness and the tests give the daemon to react (a wrapped daemon
# is many times slower).
# The first line of a sanitizer's report on stderr.
SANITIZER_REPORT = re.compile(r"ERROR: (Address|Leak)Sanitizer|^\S+:\d+:\d+: runtime error: ")
TIMEOUT_SCALE = float(os.environ.get("WORKER_AGENT_TIMEOUT_SCALE", "1"))


def scaled(seconds):
    """seconds of waiting for the daemon, stretched by WORKER_AGENT_TIMEOUT_SCALE."""
    return seconds * TIMEOUT_SCALE


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("docker", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def docker(method, path, body=None, sock=DOCKER_SOCK):
    """One Engine API call (to the engine on sock); returns (status, parsed JSON or raw text)."""
    conn = UnixHTTPConnection(sock)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        try:
            return resp.status, json.loads(data) if data else None
        except ValueError:
            return resp.status, data.decode(errors="replace")
    finally:
        conn.close()


def containers_of(worker_id, sock=DOCKER_SOCK):
    filters = json.dumps({"label": ["worker-agent.worker_id=" + worker_id]})
    status, body = docker("GET", "/containers/json?all=1&filters=" + urlquote(filters), sock=sock)
    assert status == 200, body
    return body


def urlquote(s):
    from urllib.parse import quote
    return quote(s, safe="")


class Worker:
    """A worker-agent process with its own worker_id and config. With token set, request()
    sends it as a bearer token (a worker with auth_token needs one)."""

    token = None  # also for the HTTP helpers of a Worker made with Worker.__new__

    def __init__(self, config=None, env=None, args=None, preexec_fn=None, token=None,
                 wait_engine=True):
        """preexec_fn runs in the child before the worker starts (to set its rlimits, say).
        wait_engine=False returns once it listens, whether it sees the engine or not."""
        self.worker_id = "it-" + uuid.uuid4().hex[:10]
        self.token = token
        cfg = {"worker_id": self.worker_id, "listen": "127.0.0.1", "port": 0,
               "max_concurrent_jobs": 2, "jobs_path": tempfile.gettempdir(),
               "shutdown_drain_seconds": 0,
               # Tests never reach past loopback: a missing image fails instead of being
               # pulled from Docker Hub. Pull tests set "missing" or "always" themselves.
               "pull_policy": "never"}
        cfg.update(config or {})
        self.config = cfg
        self.dir = tempfile.TemporaryDirectory(prefix="wa-it-")
        self.config_path = os.path.join(self.dir.name, "worker-agent.yaml")
        self.write_config(cfg)
        full_env = dict(os.environ)
        full_env.update(env or {})
        wrapper = list(WRAPPER)
        self.valgrind_log = None
        if wrapper and os.path.basename(wrapper[0]) == "valgrind":
            self.valgrind_log = os.path.join(self.dir.name, "valgrind.log")
            wrapper.insert(1, "--log-file=" + self.valgrind_log)
        self.proc = subprocess.Popen(wrapper + [BIN, "--config", self.config_path] + (args or []),
                                     stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=full_env,
                                     preexec_fn=preexec_fn)
        self.log_lines = []
        self.port = None
        ready = threading.Event()

        def pump():
            for raw in self.proc.stderr:
                line = raw.decode(errors="replace").rstrip("\n")
                self.log_lines.append(line)
                m = re.search(r"listening on \S+:(\d+)", line)
                if m and self.port is None:
                    self.port = int(m.group(1))
                    ready.set()
            ready.set()

        self.reader = threading.Thread(target=pump, daemon=True)
        self.reader.start()
        ready.wait(scaled(15))
        if self.port is None:
            self.proc.kill()
            raise RuntimeError("worker did not start:\n" + "\n".join(self.log_lines))
        if wait_engine:
            self.wait_engine()

    def write_config(self, cfg):
        """Writes cfg as the worker's config file (read at start and on SIGHUP)."""
        self.config = dict(cfg)
        with open(self.config_path, "w") as f:
            for k, v in cfg.items():
                f.write("%s: %s\n" % (k, json.dumps(v)))

    def log(self):
        return "\n".join(self.log_lines)

    def wait_log(self, pattern, timeout=10, start=0):
        """Waits for a log line matching pattern (a regex) at index >= start; returns it."""
        deadline = time.time() + scaled(timeout)
        while time.time() < deadline:
            for line in self.log_lines[start:]:
                if re.search(pattern, line):
                    return line
            time.sleep(0.02)
        raise AssertionError("no log line matching %r:\n%s" % (pattern, self.log()))

    def wait_engine(self, timeout=10):
        deadline = time.time() + scaled(timeout)
        while time.time() < deadline:
            status, body = self.request("GET", "/health")
            if body.get("docker", {}).get("reachable"):
                return
            time.sleep(0.05)
        raise RuntimeError("worker never saw the engine:\n" + self.log())

    def connection(self, timeout=30):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=scaled(timeout))

    def request(self, method, path, body=None, headers=None, raw=False, auth=True, conn=None):
        """One request on a new connection (conn: a fresh one to use instead, such as a
        UnixHTTPConnection); auth=False leaves self.token out."""
        conn = conn or self.connection()
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            hdrs = {"Content-Type": "application/json"} if body is not None else {}
            if auth and self.token:
                hdrs["Authorization"] = "Bearer " + self.token
            hdrs.update(headers or {})
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            if raw:
                return resp, data
            return resp.status, json.loads(data) if data else None
        finally:
            conn.close()

    def submit(self, job):
        return self.request("POST", "/jobs", job)

    def job(self, job_id):
        return self.request("GET", "/jobs/" + urlquote(job_id))

    def wait_for(self, job_id, states=("finished", "failed"), timeout=60):
        deadline = time.time() + scaled(timeout)
        while time.time() < deadline:
            status, body = self.job(job_id)
            if status == 200 and body["state"] in states:
                return body
            time.sleep(0.02)
        raise AssertionError("job %s did not reach %s; last: %s\n%s" % (job_id, states, body, self.log()))

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(scaled(timeout))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(5)
        self.proc.stderr.close()
        report = self.sanitizer_report()
        if report and not self.sanitizer_reported:
            self.sanitizer_reported = True
            raise AssertionError("sanitizer report from worker %s (exit status %s):\n%s"
                                 % (self.worker_id, self.proc.returncode, report))
        return self.proc.returncode

    sanitizer_reported = False

    def sanitizer_report(self):
        """The lines of the daemon's stderr from the first AddressSanitizer, LeakSanitizer
        or UndefinedBehaviorSanitizer report on (make test SANITIZE=...), else None. ASan
        and UBSan abort the daemon, but a leak report comes at exit, with exit status 23,
        which nothing else looks at."""
        for i, line in enumerate(self.log_lines):
            if SANITIZER_REPORT.search(line):
                return "\n".join(self.log_lines[i:i + 80])
        return None

    def close(self):
        code = self.stop()
        # Nothing a test started may outlive it.
        for c in containers_of(self.worker_id):
            docker("DELETE", "/containers/%s?force=1" % c["Id"])
        errors = self.valgrind_errors()
        self.dir.cleanup()
        if errors:
            raise AssertionError("valgrind found errors in worker %s:\n%s" % (self.worker_id, errors))
        return code

    def valgrind_errors(self):
        """Valgrind's log when the daemon ran under it and it reported errors (or ended
        without its summary though the daemon exited by itself), else None."""
        if self.valgrind_log is None:
            return None
        try:
            with open(self.valgrind_log, errors="replace") as f:
                text = f.read()
        except FileNotFoundError:
            return "no valgrind log at " + self.valgrind_log
        summaries = re.findall(r"ERROR SUMMARY: ([\d,]+) errors", text)
        if not summaries:
            # Killed (SIGKILL by a test) before valgrind could write its summary.
            return None if self.proc.returncode == -signal.SIGKILL else text
        if summaries[-1] != "0" or self.proc.returncode == 99:
            return text
        return None


def make_job(job_id=None, cmd=None, env=None, limits=None, image=IMAGE, **extra):
    runtime = {"mode": "image", "image": image}
    if cmd is not None:
        runtime["cmd"] = cmd
    if env is not None:
        runtime["env"] = env
    if limits is not None:
        runtime["limits"] = limits
    job = {"protocol_version": 1, "job_id": job_id or "job-" + uuid.uuid4().hex[:12],
           "task": {"type": "test", "payload": {}}, "runtime": runtime}
    job.update(extra)
    return job


def parse_time(s):
    from datetime import datetime
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


class WorkerTestCase(unittest.TestCase):
    """Starts one worker per test class (override `config`), checks the image exists."""

    config = {}

    @classmethod
    def setUpClass(cls):
        status, _ = docker("GET", "/images/%s/json" % urlquote(IMAGE))
        if status != 200:
            raise RuntimeError("test image %s is missing: run `make images`" % IMAGE)
        cls.worker = Worker(cls.config)

    @classmethod
    def tearDownClass(cls):
        cls.worker.close()

    def assertNoContainersLeft(self, timeout=5):
        deadline = time.time() + timeout
        while time.time() < deadline:
            left = containers_of(self.worker.worker_id)
            if not left:
                return
            time.sleep(0.1)
        self.fail("containers left behind: %s" % [c["Id"][:12] for c in left])
