"""The execution backend for real: images pulled from loopback registries (open and with
credentials) under each pull policy, build mode, job files and outputs, exact binary
output, live output, and the isolation a job runs under.

The pull tests need the registries of scripts/registry-up.sh (`make registry-up`, which
`make test` runs first): they skip with the reason when those do not answer, and fail
instead under CI. The pull timeout test brings its own registry, one that stalls. Every image and tag a test makes is unique to the run and removed after."""

import base64
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

from harness import (DOCKER_SOCK, IMAGE, UnixHTTPConnection, Worker, WorkerTestCase, docker,
                     engine, make_job, parse_time, scaled, urlquote, worker_owns)

OPEN_REGISTRY = "127.0.0.1:5000"
AUTH_REGISTRY = "127.0.0.1:5001"
# The fixed credentials scripts/registry-up.sh gives AUTH_REGISTRY.
REGISTRY_USER = "wa-test"
REGISTRY_PASSWORD = "wa-test-password-5001"
REPOSITORY = "wa-test/busybox"

ALL_BYTES = bytes(range(256))
# A printf format that writes ALL_BYTES (octal escapes: no quote, no '%' conversion).
PRINTF_ALL_BYTES = "".join("\\%03o" % b for b in ALL_BYTES)

# Every docker CLI call gets a throwaway config directory: root's ~/.docker is never written.
CLI_CONFIG = tempfile.TemporaryDirectory(prefix="wa-it-docker-config-")


# ---------------------------------------------------------------------------------------
# Registries, the docker CLI and engine events.

def registry_call(addr, method, path, auth=False):
    """One plain-HTTP request to a loopback registry (http.client: no proxy applies);
    returns its status, or None when nothing answers."""
    host, port = addr.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    headers = {}
    if auth:
        token = base64.b64encode(("%s:%s" % (REGISTRY_USER, REGISTRY_PASSWORD)).encode())
        headers["Authorization"] = "Basic " + token.decode()
    try:
        conn.request(method, path, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except OSError:
        return None
    finally:
        conn.close()


def require_registries():
    """Skips the calling test class when the registries or the docker CLI are missing;
    under CI (where `make test` starts them) that is a failure instead."""
    problems = []
    status = registry_call(OPEN_REGISTRY, "GET", "/v2/")
    if status != 200:
        problems.append("http://%s/v2/ answered %s, not 200" % (OPEN_REGISTRY, status))
    status = registry_call(AUTH_REGISTRY, "GET", "/v2/")
    if status != 401:
        problems.append("http://%s/v2/ answered %s, not 401" % (AUTH_REGISTRY, status))
    if shutil.which("docker") is None:
        problems.append("no docker CLI on PATH")
    if problems:
        message = "; ".join(problems) + " (start them with `make registry-up`)"
        if os.environ.get("CI"):
            raise RuntimeError(message)
        raise unittest.SkipTest(message)


def docker_cli(*args, stdin=None, config_dir=None):
    """Runs the docker CLI; returns its stdout, or fails the test with its stderr."""
    env = dict(os.environ, DOCKER_CONFIG=config_dir or CLI_CONFIG.name, DOCKER_BUILDKIT="0")
    proc = subprocess.run(["docker"] + list(args), input=stdin, capture_output=True, text=True,
                          env=env, timeout=300)
    if proc.returncode != 0:
        raise AssertionError("docker %s failed (%d): %s" % (" ".join(args), proc.returncode,
                                                             proc.stderr))
    return proc.stdout


def local_image_id(ref):
    """The engine's Id for ref ("sha256:..."), or None when it has no such image."""
    status, body = docker("GET", "/images/%s/json" % urlquote(ref))
    return body["Id"] if status == 200 else None


def remove_local_image(ref):
    # Without force: Podman's force removes the image under every name it has (the test
    # image itself, when ref is a tag of it), where Docker's removes only this name.
    status, body = docker("DELETE", "/images/%s" % urlquote(ref))
    if status == 409:  # a stopped container still refers to it
        status, body = docker("DELETE", "/images/%s?force=1" % urlquote(ref))
    assert status in (200, 404), (status, body)


def pull_events(ref, since):
    """The engine's "pull" events for ref from Unix time `since` until now, oldest first."""
    if engine() == "podman":
        # Podman 4.3 (events_logger "file") records the pulls in its events file, but its
        # compat /events with since and until answers none of them, so the engine-side
        # count cannot be checked; the assertions before this call have run.
        raise unittest.SkipTest("Podman's /events?since=&until= returns no events")
    time.sleep(0.2)  # let events of calls that just returned be recorded
    filters = json.dumps({"type": ["image"], "event": ["pull"]})
    conn = UnixHTTPConnection(DOCKER_SOCK)
    try:
        conn.request("GET", "/events?since=%.6f&until=%.6f&filters=%s"
                     % (since, time.time(), urlquote(filters)))
        resp = conn.getresponse()
        data = resp.read().decode()
        assert resp.status == 200, data
    finally:
        conn.close()
    events = [json.loads(line) for line in data.splitlines() if line.strip()]
    return [e for e in events if e.get("id") == ref]


class RegistryImage:
    """A test image made for one run and pushed to a loopback registry as
    REGISTRY/wa-test/busybox:<unique tag>. Its own label gives it its own config, hence its
    own image id and manifest digest, so deleting it never touches another run's tags.
    `dockerfile_tail` adds instructions (a bigger layer makes a slower pull)."""

    def __init__(self, registry=OPEN_REGISTRY, config_dir=None, dockerfile_tail=""):
        self.registry = registry
        self.config_dir = config_dir
        self.tag = "t" + uuid.uuid4().hex[:12]
        self.ref = "%s/%s:%s" % (registry, REPOSITORY, self.tag)
        dockerfile = "FROM %s\nLABEL worker-agent.test-run=%s\n%s" % (IMAGE, self.tag,
                                                                     dockerfile_tail)
        docker_cli("build", "-q", "-t", self.ref, "-", stdin=dockerfile)
        self.image_id = local_image_id(self.ref)
        try:
            docker_cli("push", self.ref, config_dir=config_dir)
        except AssertionError:
            remove_local_image(self.ref)
            raise
        _, inspect = docker("GET", "/images/%s/json" % urlquote(self.ref))
        prefix = "%s/%s@" % (registry, REPOSITORY)
        self.digest = next(d[len(prefix):] for d in inspect["RepoDigests"] if d.startswith(prefix))

    def remove_local(self):
        """Drops the engine's copy, so a job that wants the image has to pull it."""
        remove_local_image(self.ref)
        assert local_image_id(self.ref) is None

    def cleanup(self):
        remove_local_image(self.ref)
        status = registry_call(self.registry, "DELETE",
                                  "/v2/%s/manifests/%s" % (REPOSITORY, self.digest),
                                  auth=self.registry == AUTH_REGISTRY)
        assert status in (202, 404), status


class StallingRegistry:
    """A registry on 127.0.0.1 (port 0) that never delivers an image: it closes TLS
    attempts at once (the engine then falls back to plain HTTP, as it does for 127.0.0.0/8),
    answers GET /v2/ with 200, and holds every other request open unanswered until close().
    `requests` lists the request lines it got, in order."""

    def __init__(self):
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.addr = "127.0.0.1:%d" % self.server.getsockname()[1]
        self.requests = []
        self.stalled = threading.Event()  # set when the first request is being held
        self.lock = threading.Lock()
        self.connections = []
        self.closing = False
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return  # closed
            with self.lock:
                if self.closing:
                    conn.close()
                    return
                self.connections.append(conn)
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        data = b""
        try:
            while True:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
                if data[:1] == b"\x16":  # a TLS ClientHello: no TLS here
                    break
                if b"\r\n\r\n" not in data:
                    continue
                head, data = data.split(b"\r\n\r\n", 1)
                line = head.split(b"\r\n", 1)[0].decode(errors="replace")
                self.requests.append(line)
                if line.startswith("GET /v2/ "):
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Docker-Distribution-API-Version: registry/2.0\r\n"
                                 b"Content-Length: 2\r\n\r\n{}")
                    continue
                self.stalled.set()
                while conn.recv(4096):  # never answers; ends when either side closes
                    pass
                break
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        """Closes the listener and every connection: a request the engine still waits on
        then ends for it with EOF."""
        with self.lock:
            self.closing = True
            connections, self.connections = self.connections, []
        try:
            self.server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        self.server.close()
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


# ---------------------------------------------------------------------------------------
# Shared assertions.

def file_entry(path, content, mode=None):
    """A runtime.files / build context entry: str content as utf8, bytes as base64."""
    if isinstance(content, bytes):
        entry = {"path": path, "content": base64.b64encode(content).decode(), "encoding": "base64"}
    else:
        entry = {"path": path, "content": content, "encoding": "utf8"}
    if mode is not None:
        entry["mode"] = mode
    return entry


def with_runtime(job, **fields):
    job["runtime"].update(fields)
    return job


class ExecutionAssertions:
    def run_job(self, job, worker=None, timeout=60):
        worker = worker or self.worker
        status, reply = worker.submit(job)
        self.assertEqual(status, 202, reply)
        return worker.wait_for(job["job_id"], timeout=timeout)

    def assertFinished(self, record):
        self.assertEqual((record["state"], record["error"]), ("finished", None), record)
        self.assertEqual(record["exit_code"], 0)

    def assertFailed(self, record, code):
        self.assertEqual(record["state"], "failed", record)
        self.assertEqual(record["error"]["code"], code, record)
        self.assertTrue(record["error"]["message"], record)

    def assertRanFor(self, record, low, high):
        """The record's started_at..finished_at lies in [low, high) seconds."""
        ran = parse_time(record["finished_at"]) - parse_time(record["started_at"])
        self.assertGreaterEqual(ran, low, record)
        self.assertLess(ran, high, record)

    def assertStillServing(self, worker=None):
        """/health answers with the engine reachable, and a plain job finishes."""
        worker = worker or self.worker
        status, health = worker.request("GET", "/health")
        self.assertEqual(status, 200, health)
        self.assertIs(health["docker"]["reachable"], True, health)
        record = self.run_job(make_job(cmd=["echo", "still serving"]), worker)
        self.assertFinished(record)
        self.assertEqual(record["stdout"], "still serving\n")

    def assertRejected(self, job, code, worker=None):
        """POST answers 400 with code, and the job is not stored."""
        worker = worker or self.worker
        status, body = worker.submit(job)
        self.assertEqual(status, 400, body)
        self.assertEqual((body["accepted"], body["state"]), (False, "rejected"), body)
        self.assertEqual(body["job_id"], job["job_id"])
        self.assertEqual(body["error"]["code"], code, body)
        self.assertEqual(worker.job(job["job_id"]), (404, {"job_id": job["job_id"],
                                                          "state": "not_found"}))


# ---------------------------------------------------------------------------------------
# Pulls from the open registry under the policy "missing" (the default outside the tests).

class ImagePull(ExecutionAssertions, WorkerTestCase):
    config = {"allowed_images": [IMAGE, "%s/%s/*" % (OPEN_REGISTRY, REPOSITORY.split("/")[0])],
              "max_concurrent_jobs": 3, "pull_policy": "missing"}

    @classmethod
    def setUpClass(cls):
        require_registries()
        super().setUpClass()

    def pushed_image(self, **kwargs):
        image = RegistryImage(**kwargs)
        self.addCleanup(image.cleanup)
        return image

    def test_missing_image_is_pulled_then_run(self):
        image = self.pushed_image()
        image.remove_local()
        since = time.time()
        job = make_job(image=image.ref)  # no cmd: the image's `cat` echoes stdin
        body = json.dumps(job)
        status, reply = self.worker.request("POST", "/jobs", body)
        self.assertEqual(status, 202, reply)
        record = self.worker.wait_for(job["job_id"])
        self.assertFinished(record)
        self.assertEqual(record["stdout"], body)
        self.assertEqual(record["image"], image.ref)
        self.assertIs(record["image_pulled"], True)
        self.assertEqual(record["image_id"], local_image_id(image.ref))
        self.assertEqual(record["image_id"], image.image_id)  # the very image pushed
        self.assertEqual(len(pull_events(image.ref, since)), 1)
        self.assertNoContainersLeft()

    def test_present_image_is_not_pulled(self):
        image = self.pushed_image()  # still in the engine after the push
        since = time.time()
        record = self.run_job(make_job(image=image.ref, cmd=["true"]))
        self.assertFinished(record)
        self.assertIs(record["image_pulled"], False)
        self.assertEqual(record["image_id"], image.image_id)
        self.assertEqual(pull_events(image.ref, since), [])

    def test_missing_tag_is_image_pull_failed(self):
        ref = "%s/%s:never-pushed-%s" % (OPEN_REGISTRY, REPOSITORY, uuid.uuid4().hex[:12])
        record = self.run_job(make_job(image=ref, cmd=["true"]))
        self.assertFailed(record, "IMAGE_PULL_FAILED")
        self.assertRegex(record["error"]["message"], r"not found|manifest unknown")
        self.assertIs(record["image_pulled"], False)
        self.assertIsNone(record["exit_code"])
        self.assertIsNone(local_image_id(ref))
        self.assertNoContainersLeft()

    def test_image_outside_the_allow_list_is_rejected_unpulled(self):
        ref = "%s/wa-test-other/busybox:%s" % (OPEN_REGISTRY, uuid.uuid4().hex[:12])
        since = time.time()
        self.assertRejected(make_job(image=ref), "IMAGE_NOT_ALLOWED")
        self.assertEqual(pull_events(ref, since), [])

    def test_concurrent_jobs_share_one_pull(self):
        # A 16 MiB layer of its own keeps the pull in flight while all three jobs arrive.
        image = self.pushed_image(
            dockerfile_tail="RUN head -c 16777216 /dev/urandom > /filler\n")
        image.remove_local()
        jobs = [make_job(image=image.ref, cmd=["sh", "-c", "echo $JOB_ID"]) for _ in range(3)]
        since = time.time()
        replies = [None] * 3

        def submit(i):
            replies[i] = self.worker.submit(jobs[i])

        threads = [threading.Thread(target=submit, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual([r[0] for r in replies], [202] * 3, replies)
        records = [self.worker.wait_for(j["job_id"], timeout=120) for j in jobs]
        for job, record in zip(jobs, records):
            self.assertFinished(record)
            self.assertEqual(record["stdout"], job["job_id"] + "\n")
            self.assertEqual(record["image_id"], image.image_id)
        self.assertTrue(any(r["image_pulled"] for r in records), records)
        # Three separate pulls would be three engine "pull" events, even concurrent ones.
        self.assertEqual(len(pull_events(image.ref, since)), 1)
        self.assertNoContainersLeft()


# ---------------------------------------------------------------------------------------
# pull_policy "never" and "always".

class PullPolicy(ExecutionAssertions, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_registries()

    def start_worker(self, policy):
        worker = Worker({"pull_policy": policy,
                         "allowed_images": ["%s/%s:*" % (OPEN_REGISTRY, REPOSITORY)]})
        self.addCleanup(worker.close)
        return worker

    def pushed_image(self):
        image = RegistryImage()
        self.addCleanup(image.cleanup)
        return image

    def test_never_fails_a_missing_image_without_pulling(self):
        worker = self.start_worker("never")
        image = self.pushed_image()  # the registry has it: only the policy stops the pull
        image.remove_local()
        since = time.time()
        record = self.run_job(make_job(image=image.ref, cmd=["true"]), worker)
        self.assertFailed(record, "IMAGE_PULL_FAILED")
        self.assertRegex(record["error"]["message"], r"pull_policy|[Pp]olicy")
        self.assertIn("never", record["error"]["message"])
        self.assertIs(record["image_pulled"], False)
        self.assertEqual(pull_events(image.ref, since), [])
        self.assertIsNone(local_image_id(image.ref))

    def test_never_runs_a_present_image(self):
        worker = self.start_worker("never")
        image = self.pushed_image()
        record = self.run_job(make_job(image=image.ref, cmd=["echo", "ran"]), worker)
        self.assertFinished(record)
        self.assertEqual(record["stdout"], "ran\n")
        self.assertIs(record["image_pulled"], False)

    def test_missing_pulls_again_a_remembered_image_that_is_gone(self):
        # The first job's inspect is remembered (the second job is created from its id,
        # asking nothing); the image removed in between, that create answers 404 and the
        # policy decides again: pulled, the very image, one pull.
        worker = self.start_worker("missing")
        image = self.pushed_image()
        first = self.run_job(make_job(image=image.ref, cmd=["echo", "one"]), worker)
        self.assertFinished(first)
        self.assertEqual(first["image_id"], image.image_id)
        image.remove_local()
        since = time.time()
        second = self.run_job(make_job(image=image.ref, cmd=["echo", "two"]), worker)
        self.assertFinished(second)
        self.assertEqual(second["stdout"], "two\n")
        self.assertIs(second["image_pulled"], True)
        self.assertEqual(second["image_id"], image.image_id)
        self.assertEqual(len(pull_events(image.ref, since)), 1)

    def test_never_refuses_a_remembered_image_that_is_gone(self):
        worker = self.start_worker("never")
        image = self.pushed_image()
        first = self.run_job(make_job(image=image.ref, cmd=["true"]), worker)
        self.assertFinished(first)
        image.remove_local()
        since = time.time()
        second = self.run_job(make_job(image=image.ref, cmd=["true"]), worker)
        self.assertFailed(second, "IMAGE_PULL_FAILED")
        self.assertIn("never", second["error"]["message"])
        self.assertIs(second["image_pulled"], False)
        self.assertEqual(pull_events(image.ref, since), [])
        self.assertIsNone(local_image_id(image.ref))

    def test_always_pulls_a_present_image(self):
        worker = self.start_worker("always")
        image = self.pushed_image()
        self.assertEqual(local_image_id(image.ref), image.image_id)
        since = time.time()
        record = self.run_job(make_job(image=image.ref, cmd=["echo", "ran"]), worker)
        self.assertFinished(record)
        self.assertEqual(record["stdout"], "ran\n")
        self.assertIs(record["image_pulled"], True)
        self.assertEqual(record["image_id"], image.image_id)
        self.assertEqual(len(pull_events(image.ref, since)), 1)


# ---------------------------------------------------------------------------------------
# pull_timeout_seconds against a registry that never delivers.

class PullTimeout(ExecutionAssertions, WorkerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.registry = StallingRegistry()
        cls.config = {"pull_policy": "missing", "pull_timeout_seconds": 2,
                      "allowed_images": [IMAGE, cls.registry.addr + "/*"]}
        try:
            super().setUpClass()
        except BaseException:
            cls.registry.close()
            raise

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        # The engine does not drop a registry request when its client goes (Docker 20.10
        # waits on the held manifest request for minutes): closing ends that pull too.
        cls.registry.close()

    def test_stalled_pull_ends_at_pull_timeout(self):
        # The engine's own deadlines (Docker 20.10) cover the TLS handshake (10 s) and the
        # /v2/ ping (15 s), not the manifest request: only the worker's pull_timeout_seconds,
        # libcurl's limit on the whole POST /images/create, ends this pull.
        ref = "%s/wa/stall:1" % self.registry.addr
        submitted = time.time()
        record = self.run_job(make_job(image=ref, cmd=["true"]), timeout=30)
        self.assertLess(time.time() - submitted, 15)
        self.assertFailed(record, "IMAGE_PULL_FAILED")
        self.assertIn(ref, record["error"]["message"])
        self.assertRegex(record["error"]["message"], r"Timeout was reached|timed out")
        self.assertRanFor(record, 1.9, 15)
        self.assertIs(record["image_pulled"], False)
        self.assertIsNone(record["exit_code"])
        if engine() == "podman":
            # Podman speaks HTTPS to a registry registries.conf does not mark insecure, and
            # this one's port is random: it is held in the TLS handshake instead.
            raise unittest.SkipTest("Podman does not speak plain HTTP to this registry")
        # The engine got as far as the manifest, over plain HTTP, and was held there.
        self.assertTrue(self.registry.stalled.is_set(), self.registry.requests)
        self.assertEqual(self.registry.requests[0], "GET /v2/ HTTP/1.1")
        self.assertRegex(self.registry.requests[1], r"^(HEAD|GET) /v2/wa/stall/manifests/1 ")
        self.assertIsNone(local_image_id(ref))
        self.assertNoContainersLeft()
        self.assertStillServing()


# ---------------------------------------------------------------------------------------
# A registry that wants credentials (registry_auth_file).

class RegistryCredentials(ExecutionAssertions, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_registries()
        cls.dir = tempfile.TemporaryDirectory(prefix="wa-it-auth-")
        worker_owns(cls.dir.name)  # the worker reads registry-auth.json there
        cls.auth = base64.b64encode(
            ("%s:%s" % (REGISTRY_USER, REGISTRY_PASSWORD)).encode()).decode()
        # The CLI's credentials are written, not made by `docker login`: login is the
        # engine's POST /auth, which Podman 4.3 sends over HTTPS whatever registries.conf
        # says ("http: server gave HTTP response to HTTPS client"), while its push and pull
        # with X-Registry-Auth (all the CLI and the worker need) honour insecure = true.
        login_config = os.path.join(cls.dir.name, "docker-config")
        os.mkdir(login_config)
        with open(os.path.join(login_config, "config.json"), "w") as f:
            json.dump({"auths": {AUTH_REGISTRY: {"auth": cls.auth}}}, f)
        cls.image = RegistryImage(registry=AUTH_REGISTRY, config_dir=login_config)
        cls.auth_file = os.path.join(cls.dir.name, "registry-auth.json")
        with open(cls.auth_file, "w") as f:
            json.dump({"auths": {AUTH_REGISTRY: {"auth": cls.auth}}}, f)

    @classmethod
    def tearDownClass(cls):
        cls.image.cleanup()
        cls.dir.cleanup()

    def start_worker(self, **config):
        config["allowed_images"] = ["%s/%s:*" % (AUTH_REGISTRY, REPOSITORY)]
        config["pull_policy"] = "missing"
        worker = Worker(config)
        self.addCleanup(worker.close)
        return worker

    def test_without_credentials_the_pull_fails(self):
        self.image.remove_local()
        worker = self.start_worker()
        record = self.run_job(make_job(image=self.image.ref, cmd=["true"]), worker)
        self.assertFailed(record, "IMAGE_PULL_FAILED")
        self.assertIsNone(local_image_id(self.image.ref))

    def test_with_credentials_the_pull_succeeds_and_they_stay_secret(self):
        self.image.remove_local()
        worker = self.start_worker(registry_auth_file=self.auth_file, log_level="debug")
        record = self.run_job(make_job(image=self.image.ref, cmd=["echo", "authorized"]), worker)
        self.assertFinished(record)
        self.assertEqual(record["stdout"], "authorized\n")
        self.assertIs(record["image_pulled"], True)
        self.assertEqual(record["image_id"], self.image.image_id)
        seen = {"log": worker.log(), "record": json.dumps(record)}
        for path in ("/info", "/health", "/metrics", "/jobs"):
            resp, data = worker.request("GET", path, raw=True)
            self.assertEqual(resp.status, 200, path)
            seen[path] = data.decode(errors="replace")
        for where, text in seen.items():
            self.assertNotIn(REGISTRY_PASSWORD, text, where)
            self.assertNotIn(self.auth, text, where)


# ---------------------------------------------------------------------------------------
# Build mode.

HELLO_DOCKERFILE = 'FROM %s\nCOPY hello.txt /hello.txt\nCMD ["cat", "/hello.txt"]\n' % IMAGE


def build_job(dockerfile, context=()):
    job = make_job()
    job["runtime"] = {"mode": "build",
                      "build": {"dockerfile": dockerfile, "context": list(context)}}
    return job


class BuildMode(ExecutionAssertions, WorkerTestCase):
    config = {"allowed_runtime_modes": ["image", "build"], "max_build_context_bytes": 65536}

    def remove_built(self, record):
        if record.get("image"):
            self.addCleanup(remove_local_image, record["image"])

    def test_build_runs_and_an_identical_build_is_reused(self):
        hello = "hello from build mode %s\n" % uuid.uuid4().hex  # a context unique to the run
        first = self.run_job(build_job(HELLO_DOCKERFILE, [file_entry("hello.txt", hello)]),
                             timeout=180)
        self.remove_built(first)
        self.assertFinished(first)
        self.assertEqual(first["stdout"], hello)
        self.assertIs(first["image_built"], True)
        self.assertTrue(first["image"])
        self.assertRegex(first["image_id"], r"^sha256:[0-9a-f]{64}$")
        self.assertEqual(local_image_id(first["image"]), first["image_id"])

        second = self.run_job(build_job(HELLO_DOCKERFILE, [file_entry("hello.txt", hello)]),
                              timeout=180)
        self.remove_built(second)
        self.assertFinished(second)
        self.assertEqual(second["stdout"], hello)
        self.assertIs(second["image_built"], False)
        self.assertEqual((second["image"], second["image_id"]), (first["image"], first["image_id"]))
        self.assertNoContainersLeft()

    def test_failing_run_step_is_build_failed_with_the_log_tail(self):
        # The step prints "tail-42-line"; the command text holds "$((6*7))", so only the
        # build's own output can put "tail-42-line" into the message.
        dockerfile = "FROM %s\nRUN echo tail-$((6*7))-line && /bin/false\n" % IMAGE
        record = self.run_job(build_job(dockerfile), timeout=180)
        self.assertFailed(record, "BUILD_FAILED")
        self.assertIn("tail-42-line", record["error"]["message"])
        self.assertIsNone(record["exit_code"])
        self.assertNoContainersLeft()

    def test_unknown_instruction_is_build_failed(self):
        record = self.run_job(build_job("FROM %s\nFROBNICATE now\n" % IMAGE), timeout=180)
        self.assertFailed(record, "BUILD_FAILED")
        self.assertIn("FROBNICATE", record["error"]["message"].upper())

    def test_malformed_build_is_invalid_build(self):
        no_build = make_job()
        no_build["runtime"] = {"mode": "build"}
        no_dockerfile = build_job(HELLO_DOCKERFILE)
        del no_dockerfile["runtime"]["build"]["dockerfile"]
        cases = {
            "no runtime.build": no_build,
            "no dockerfile": no_dockerfile,
            "dockerfile not a string": build_job(["FROM", IMAGE]),
            "context over max_build_context_bytes":
                build_job(HELLO_DOCKERFILE, [file_entry("big.bin", b"\0" * 70000)]),
        }
        for name, job in cases.items():
            with self.subTest(name):
                self.assertRejected(job, "INVALID_BUILD")
        # Context entries have the shape of runtime.files, and the same code for a bad one.
        escaping = build_job(HELLO_DOCKERFILE, [file_entry("../hello.txt", "x")])
        self.assertRejected(escaping, "INVALID_FILES")


def step_containers(token):
    """Containers (any state) whose command holds token: a build step's, here."""
    status, body = docker("GET", "/containers/json?all=1")
    assert status == 200, body
    return [c for c in body if token in c["Command"]]


class BuildTimeout(ExecutionAssertions, WorkerTestCase):
    config = {"allowed_runtime_modes": ["image", "build"], "build_timeout_seconds": 2}

    def remove_step_containers(self, token):
        for c in step_containers(token):
            docker("DELETE", "/containers/%s?force=1" % c["Id"])

    def test_build_past_build_timeout_is_build_failed_and_its_step_is_stopped(self):
        if engine() == "podman":
            # The test watches the classic builder's step container; Podman builds with
            # buildah, whose RUN steps are no containers of the engine's API.
            self.skipTest("Podman's build steps are not engine containers")
        # The token makes the step the run's own (never a cached layer) and names its
        # container, which the classic builder makes without the worker's labels.
        token = "wa-build-timeout-" + uuid.uuid4().hex[:12]
        self.addCleanup(self.remove_step_containers, token)
        job = build_job("FROM %s\nRUN sleep 30 && echo %s\n" % (IMAGE, token))
        submitted = time.time()
        status, reply = self.worker.submit(job)
        self.assertEqual(status, 202, reply)
        steps = []
        while not steps and time.time() - submitted < 15:
            steps = step_containers(token)
            time.sleep(0.05)
        # The RUN step was running when the timeout came (not an earlier failure).
        self.assertEqual(len(steps), 1, "the RUN step never started")
        record = self.worker.wait_for(job["job_id"], timeout=30)
        self.assertLess(time.time() - submitted, 20)
        self.assertFailed(record, "BUILD_FAILED")
        self.assertRegex(record["error"]["message"], r"Timeout was reached|timed out")
        self.assertRanFor(record, 1.9, 15)
        self.assertIs(record["image_built"], False)
        self.assertIsNone(record["exit_code"])
        # No tag, so an identical job later builds again instead of reusing a half build.
        tag = re.search(r"building image tag=(\S+)", self.worker.log()).group(1)
        self.assertIsNone(local_image_id(tag))
        # The engine's classic builder kills and removes the step's container once the
        # client goes (rm=1&forcerm=1), long before the step's own 30 s.
        deadline = time.time() + 15
        while step_containers(token) and time.time() < deadline:
            time.sleep(0.1)
        self.assertEqual(step_containers(token), [], "the build step outlived the timeout")
        self.assertNoContainersLeft()
        self.assertStillServing()


class BuildModeNotAllowed(ExecutionAssertions, WorkerTestCase):
    config = {}  # allowed_runtime_modes defaults to [image]

    def test_build_mode_is_runtime_not_supported(self):
        job = build_job(HELLO_DOCKERFILE, [file_entry("hello.txt", "hello\n")])
        self.assertRejected(job, "RUNTIME_NOT_SUPPORTED")


# ---------------------------------------------------------------------------------------
# Job files, outputs, exact binary output.

class FilesAndOutputs(ExecutionAssertions, WorkerTestCase):
    config = {"output_file_limit_bytes": 4096, "max_job_files_bytes": 65536}

    def test_files_are_placed_in_the_workspace(self):
        job = make_job(cmd=["sh", "-c",
                            "pwd; cat a.txt; stat -c '%a %s %n' a.txt dir/b.bin run.sh; "
                            "od -An -tx1 dir/b.bin | head -1; md5sum dir/b.bin; ./run.sh"])
        with_runtime(job, files=[
            file_entry("a.txt", "first file\n"),
            file_entry("dir/b.bin", ALL_BYTES, mode="0755"),
            file_entry("run.sh", "#!/bin/sh\necho run.sh ran\n", mode=493),
        ])
        record = self.run_job(job)
        self.assertFinished(record)
        self.assertEqual(record["stdout"].splitlines(), [
            "/workspace",
            "first file",
            "644 11 a.txt",
            "755 256 dir/b.bin",
            "755 26 run.sh",
            " " + " ".join("%02x" % b for b in range(16)),
            "%s  dir/b.bin" % hashlib.md5(ALL_BYTES).hexdigest(),
            "run.sh ran",
        ])
        self.assertEqual(record["stderr"], "")

    def test_the_job_user_owns_the_workspace_and_can_write_there(self):
        probe_cmd = ("stat -c '%u:%g %a %n' . dir dir/b.txt; touch new.txt dir/new.txt && "
                     "stat -c '%u:%g %n' new.txt dir/new.txt")
        # With runtime.files the workspace is a volume the worker fills before the start.
        job = with_runtime(make_job(cmd=["sh", "-c", probe_cmd]),
                           files=[file_entry("dir/b.txt", "b\n")])
        record = self.run_job(job)
        self.assertFinished(record)
        self.assertEqual(record["stderr"], "")
        self.assertEqual(record["stdout"].splitlines(), [
            "65534:65534 755 .",
            "65534:65534 755 dir",
            "65534:65534 644 dir/b.txt",
            "65534:65534 new.txt",
            "65534:65534 dir/new.txt",
        ])
        # Without files or outputs it is a tmpfs, the job user's too.
        record = self.run_job(make_job(cmd=["sh", "-c", "stat -c '%u:%g' .; touch new.txt && "
                                                         "stat -c '%u:%g %n' new.txt"]))
        self.assertFinished(record)
        self.assertEqual(record["stdout"].splitlines(), ["65534:65534", "65534:65534 new.txt"])

    def test_bad_files_are_invalid_files(self):
        cases = {
            "traversal": [file_entry("../x", "x")],
            "traversal inside": [file_entry("dir/../../x", "x")],
            "absolute": [file_entry("/etc/x", "x")],
            "duplicate": [file_entry("a.txt", "1"), file_entry("a.txt", "2")],
            "empty path": [file_entry("", "x")],
            "bad base64": [{"path": "x.bin", "content": "!!not base64!!", "encoding": "base64"}],
            "over max_job_files_bytes": [file_entry("big.bin", b"\0" * 70000)],
        }
        for name, files in cases.items():
            with self.subTest(name):
                self.assertRejected(with_runtime(make_job(cmd=["true"]), files=files),
                                    "INVALID_FILES")

    def test_outputs_are_collected_exactly(self):
        job = make_job(cmd=["sh", "-c", "mkdir -p out && printf '%s' > out/result.bin"
                            % PRINTF_ALL_BYTES])
        with_runtime(job, outputs=["out/result.bin", "missing.txt"])
        record = self.run_job(job)
        self.assertFinished(record)
        found, missing = record["outputs"]
        self.assertEqual((found["path"], found["found"], found["size"], found["truncated"]),
                         ("out/result.bin", True, 256, False))
        self.assertEqual(base64.b64decode(found["content_base64"]), ALL_BYTES)
        self.assertEqual((missing["path"], missing["found"]), ("missing.txt", False))

    def test_output_over_the_cap_is_truncated(self):
        job = make_job(cmd=["sh", "-c", "head -c 10000 /dev/zero | tr '\\0' x > big.txt"])
        with_runtime(job, outputs=["big.txt"])
        record = self.run_job(job)
        self.assertFinished(record)
        [big] = record["outputs"]
        self.assertEqual((big["path"], big["found"], big["size"], big["truncated"]),
                         ("big.txt", True, 10000, True))
        self.assertEqual(base64.b64decode(big["content_base64"]), b"x" * 4096)

    def test_bad_outputs_are_invalid_outputs(self):
        cases = {"traversal": ["../x"], "absolute": ["/etc/passwd"], "not a list": "out.txt",
                 "not a string": [7], "empty": [""]}
        for name, outputs in cases.items():
            with self.subTest(name):
                self.assertRejected(with_runtime(make_job(cmd=["true"]), outputs=outputs),
                                    "INVALID_OUTPUTS")

    def test_binary_stdout_and_stderr_round_trip_in_base64(self):
        job = make_job(cmd=["sh", "-c",
                            "printf '%s'; printf '\\377\\000\\n' >&2" % PRINTF_ALL_BYTES])
        record = self.run_job(job)
        self.assertFinished(record)
        status, exact = self.worker.request("GET", "/jobs/%s?encoding=base64" % job["job_id"])
        self.assertEqual(status, 200)
        self.assertEqual(base64.b64decode(exact["stdout_base64"]), ALL_BYTES)
        self.assertEqual(base64.b64decode(exact["stderr_base64"]), b"\xff\x00\n")


# ---------------------------------------------------------------------------------------
# Live output: GET /jobs/{id}/output.

class LiveOutput(ExecutionAssertions, WorkerTestCase):
    def open_stream(self, job_id, query=""):
        conn = self.worker.connection(timeout=30)
        self.addCleanup(conn.close)
        conn.request("GET", "/jobs/%s/output%s" % (job_id, query))
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.getheader("Content-Type").split(";")[0], "application/octet-stream")
        self.assertEqual(resp.getheader("Transfer-Encoding"), "chunked")
        return resp

    def test_output_streams_while_the_job_runs(self):
        job = make_job(cmd=["sh", "-c", "echo first; sleep 3; echo second"])
        self.assertEqual(self.worker.submit(job)[0], 202)
        resp = self.open_stream(job["job_id"])
        self.assertEqual(resp.readline(), b"first\n")
        first_at = time.time()
        self.assertEqual(self.worker.job(job["job_id"])[1]["state"], "running")
        self.assertEqual(resp.read(), b"second\n")  # the rest, up to the stream's end
        ended_at = time.time()
        record = self.worker.job(job["job_id"])[1]
        self.assertEqual(record["state"], "finished", record)  # the stream ends after the job
        self.assertEqual(record["stdout"], "first\nsecond\n")
        # The first line came while the job slept, not with the end. (How long the engine
        # took to start it is not this test's: Podman on a busy machine took 2.7 s.)
        self.assertGreater(ended_at - first_at, 2.5)

    def test_streams_select_stdout_stderr_or_both(self):
        job = make_job(cmd=["sh", "-c",
                            "echo out1; echo err1 >&2; sleep 1; echo out2; echo err2 >&2"])
        self.assertEqual(self.worker.submit(job)[0], 202)
        streams = {q: self.open_stream(job["job_id"], q)
                   for q in ("?stream=stdout", "?stream=stderr", "?stream=both", "")}
        got = {q: resp.read() for q, resp in streams.items()}
        self.assertEqual(got["?stream=stdout"], b"out1\nout2\n")
        self.assertEqual(got["?stream=stderr"], b"err1\nerr2\n")
        for q in ("?stream=both", ""):
            lines = got[q].splitlines()
            self.assertEqual(sorted(lines), [b"err1", b"err2", b"out1", b"out2"], q)
            # Each stream keeps its order; the sleep orders the pairs.
            self.assertLess(max(lines.index(b"out1"), lines.index(b"err1")),
                            min(lines.index(b"out2"), lines.index(b"err2")), q)

    def test_stream_of_an_ended_job_is_its_whole_output(self):
        job = make_job(cmd=["sh", "-c", "printf '%s'" % PRINTF_ALL_BYTES])
        self.assertFinished(self.run_job(job))
        self.assertEqual(self.open_stream(job["job_id"], "?stream=stdout").read(), ALL_BYTES)

    def test_output_of_an_unknown_job_is_404(self):
        status, body = self.worker.request("GET", "/jobs/no-such-job/output")
        self.assertEqual(status, 404, body)


# ---------------------------------------------------------------------------------------
# Isolation: the defaults, seen from inside the container; network; a fork bomb.

ISOLATION_PROBE = r"""
echo "net=$(ls /sys/class/net | tr '\n' ' ')"
grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):' /proc/self/status | tr -d '\t'
awk '$2 == "/" { split($4, o, ","); print "rootfs=" o[1] }' /proc/mounts
touch /tmp/x && echo tmp=writable
touch /workspace/x && echo workspace=writable
echo "uid=$(id -u) gid=$(id -g) pwd=$(pwd)"
echo "JOB_ID=$JOB_ID TASK_TYPE=$TASK_TYPE"
if [ -f /sys/fs/cgroup/pids.max ]; then
  echo "pids.max=$(cat /sys/fs/cgroup/pids.max)"
  echo "cpu=$(cat /sys/fs/cgroup/cpu.max)"
else
  echo "pids.max=$(cat /sys/fs/cgroup/pids/pids.max)"
  echo "cpu=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)"
fi
"""


def probe(record):
    """The probe's "key=value" and "Key:value" lines as a dict."""
    facts = {}
    for line in record["stdout"].splitlines():
        key, value = re.split(r"[=:]", line, maxsplit=1)
        facts[key] = value
    return facts


class Isolation(ExecutionAssertions, WorkerTestCase):
    config = {}  # the defaults are what is under test

    def test_default_isolation_inside_the_container(self):
        job = make_job(cmd=["sh", "-c", ISOLATION_PROBE],
                       task={"type": "isolation_probe", "payload": {}})
        record = self.run_job(job)
        self.assertFinished(record)
        self.assertEqual(record["stderr"], "")
        self.assertEqual(probe(record), {
            "net": "lo ",
            "CapInh": "0000000000000000", "CapPrm": "0000000000000000",
            "CapEff": "0000000000000000", "CapBnd": "0000000000000000",
            "CapAmb": "0000000000000000", "NoNewPrivs": "1",
            "rootfs": "ro", "tmp": "writable", "workspace": "writable",
            "uid": "65534 gid=65534 pwd=/workspace",
            "JOB_ID": "%s TASK_TYPE=isolation_probe" % job["job_id"],
            "pids.max": "256",
            "cpu": "100000 100000",  # default_cpus 1.0
        })
        self.assertEqual(record["limits"], {"memory_mb": 512, "max_runtime_seconds": 300,
                                            "cpus": 1.0, "pids_limit": 256})
        isolation = record["isolation"]
        self.assertEqual(set(isolation), {"network", "read_only_rootfs", "user", "runtime",
                                          "workspace"})
        self.assertEqual((isolation["network"], isolation["read_only_rootfs"], isolation["user"],
                          isolation["workspace"]), ("none", True, "65534:65534", "/workspace"))

    def test_runtime_env_cannot_replace_job_id_or_task_type(self):
        # The parser takes any name; the worker sets its own two after runtime.env.
        job = make_job(cmd=["sh", "-c", "echo \"$JOB_ID $TASK_TYPE $OTHER\"; "
                                        "env | grep -E '^(JOB_ID|TASK_TYPE)=' | sort"],
                       env={"JOB_ID": "spoofed-id", "TASK_TYPE": "spoofed-type",
                            "OTHER": "kept"},
                       task={"type": "env_probe", "payload": {}})
        record = self.run_job(job)
        self.assertFinished(record)
        # One entry each, so getenv() (the first match) and the shell (the last) agree.
        self.assertEqual(record["stdout"].splitlines(), [
            "%s env_probe kept" % job["job_id"],
            "JOB_ID=%s" % job["job_id"],
            "TASK_TYPE=env_probe",
        ])

    def test_cpus_limit_reaches_the_cgroup(self):
        job = make_job(cmd=["sh", "-c", ISOLATION_PROBE], limits={"cpus": 0.5})
        record = self.run_job(job)
        self.assertFinished(record)
        self.assertEqual(probe(record)["cpu"], "50000 100000")
        self.assertEqual(record["limits"]["cpus"], 0.5)

    def test_bridge_network_is_not_allowed_by_default(self):
        job = with_runtime(make_job(cmd=["true"]), network="bridge")
        self.assertRejected(job, "NETWORK_NOT_ALLOWED")

    def test_privilege_fields_are_forbidden(self):
        cases = {"privileged": True, "cap_add": ["SYS_ADMIN"], "devices": ["/dev/kmsg"],
                 "volumes": ["/:/host"]}
        for field, value in cases.items():
            with self.subTest(field):
                job = with_runtime(make_job(cmd=["true"]), **{field: value})
                self.assertRejected(job, "FORBIDDEN_FIELD")


class NetworkAllowed(ExecutionAssertions, WorkerTestCase):
    config = {"allow_network": True}

    def test_bridge_only_when_asked(self):
        bridged = self.run_job(with_runtime(make_job(cmd=["ls", "/sys/class/net"]),
                                            network="bridge"))
        self.assertFinished(bridged)
        self.assertEqual(sorted(bridged["stdout"].split()), ["eth0", "lo"])
        self.assertEqual(bridged["isolation"]["network"], "bridge")
        default = self.run_job(make_job(cmd=["ls", "/sys/class/net"]))
        self.assertEqual(default["stdout"].split(), ["lo"])
        self.assertEqual(default["isolation"]["network"], "none")


class ForkBomb(ExecutionAssertions, WorkerTestCase):
    config = {"pids_limit": 64}

    def test_fork_bomb_is_contained(self):
        # Every bomb process forks without end; PID 1 is a sleep, so the job lasts until its
        # deadline while the bomb holds the container at its pids limit.
        bomb = "bomb() { while :; do bomb & done; }; bomb 2>/dev/null & exec sleep 60"
        job = make_job(cmd=["sh", "-c", bomb], limits={"max_runtime_seconds": 5})
        self.assertEqual(self.worker.submit(job)[0], 202)
        self.worker.wait_for(job["job_id"], states=("running",))
        while self.worker.job(job["job_id"])[1]["state"] == "running":
            started = time.time()
            status, health = self.worker.request("GET", "/health")
            self.assertEqual(status, 200)
            self.assertLess(time.time() - started, scaled(2.0), "the worker stalled under the bomb")
            time.sleep(0.5)
        record = self.worker.wait_for(job["job_id"], timeout=30)
        self.assertFailed(record, "TIMEOUT")
        self.assertEqual(record["limits"]["pids_limit"], 64)
        self.assertNoContainersLeft(timeout=15)

        after = self.run_job(make_job(cmd=["sh", "-c", ISOLATION_PROBE]))
        self.assertFinished(after)
        self.assertEqual(probe(after)["pids.max"], "64")
        self.assertEqual(self.worker.request("GET", "/health")[0], 200)
        self.assertNoContainersLeft()


if __name__ == "__main__":
    unittest.main()
