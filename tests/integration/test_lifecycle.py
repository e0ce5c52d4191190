"""The daemon's lifecycle: command line, config errors, env overrides, signals, clean-up."""

import os
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from harness import BIN, IMAGE, REPO, Worker, containers_of, docker, make_job, urlquote, worker_owns


def run(args, env=None):
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([BIN] + args, capture_output=True, text=True, env=full_env, timeout=30)


class CommandLine(unittest.TestCase):
    def test_version_and_help(self):
        out = run(["--version"])
        self.assertEqual(out.returncode, 0)
        self.assertRegex(out.stdout, r"^worker-agent \d+\.\d+\.\d+")
        out = run(["--help"])
        self.assertEqual(out.returncode, 0)
        self.assertIn("--check-config", out.stdout)
        self.assertEqual(run(["--bogus"]).returncode, 2)

    def test_shipped_config_checks_clean(self):
        out = run(["--config", os.path.join(REPO, "etc/worker-agent.yaml"), "--check-config"])
        self.assertEqual(out.returncode, 0, out.stderr)

    def test_config_errors_name_position_and_key(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write("port: 9000\nmax_concurent_jobs: 3\n")
        worker_owns(f.name)
        try:
            out = run(["--config", f.name, "--check-config"])
            self.assertNotEqual(out.returncode, 0)
            self.assertIn(f.name + ":2:1", out.stderr)
            self.assertIn("max_concurent_jobs", out.stderr)
            # Start-up refuses the same file the same way.
            out = run(["--config", f.name])
            self.assertNotEqual(out.returncode, 0)
            self.assertIn(f.name + ":2:1", out.stderr)
        finally:
            os.unlink(f.name)
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write("port: lots\n")
        worker_owns(f.name)
        try:
            out = run(["--config", f.name, "--check-config"])
            self.assertNotEqual(out.returncode, 0)
            self.assertIn(":1:7", out.stderr)
            self.assertIn("port", out.stderr)
        finally:
            os.unlink(f.name)

    def test_env_overrides_reach_the_running_worker(self):
        w = Worker(env={"WORKER_AGENT_LABELS": "from-env,second", "MAX_CONCURRENT_JOBS": "3"})
        try:
            _, info = w.request("GET", "/info")
            self.assertEqual(info["labels"], ["from-env", "second"])
            _, health = w.request("GET", "/health")
            self.assertEqual(health["max_concurrent_jobs"], 3)
        finally:
            w.close()


class Signals(unittest.TestCase):
    def test_sigterm_removes_running_containers_and_exits_0(self):
        w = Worker()
        try:
            for _ in range(2):
                w.submit(make_job(cmd=["sleep", "60"]))
            deadline = time.time() + 15
            while len(containers_of(w.worker_id)) < 2 and time.time() < deadline:
                time.sleep(0.05)
            self.assertEqual(len(containers_of(w.worker_id)), 2)
            self.assertEqual(w.stop(signal.SIGTERM), 0, w.log())
            self.assertEqual(containers_of(w.worker_id), [])
        finally:
            w.close()

    def test_sigterm_drains_running_jobs_then_exits_0(self):
        w = Worker({"shutdown_drain_seconds": 30})
        try:
            job = make_job(cmd=["sh", "-c", "sleep 2; echo drained"])
            w.submit(job)
            w.wait_for(job["job_id"], states=("running",))
            time.sleep(0.5)
            w.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            # Draining: new jobs are refused, results stay readable.
            status, body = w.submit(make_job(cmd=["true"]))
            self.assertEqual((status, body["error"]["code"]), (503, "SHUTTING_DOWN"))
            status, record = w.job(job["job_id"])
            self.assertEqual((status, record["state"]), (200, "running"))
            # The job ends on its own, then the worker exits by itself.
            self.assertEqual(w.proc.wait(15), 0, w.log())
            w.reader.join(5)
            self.assertIn("job finished job_id=%s exit_code=0" % job["job_id"], w.log())
            self.assertNotIn("cancel", w.log())
            self.assertEqual(containers_of(w.worker_id), [])
        finally:
            w.close()

    def test_second_sigterm_skips_the_drain(self):
        w = Worker({"shutdown_drain_seconds": 300})
        try:
            job = make_job(cmd=["sleep", "60"])
            w.submit(job)
            deadline = time.time() + 15
            while not containers_of(w.worker_id) and time.time() < deadline:
                time.sleep(0.05)
            started = time.time()
            w.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            self.assertIsNone(w.proc.poll())  # still draining
            w.send_signal(signal.SIGTERM)
            self.assertEqual(w.proc.wait(20), 0, w.log())
            self.assertLess(time.time() - started, 20)
            self.assertEqual(containers_of(w.worker_id), [])
        finally:
            w.close()

    def test_restart_after_sigkill_removes_orphans(self):
        w = Worker()
        try:
            w.submit(make_job(cmd=["sleep", "60"]))
            deadline = time.time() + 15
            while not containers_of(w.worker_id) and time.time() < deadline:
                time.sleep(0.05)
            self.assertEqual(len(containers_of(w.worker_id)), 1)
            w.stop(signal.SIGKILL)
            self.assertEqual(len(containers_of(w.worker_id)), 1)  # the crash left it behind
            again = Worker({"worker_id": w.worker_id})
            try:
                deadline = time.time() + 10
                while containers_of(w.worker_id) and time.time() < deadline:
                    time.sleep(0.05)
                self.assertEqual(containers_of(w.worker_id), [])
                # Logged once the engine has answered the removal, which can be after the
                # container has left its list.
                again.wait_log(r"removed container left by this worker")
                # The lost job is not invented.
                self.assertEqual(again.request("GET", "/jobs")[1]["count"], 0)
            finally:
                again.close()
        finally:
            w.close()


class EngineUnreachable(unittest.TestCase):
    def test_health_degraded_and_jobs_wait(self):
        missing = os.path.join(tempfile.gettempdir(), "wa-no-engine-%d.sock" % os.getpid())
        # No worker_id: the default, the hostname (no engine, so no sweep can reach the
        # containers of another worker that defaults to the same id).
        w = StartWithoutEngine({"docker_host": "unix://" + missing, "worker_id": None})
        try:
            status, health = w.request("GET", "/health")
            # Degraded, said in the body; only the strict form says it in the status code.
            self.assertEqual(status, 200)
            self.assertEqual(health["status"], "degraded")
            self.assertFalse(health["docker"]["reachable"])
            self.assertIn(missing, health["docker"]["error"])
            strict, strict_health = w.request("GET", "/health?strict=1")
            self.assertEqual((strict, strict_health["status"]), (503, "degraded"))
            self.assertEqual(w.request("GET", "/health?strict=0")[0], 200)
            status, bad = w.request("GET", "/health?strict=true")
            self.assertEqual((status, bad["error"]["code"]), (400, "INVALID_QUERY"))
            # Disk figures as the reference worker has them with no engine to ask: Docker's
            # default data root until the engine names its own.
            self.assertEqual(health["docker_root_dir"], "/var/lib/docker")
            self.assertIsInstance(health["docker_disk_total_mb"], int)
            self.assertIsInstance(health["jobs_disk_total_mb"], int)
            status, info = w.request("GET", "/info")
            self.assertEqual(status, 200)
            self.assertEqual(info["worker_id"], socket.gethostname())
            self.assertEqual(info["worker_id"], info["hostname"])
            # Starting it would only fail it: the job waits for an engine (test_engine_outage
            # has it come back), past more than one ping, and can still be cancelled.
            job = make_job(cmd=["true"])
            self.assertEqual(w.submit(job)[0], 202)
            time.sleep(4.5)
            status, record = w.job(job["job_id"])
            self.assertEqual((record["state"], record["queue_position"]), ("queued", 1), record)
            self.assertIn("queued jobs wait until the docker engine answers", w.log())
            self.assertEqual(w.request("DELETE", "/jobs/" + job["job_id"])[0], 200)
            record = w.wait_for(job["job_id"], timeout=5)
            self.assertEqual((record["state"], record["error"]["code"]), ("failed", "CANCELLED"))
            self.assertEqual(w.request("GET", "/info")[0], 200)  # still serving
        finally:
            w.stop()


class StartWithoutEngine(Worker):
    """A worker pointed at an engine that is not there: it must not wait for it."""

    def wait_engine(self, timeout=10):
        # Let the first ping fail so /health has something to say.
        time.sleep(0.5)


if __name__ == "__main__":
    unittest.main()
