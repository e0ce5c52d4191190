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

# The daemon: CTest sets WORKER_AGENT_BIN to the build's binary; WORKER_AGENT_TEST_BIN takes
# its place (make test-image: tests/image/worker-agent-in-image, the worker in its image).
BIN = os.environ.get("WORKER_AGENT_TEST_BIN") or os.environ.get(
    "WORKER_AGENT_BIN", os.path.join(os.path.dirname(__file__), "../../build/src/worker-agent"))
IMAGE = os.environ.get("TEST_IMAGE", "worker-agent-busybox:1")
# The engine the workers use and the tests inspect: DOCKER_HOST's socket when it names one
# (make test-podman points it at Podman's), the Docker engine's otherwise. The workers
# inherit DOCKER_HOST and take it for docker_host.
_DOCKER_HOST = os.environ.get("DOCKER_HOST", "")
DOCKER_SOCK = _DOCKER_HOST[len("unix://"):] if _DOCKER_HOST.startswith("unix://") else "/var/run/docker.sock"
# "podman" when that engine is Podman (its /version names a "Podman Engine" component).
ENGINE = None


def engine():
    """"docker" or "podman": which engine answers on DOCKER_SOCK."""
    global ENGINE
    if ENGINE is None:
        status, body = docker("GET", "/version")
        names = [c.get("Name", "") for c in (body or {}).get("Components") or []] if status == 200 else []
        ENGINE = "podman" if any("Podman" in n for n in names) else "docker"
    return ENGINE
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
# "uid:gid" of the daemon when it runs as another user than the tests (make test-image: the
# image's unprivileged user); the files and directories it must read or write are given to
# it (worker_owns).
WORKER_OWNER = os.environ.get("WORKER_AGENT_TEST_OWNER", "")


def worker_owns(path):
    """Gives path (a file or directory the tests made for the daemon) to the daemon's user,
    when that is another user (WORKER_AGENT_TEST_OWNER); returns path."""
    if WORKER_OWNER:
        uid, gid = (int(v) for v in WORKER_OWNER.split(":"))
        os.chown(path, uid, gid)
    return path


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
    config = {}  # likewise (read only): such a Worker is reached at 127.0.0.1

    def __init__(self, config=None, env=None, args=None, preexec_fn=None, token=None,
                 wait_engine=True):
        """preexec_fn runs in the child before the worker starts (to set its rlimits, say).
        wait_engine=False returns once it listens, whether it sees the engine or not.
        A key given as None in config is left out of the file (the daemon's default);
        without a worker_id (the hostname) the worker's containers are not swept at close,
        since others on this host may share that id: give such a worker no engine."""
        self.worker_id = "it-" + uuid.uuid4().hex[:10]
        self.token = token
        self.dir = tempfile.TemporaryDirectory(prefix="wa-it-")
        worker_owns(self.dir.name)
        cfg = {"worker_id": self.worker_id, "listen": "127.0.0.1", "port": 0,
               "max_concurrent_jobs": 2, "jobs_path": tempfile.gettempdir(),
               "shutdown_drain_seconds": 0,
               # The tests were written for a stop that cancels and sweeps; those of
               # restarts (test_restart.py) keep the jobs, as the daemon does by default.
               "stop_action": "drain",
               # Each worker's journal in its own directory (the default, under jobs_path,
               # is shared by the tests' workers through /tmp).
               "journal_path": os.path.join(self.dir.name, "journal.sqlite"),
               # Tests never reach past loopback: a missing image fails instead of being
               # pulled from Docker Hub. Pull tests set "missing" or "always" themselves.
               "pull_policy": "never"}
        cfg.update(config or {})
        cfg = {k: v for k, v in cfg.items() if v is not None}
        self.worker_id = cfg.get("worker_id")
        self.config = cfg
        self.config_path = os.path.join(self.dir.name, "worker-agent.yaml")
        self.write_config(cfg)
        full_env = dict(os.environ)
        full_env.update(env or {})
        # A BIN that runs the daemon elsewhere (tests/image/worker-agent-in-image: in a
        # container) writes the daemon's pid here; see pid.
        self.pid_file = os.path.join(self.dir.name, "daemon.pid")
        full_env["WORKER_AGENT_PID_FILE"] = self.pid_file
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
            self.send_signal(signal.SIGKILL)
            self.proc.wait()
            raise RuntimeError("worker did not start:\n" + "\n".join(self.log_lines))
        if wait_engine:
            self.wait_engine()

    @property
    def pid(self):
        """The daemon's pid: the process started, or the one its BIN names in pid_file."""
        try:
            with open(self.pid_file) as f:
                return int(f.read())
        except FileNotFoundError:
            return self.proc.pid

    def send_signal(self, sig):
        """Sends sig to the daemon itself (not to a BIN that runs it elsewhere), while the
        process the harness started has not ended."""
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass  # the daemon has exited; its BIN is cleaning up after it

    def write_config(self, cfg):
        """Writes cfg as the worker's config file (read at start and on SIGHUP)."""
        self.config = dict(cfg)
        with open(self.config_path, "w") as f:
            for k, v in cfg.items():
                f.write("%s: %s\n" % (k, json.dumps(v)))

    def log(self):
        # Once the process has ended, its last lines may still be in the pipe, read by the
        # reader thread after proc.wait() returned: they are waited for (CI once missed the
        # last line this way).
        if self.proc.poll() is not None:
            self.reader.join(scaled(10))
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

    def wait_engine(self, timeout=60):
        # Long: Podman answers /version only after a dpkg-query per component (seconds on
        # a busy machine); the wait ends as soon as the worker has the answer.
        deadline = time.time() + scaled(timeout)
        while time.time() < deadline:
            status, body = self.request("GET", "/health")
            # Reachable, and its version known: the worker tells Podman from Docker by it.
            if body.get("docker", {}).get("reachable") and self.engine_version_known():
                return
            time.sleep(0.05)
        raise RuntimeError("worker never saw the engine:\n" + self.log())

    def engine_version_known(self):
        status, body = self.request("GET", "/info")
        # A worker whose /info wants a token this one lacks: its tests do not run jobs.
        return status == 401 or (status == 200 and bool((body or {}).get("docker")))

    @property
    def host(self):
        """The address to reach the worker at: its listen address, 127.0.0.1 for a wildcard."""
        listen = self.config.get("listen", "127.0.0.1")
        return "127.0.0.1" if listen in ("0.0.0.0", "::") else listen

    def connection(self, timeout=30):
        return http.client.HTTPConnection(self.host, self.port, timeout=scaled(timeout))

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
            self.send_signal(sig)
            try:
                self.proc.wait(scaled(timeout))
            except subprocess.TimeoutExpired:
                self.send_signal(signal.SIGKILL)
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
        for c in containers_of(self.worker_id) if self.worker_id else []:
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
    """A record's time (2026-12-07T04:49:07.155Z, UTC) as seconds since 1970."""
    from datetime import datetime, timezone
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


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
