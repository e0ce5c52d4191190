"""Monitoring: /health's additions and status rules, /metrics in the Prometheus text
format (checked by promtool and scraped by a real Prometheus on loopback)."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request

from harness import REPO, Worker, WorkerTestCase, make_job

FIXTURES = os.path.join(REPO, "tests/fixtures/metrics")


def metrics_text(worker):
    resp, data = worker.request("GET", "/metrics", raw=True)
    return resp, data.decode()


def samples(text):
    """{'name{labels}': value} for every sample line."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


class HealthAndMetrics(WorkerTestCase):
    config = {"max_concurrent_jobs": 2}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        job = make_job(cmd=["sh", "-c", "echo hello; echo oops >&2"])
        assert cls.worker.submit(job)[0] == 202
        cls.job = cls.worker.wait_for(job["job_id"])
        failing = make_job(cmd=["sh", "-c", "exit 3"])
        assert cls.worker.submit(failing)[0] == 202
        cls.worker.wait_for(failing["job_id"])

    def test_health_additions(self):
        status, h = self.worker.request("GET", "/health")
        self.assertEqual((status, h["status"]), (200, "ok"), h)
        # Protocol fields are still there.
        for key in ("health_protocol_version", "load_average", "running_jobs", "temperature_c",
                    "memory_total_mb", "jobs_disk_available_mb", "docker"):
            self.assertIn(key, h)
        self.assertTrue(h["docker"]["reachable"])
        self.assertIsInstance(h["docker"]["ping_ms"], float)
        # cpu_usage_percent needs two samples one second apart.
        time.sleep(1.2)
        h = self.worker.request("GET", "/health")[1]
        self.assertTrue(0 <= h["cpu_usage_percent"] <= 100, h["cpu_usage_percent"])
        self.assertIsInstance(h["thermal_zones"], list)
        self.assertIn(h["cgroup"]["version"], ("v1", "v2", "none"))
        self.assertEqual(set(h["cgroup"]["jobs"]),
                         {"containers", "containers_found", "cpu_usage_seconds", "memory_current_bytes",
                          "memory_max_bytes", "oom_kills", "pids_current", "io_read_bytes", "io_write_bytes"})
        self.assertEqual(h["jobs"]["queued"], 0)
        self.assertEqual(h["jobs"]["running"], 0)
        self.assertEqual(h["jobs"]["accepted_total"], 2)
        self.assertEqual(h["jobs"]["finished_total"], 1)
        self.assertEqual(h["jobs"]["failed_total"], 1)
        self.assertEqual(h["health_limits"], {"thermal_limit_c": 90, "disk_min_free_percent": 5})

    def test_metrics_shape_and_values(self):
        resp, text = metrics_text(self.worker)
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.getheader("Content-Type"), "text/plain; version=0.0.4; charset=utf-8")
        s = samples(text)
        self.assertEqual(s['worker_agent_jobs_total{state="finished",error_code="none"}'], 1)
        self.assertEqual(s['worker_agent_jobs_total{state="failed",error_code="NON_ZERO_EXIT"}'], 1)
        self.assertEqual(s["worker_agent_job_duration_seconds_count"], 2)
        self.assertEqual(s["worker_agent_job_queue_wait_seconds_count"], 2)
        self.assertEqual(s["worker_agent_container_start_seconds_count"], 2)
        self.assertGreater(s["worker_agent_container_start_seconds_sum"], 0)
        self.assertEqual(s['worker_agent_job_output_bytes_total{stream="stdout"}'], len("hello\n"))
        self.assertEqual(s['worker_agent_job_output_bytes_total{stream="stderr"}'], len("oops\n"))
        self.assertEqual(s["worker_agent_jobs_queued"], 0)
        self.assertEqual(s["worker_agent_jobs_running"], 0)
        self.assertEqual(s["worker_agent_docker_engine_up"], 1)
        self.assertIn('worker_agent_host_load_average{period="1m"}', s)
        self.assertIn("worker_agent_host_memory_available_bytes", s)
        self.assertEqual(s['worker_agent_http_requests_total{method="POST",route="/jobs",status="202"}'], 2)
        self.assertGreaterEqual(s['worker_agent_http_requests_total{method="GET",route="/jobs/{job_id}",status="200"}'], 2)
        # Every name follows the conventions.
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(" ")
                self.assertTrue(name.startswith("worker_agent_"), name)
                if kind == "counter":
                    self.assertTrue(name.endswith("_total"), name)

    def test_unmatched_routes_and_docker_errors_are_counted(self):
        self.worker.request("GET", "/no/such/path")
        self.worker.request("GET", "/jobs/none-such")
        # A job whose image does not exist (pull_policy never): the image inspect fails.
        job = make_job(image="wa-no-such-image-%d:1" % os.getpid())
        self.assertEqual(self.worker.submit(job)[0], 202)
        self.assertEqual(self.worker.wait_for(job["job_id"])["error"]["code"], "IMAGE_PULL_FAILED")
        s = samples(metrics_text(self.worker)[1])
        self.assertGreaterEqual(s['worker_agent_http_requests_total{method="GET",route="unmatched",status="404"}'], 1)
        self.assertGreaterEqual(s['worker_agent_http_requests_total{method="GET",route="/jobs/{job_id}",status="404"}'], 1)
        self.assertGreaterEqual(s['worker_agent_docker_api_errors_total{endpoint="image_inspect"}'], 1)

    def test_promtool_accepts_the_exposition(self):
        text = metrics_text(self.worker)[1]
        result = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                                capture_output=True, timeout=30)
        self.assertEqual(result.returncode, 0, result.stdout.decode() + result.stderr.decode())
        # promtool also lints; it must have nothing to say.
        self.assertEqual(result.stdout.decode().strip() + result.stderr.decode().strip(), "")


class FixtureHosts(unittest.TestCase):
    """metrics_root pointed at fixture trees; status rules from the sampled values."""

    def run_worker(self, fixture, **config):
        cfg = {"metrics_root": os.path.join(FIXTURES, fixture)}
        cfg.update(config)
        w = Worker(cfg)
        self.addCleanup(w.close)
        return w

    def test_cgroup_v2_and_several_thermal_zones(self):
        w = self.run_worker("cgroup_v2_host")
        h = w.request("GET", "/health")[1]
        self.assertEqual(h["status"], "ok", h)
        self.assertEqual(h["temperature_c"], 64.0)
        self.assertEqual([(z["zone"], z["type"], z["temperature_c"]) for z in h["thermal_zones"]],
                         [("thermal_zone0", "acpitz", 27.8), ("thermal_zone1", "x86_pkg_temp", 64.0),
                          ("thermal_zone10", "pch_cannonlake", 48.5)])
        self.assertEqual(h["cgroup"]["version"], "v2")
        self.assertEqual(h["cgroup"]["worker"]["memory_current_bytes"], 41943040)
        self.assertIsNone(h["cgroup"]["worker"]["memory_max_bytes"])
        self.assertEqual(h["cgroup"]["worker"]["pids_current"], 7)
        self.assertEqual(h["load_average"], [0.1, 0.2, 0.3])
        s = samples(metrics_text(w)[1])
        self.assertEqual(s['worker_agent_host_temperature_celsius{zone="thermal_zone1",type="x86_pkg_temp"}'], 64)
        self.assertEqual(s['worker_agent_cgroup_info{version="v2"}'], 1)
        self.assertEqual(s["worker_agent_cgroup_cpu_usage_seconds_total"], 2.5)

    def test_cgroup_v1_and_no_thermal_zones(self):
        w = self.run_worker("cgroup_v1_host")
        h = w.request("GET", "/health")[1]
        self.assertEqual(h["cgroup"]["version"], "v1")
        self.assertEqual(h["cgroup"]["worker"]["memory_current_bytes"], 31457280)
        self.assertEqual(h["cgroup"]["worker"]["io_write_bytes"], 131072)
        self.assertEqual(h["thermal_zones"], [])
        self.assertIsNone(h["temperature_c"])

    def test_missing_files_are_null_not_errors(self):
        w = self.run_worker("no-such-tree")
        status, h = w.request("GET", "/health")
        self.assertEqual(status, 200, h)
        self.assertIsNone(h["memory_total_mb"])
        self.assertIsNone(h["cpu_usage_percent"])
        self.assertEqual(h["cgroup"], {"version": "none", "worker": None, "jobs": h["cgroup"]["jobs"]})
        self.assertEqual(metrics_text(w)[0].status, 200)

    def test_thermal_limit_and_full_disk_degrade(self):
        w = self.run_worker("cgroup_v2_host", thermal_limit_c=60, disk_min_free_percent=100)
        status, h = w.request("GET", "/health")
        self.assertEqual((status, h["status"]), (200, "degraded"))
        self.assertEqual(w.request("GET", "/health?strict=1")[0], 503)
        self.assertIn("temperature 64.0 C is above thermal_limit_c 60 (thermal_zone1 x86_pkg_temp)", h["reasons"])
        self.assertTrue(any(r.startswith("disk nearly full: jobs_path ") for r in h["reasons"]), h["reasons"])
        self.assertTrue(h["docker"]["reachable"])


class HostCgroups(WorkerTestCase):
    """The real host's cgroups, as the worker finds them from wherever it runs (make
    test-image: from its container, through the host's cgroup namespace)."""

    def cgroup_when(self, done):
        """/health's cgroup object once done(it) holds (the sampler reads every second)."""
        deadline = time.time() + 10
        while True:
            h = self.worker.request("GET", "/health")[1]
            if done(h["cgroup"]) or time.time() > deadline:
                return h
            time.sleep(0.2)

    def test_a_running_job_and_the_worker_are_found(self):
        job = make_job(cmd=["sleep", "30"], limits={"memory_mb": 64})
        self.assertEqual(self.worker.submit(job)[0], 202)
        self.addCleanup(self.worker.request, "DELETE", "/jobs/" + job["job_id"])
        self.worker.wait_for(job["job_id"], states=("running",), timeout=30)
        # The sample may have been taken while runc was starting the container: its
        # cgroup made, its memory limit not yet written (read as no limit). The next one
        # sees the limit.
        h = self.cgroup_when(lambda c: c["jobs"]["containers_found"] == 1
                             and c["jobs"]["memory_max_bytes"] is not None)
        jobs = h["cgroup"]["jobs"]
        self.assertEqual((jobs["containers"], jobs["containers_found"]), (1, 1), h["cgroup"])
        self.assertEqual(jobs["memory_max_bytes"], 64 * 1024 * 1024)
        self.assertGreaterEqual(jobs["pids_current"], 1)
        # The sampler holds the container's cgroup files open while the job runs: once it
        # ends they are let go, and the next job's container is read, not the last one's.
        self.assertEqual(self.worker.request("DELETE", "/jobs/" + job["job_id"])[0], 202)
        self.assertEqual(self.worker.wait_for(job["job_id"], timeout=30)["error"]["code"], "CANCELLED")
        h = self.cgroup_when(lambda c: c["jobs"]["containers"] == 0)
        self.assertEqual(h["cgroup"]["jobs"]["containers_found"], 0, h["cgroup"])
        second = make_job(cmd=["sleep", "30"], limits={"memory_mb": 32})
        self.assertEqual(self.worker.submit(second)[0], 202)
        self.addCleanup(self.worker.request, "DELETE", "/jobs/" + second["job_id"])
        self.worker.wait_for(second["job_id"], states=("running",), timeout=30)
        h = self.cgroup_when(lambda c: c["jobs"]["containers_found"] == 1
                             and c["jobs"]["memory_max_bytes"] is not None)
        self.assertEqual(h["cgroup"]["jobs"]["memory_max_bytes"], 32 * 1024 * 1024, h["cgroup"])
        # The worker's own cgroup is reported unless it is the root (the whole host): the
        # memory controller's on cgroup v1, the unified one on v2.
        controller = "memory" if h["cgroup"]["version"] == "v1" else ""
        with open("/proc/%d/cgroup" % self.worker.pid) as f:
            own = [line.rstrip("\n").split(":", 2)[2] for line in f
                   if controller in line.split(":", 2)[1].split(",")
                   or (not controller and line.startswith("0::"))]
        if own and own[0] != "/":
            self.assertIsNotNone(h["cgroup"]["worker"], (own, h["cgroup"]))
            self.assertGreater(h["cgroup"]["worker"]["memory_current_bytes"], 0)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RealPrometheus(WorkerTestCase):
    """A real Prometheus server scrapes the worker on loopback."""

    def test_prometheus_scrapes_the_worker(self):
        tmp = tempfile.mkdtemp(prefix="wa-prom-")
        self.addCleanup(shutil.rmtree, tmp, True)
        port = free_port()
        with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: worker_agent_it\n    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n" % self.worker.port)
        log = open(os.path.join(tmp, "prometheus.log"), "w+")
        self.addCleanup(log.close)
        prom = subprocess.Popen(["prometheus", "--config.file=" + os.path.join(tmp, "prometheus.yml"),
                                 "--web.listen-address=127.0.0.1:%d" % port,
                                 "--storage.tsdb.path=" + os.path.join(tmp, "data")],
                                stdout=log, stderr=subprocess.STDOUT)

        def stop():
            prom.terminate()
            try:
                prom.wait(15)
            except subprocess.TimeoutExpired:
                prom.kill()
                prom.wait()
        self.addCleanup(stop)

        def query(expr):
            url = "http://127.0.0.1:%d/api/v1/query?query=%s" % (port, urllib.request.quote(expr))
            with urllib.request.urlopen(url, timeout=5) as r:
                return json.loads(r.read())["data"]["result"]

        deadline = time.time() + 60
        up = build = scrapes = None
        while time.time() < deadline:
            try:
                up = query('up{job="worker_agent_it"}')
                build = query('worker_agent_build_info{job="worker_agent_it"}')
                # A scrape is counted once answered, so the second scrape shows the first.
                scrapes = query('worker_agent_http_requests_total{job="worker_agent_it",route="/metrics"}')
                if up and up[0]["value"][1] == "1" and build and scrapes:
                    break
            except OSError:
                pass  # not listening yet
            self.assertIsNone(prom.poll(), "prometheus exited")
            time.sleep(0.5)
        log.seek(0)
        self.assertTrue(up and up[0]["value"][1] == "1", "up: %s\n%s" % (up, log.read()))
        self.assertEqual(build[0]["value"][1], "1")
        self.assertTrue(scrapes, "the worker's count of /metrics requests never arrived")


if __name__ == "__main__":
    unittest.main()
