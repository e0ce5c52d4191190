"""Engine API version negotiation against a simulated Docker 29 (docker29_proxy.py: a
socket in front of the real engine that refuses clients older than API 1.44 as Docker
29.0 does and says it speaks 1.44 to 1.52): the worker negotiates 1.52, sweeps, runs the
sample job, and never sends a request the engine refuses. Also: an engine outside the
worker's range, a pin the engine refuses (and lifting it by reload), and an engine
upgraded in place between two pings. `make test-docker29` runs the whole integration
suite through such a proxy; this file keeps the cases that need one of their own."""

import json
import os
import re
import shutil
import signal
import tempfile
import time
import unittest

from docker29_proxy import Docker29Proxy
from harness import DOCKER_SOCK, IMAGE, REPO, UnixHTTPConnection, Worker, containers_of, docker, \
    make_job, scaled, worker_owns


def upstream_api_version():
    """The newest API version of the engine behind the proxy (the one the tests use, which
    under make test-docker29 is itself a simulated Docker 29)."""
    status, body = docker("GET", "/version")
    assert status == 200, body
    return min(body["ApiVersion"], "1.52", key=lambda v: tuple(int(p) for p in v.split(".")))


def raw(sock, method, path):
    conn = UnixHTTPConnection(sock)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def wait_until(predicate, timeout, what):
    deadline = time.time() + scaled(timeout)
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


class ProxyTestCase(unittest.TestCase):
    min_version, max_version, server_version = "1.44", "1.52", "29.0.0"

    @classmethod
    def setUpClass(cls):
        # The worker may run in its image (make test-image): the directory is mounted into
        # its container (WORKER_AGENT_TEST_MOUNTS) and given to its user.
        cls.dir = worker_owns(tempfile.mkdtemp(prefix="wa-d29-", dir="/run"))
        cls.sock = os.path.join(cls.dir, "docker.sock")
        cls.proxy = Docker29Proxy(cls.sock, DOCKER_SOCK, cls.min_version, cls.max_version,
                                  forward_as=upstream_api_version(),
                                  server_version=cls.server_version).start()

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def worker(self, config=None):
        cfg = {"docker_host": "unix://" + self.sock}
        cfg.update(config or {})
        return Worker(cfg, env={"WORKER_AGENT_TEST_MOUNTS": self.dir})

    def assertNothingRefused(self):
        self.assertEqual(self.proxy.refused, [], "requests the engine refused for their version")


class SimulatedDocker29(ProxyTestCase):
    def test_the_proxy_answers_as_docker_29(self):
        status, headers, body = raw(self.sock, "GET", "/v1.41/version")
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(body), {"message": "client version 1.41 is too old. Minimum "
                         "supported API version is 1.44, please upgrade your client to a newer "
                         "version"})
        self.assertEqual(headers["Api-Version"], "1.52")
        status, headers, body = raw(self.sock, "GET", "/_ping")
        self.assertEqual((status, body, headers["Api-Version"]), (200, b"OK", "1.52"))
        status, _, body = raw(self.sock, "GET", "/version")
        version = json.loads(body)
        self.assertEqual((version["ApiVersion"], version["MinAPIVersion"]), ("1.52", "1.44"))
        self.proxy.refused.clear()

    def test_the_worker_negotiates_1_52_and_runs_the_sample_job(self):
        w = self.worker()
        try:
            status, info = w.request("GET", "/info")
            self.assertEqual(status, 200)
            self.assertEqual(info["docker"], {"server_version": "29.0.0", "api_version": "1.52",
                                              "min_api_version": "1.44",
                                              "negotiated_api_version": "1.52"})
            status, health = w.request("GET", "/health")
            self.assertEqual((status, health["status"]), (200, "ok"), health)
            w.wait_log(r"docker engine API version 1\.52 engine_api=1\.44 to 1\.52")
            resp, metrics = w.request("GET", "/metrics", raw=True)
            self.assertIn('worker_agent_docker_api_info{negotiated="1.52",engine_min="1.44",'
                          'engine_max="1.52"} 1', metrics.decode())
            with open(os.path.join(REPO, "examples/jobs/sample-job.json")) as f:
                body = f.read()
            job_id = json.loads(body)["job_id"]
            status, reply = w.request("POST", "/jobs", body)
            self.assertEqual(status, 202, reply)
            record = w.wait_for(job_id)
            self.assertEqual((record["state"], record["exit_code"]), ("finished", 0), record)
            self.assertEqual(record["stdout"], body)
            # stderr, an exit code, files in and out (archive PUT and GET), OOM state.
            job = make_job(cmd=["sh", "-c", "cat in.txt; echo oops >&2; mkdir out; "
                                            "echo done > out/r.txt; exit 3"],
                           image=IMAGE)
            job["runtime"]["files"] = [{"path": "in.txt", "content": "given\n"}]
            job["runtime"]["outputs"] = ["out/r.txt"]
            w.submit(job)
            record = w.wait_for(job["job_id"])
            self.assertEqual((record["state"], record["exit_code"]), ("failed", 3), record)
            self.assertEqual((record["stdout"], record["stderr"]), ("given\n", "oops\n"))
            self.assertEqual(record["outputs"][0]["content_base64"], "ZG9uZQo=")
            self.assertNothingRefused()
        finally:
            w.close()

    def test_the_start_up_sweep_runs(self):
        worker_id = "it-d29-sweep-%d" % os.getpid()
        status, created = docker("POST", "/containers/create", {
            "Image": IMAGE, "Cmd": ["sleep", "60"],
            "Labels": {"worker-agent.worker_id": worker_id}})
        self.assertEqual(status, 201, created)
        w = self.worker({"worker_id": worker_id})
        try:
            wait_until(lambda: not containers_of(worker_id), 15, "the sweep")
            # Logged once the engine has answered the removal, which can be after the
            # container has left its list.
            w.wait_log(r"removed container left by this worker")
            self.assertNothingRefused()
        finally:
            w.close()
            docker("DELETE", "/containers/%s?force=1" % created["Id"])

    def test_a_pin_the_engine_refuses_degrades_until_lifted_by_reload(self):
        w = self.worker({"docker_api_version": "1.41"})
        try:
            # 200 with the state in the body (what the dashboard reads); 503 when strict.
            status, health = w.request("GET", "/health")
            self.assertEqual((status, health["status"]), (200, "degraded"), health)
            self.assertEqual(w.request("GET", "/health?strict=1")[0], 503)
            reason = [r for r in health["reasons"] if "API version" in r]
            self.assertEqual(len(reason), 1, health)
            self.assertIn("pins Engine API 1.41", reason[0])
            self.assertIn("1.44 to 1.52", reason[0])
            status, reply = w.submit(make_job(cmd=["true"]))
            self.assertEqual(status, 503, reply)
            self.assertEqual(reply["error"]["code"], "ENGINE_API_UNSUPPORTED")
            self.assertIsNone(w.request("GET", "/info")[1]["docker"]["negotiated_api_version"])
            self.assertNothingRefused()
            config = dict(w.config)
            del config["docker_api_version"]
            w.write_config(config)
            w.send_signal(signal.SIGHUP)
            wait_until(lambda: w.request("GET", "/health?strict=1")[0] == 200, 10,
                       "/health to be ok")
            job = make_job(cmd=["echo", "after the reload"])
            self.assertEqual(w.submit(job)[0], 202)
            self.assertEqual(w.wait_for(job["job_id"])["stdout"], "after the reload\n")
            self.assertNothingRefused()
        finally:
            w.close()


class EngineTooNew(ProxyTestCase):
    # An engine that has dropped every version this worker speaks.
    min_version, max_version, server_version = "1.53", "1.60", "40.0.0"

    def test_degraded_with_both_ranges_and_jobs_refused(self):
        w = self.worker()
        try:
            # 200 with the state in the body (what the dashboard reads); 503 when strict.
            status, health = w.request("GET", "/health")
            self.assertEqual((status, health["status"]), (200, "degraded"), health)
            self.assertEqual(w.request("GET", "/health?strict=1")[0], 503)
            reason = [r for r in health["reasons"] if "API version" in r]
            self.assertEqual(len(reason), 1, health)
            for part in ("1.53 to 1.60", "1.41 to 1.52", "upgrade worker-agent",
                         "DOCKER_MIN_API_VERSION"):
                self.assertIn(part, reason[0])
            status, reply = w.submit(make_job(cmd=["true"]))
            self.assertEqual(status, 503, reply)
            self.assertEqual(reply["error"]["code"], "ENGINE_API_UNSUPPORTED")
            self.assertIn("1.53 to 1.60", reply["error"]["message"])
            self.assertNothingRefused()
        finally:
            w.close()


class EngineUpgradedInPlace(ProxyTestCase):
    # Starts as Debian 12's docker.io; becomes Docker 29 between two pings.
    min_version, max_version, server_version = "1.12", "1.41", "20.10.24+dfsg1"

    def test_negotiates_again_without_an_outage(self):
        w = self.worker()
        try:
            self.assertEqual(w.request("GET", "/info")[1]["docker"]["negotiated_api_version"],
                             "1.41")
            self.proxy.set_range("1.44", "1.52", "29.0.0")
            # While the worker asks /version again, /info's docker is null.
            wait_until(lambda: (w.request("GET", "/info")[1]["docker"] or {})
                       .get("negotiated_api_version") == "1.52", 15, "negotiation again")
            self.assertTrue(re.search(r"API version changed from 1\.41 to 1\.52", w.log()))
            job = make_job(cmd=["echo", "on 29"])
            self.assertEqual(w.submit(job)[0], 202)
            self.assertEqual(w.wait_for(job["job_id"])["stdout"], "on 29\n")
            self.assertNothingRefused()
        finally:
            w.close()


if __name__ == "__main__":
    unittest.main()
