"""Faults a job can cause, which the worker must survive: a full workspace, output at full
speed for its whole run, a job that ignores SIGTERM, a container that is gone before its
stdin is written. Each ends with an exact outcome, no container left, and a worker that
goes on serving. (A job closing its stdin at once: test_jobs.py; a fork bomb:
test_execution.py.)"""

import os
import threading
import time
import unittest

from harness import WorkerTestCase, make_job, parse_time


class Assertions:
    def assertServes(self):
        """The worker still runs jobs: a small one finishes."""
        job = make_job(cmd=["sh", "-c", "echo still here"])
        self.assertEqual(self.worker.submit(job)[0], 202)
        record = self.worker.wait_for(job["job_id"], timeout=30)
        self.assertEqual((record["state"], record["stdout"]), ("finished", "still here\n"), record)


class FullWorkspace(Assertions, WorkerTestCase):
    config = {"workspace_size_mb": 1}

    def test_writing_past_the_workspace_size_fails_clearly(self):
        job = make_job(cmd=["sh", "-c", "df -k . | tail -n 1; dd if=/dev/zero of=big bs=1M count=4"])
        self.worker.submit(job)
        record = self.worker.wait_for(job["job_id"], timeout=30)
        self.assertEqual(record["state"], "failed", record)
        self.assertEqual(record["error"]["code"], "NON_ZERO_EXIT", record)
        self.assertNotEqual(record["exit_code"], 0)
        self.assertIn("No space left on device", record["stderr"])
        # The workspace is the 1 MB tmpfs (df: 1024 1K-blocks), not the engine's disk.
        fields = record["stdout"].split()
        self.assertEqual((fields[0], fields[1]), ("tmpfs", "1024"), record["stdout"])
        self.assertNoContainersLeft()
        self.assertServes()


class OutputFlood(Assertions, WorkerTestCase):
    config = {"output_limit_bytes": 65536}

    def test_yes_for_its_whole_timeout(self):
        job = make_job(cmd=["yes"], limits={"max_runtime_seconds": 3})
        self.worker.submit(job)
        self.worker.wait_for(job["job_id"], states=("running",), timeout=30)
        # /health, one request after another, for as long as the flood lasts.
        latencies = []
        ended = threading.Event()

        def probe():
            while not ended.is_set():
                started = time.monotonic()
                status, body = self.worker.request("GET", "/health")
                latencies.append(time.monotonic() - started)
                assert status in (200, 503) and "running_jobs" in body, (status, body)
                time.sleep(0.05)

        prober = threading.Thread(target=probe, daemon=True)
        prober.start()
        try:
            record = self.worker.wait_for(job["job_id"], timeout=60)
        finally:
            ended.set()
            prober.join(30)
        self.assertEqual(record["state"], "failed", record)
        self.assertEqual(record["error"]["code"], "TIMEOUT", record)
        self.assertIsNone(record["exit_code"])
        self.assertTrue(record["stdout_truncated"])
        self.assertEqual(record["stdout"], "y\n" * 32768)
        self.assertEqual(record["stderr"], "")
        self.assertGreater(len(latencies), 10)
        # A generous bound: a loop kept busy by the flood would take seconds.
        self.assertLess(max(latencies), 1.0, sorted(latencies)[-5:])
        print("\n/health during the flood: %d requests, median %.1f ms, max %.1f ms"
              % (len(latencies), 1000 * sorted(latencies)[len(latencies) // 2],
                 1000 * max(latencies)))
        self.assertNoContainersLeft()
        self.assertServes()


class IgnoresSigterm(Assertions, WorkerTestCase):
    # sh is PID 1 of its container and ignores SIGTERM anyway; the trap makes sure, and
    # sleep inherits it. Only SIGKILL ends this job.
    STUBBORN = ["sh", "-c", "trap '' TERM; echo ready; sleep 60"]

    def test_cancelled(self):
        job = make_job(cmd=self.STUBBORN)
        self.worker.submit(job)
        deadline = time.time() + 30
        while self.worker.job(job["job_id"])[1]["stdout"] != "ready\n":
            self.assertLess(time.time(), deadline, "the job never got going")
            time.sleep(0.05)
        asked = time.time()
        status, reply = self.worker.request("DELETE", "/jobs/" + job["job_id"])
        self.assertEqual(status, 202, reply)
        record = self.worker.wait_for(job["job_id"], timeout=30)
        took = time.time() - asked
        self.assertEqual((record["state"], record["error"]["code"]), ("failed", "CANCELLED"))
        self.assertIsNone(record["exit_code"])
        # SIGTERM first would take the engine's 10 s grace; SIGKILL is at once.
        self.assertLess(took, 8, record)
        print("\ncancel of a SIGTERM-ignoring job: ended %.2f s after DELETE" % took)
        self.assertNoContainersLeft()
        self.assertServes()

    def test_timed_out(self):
        job = make_job(cmd=self.STUBBORN, limits={"max_runtime_seconds": 2})
        self.worker.submit(job)
        record = self.worker.wait_for(job["job_id"], timeout=60)
        self.assertEqual((record["state"], record["error"]["code"]), ("failed", "TIMEOUT"))
        self.assertIsNone(record["exit_code"])
        self.assertEqual(record["stdout"], "ready\n")
        self.worker.wait_log(r"job timed out job_id=%s .*limit_seconds=2" % job["job_id"])
        # started_at is taken before the container is created and started; the 2 s count
        # from its start. Ending takes a kill and a wait, not the engine's 10 s grace.
        ran = parse_time(record["finished_at"]) - parse_time(record["started_at"])
        self.assertLess(ran, 2 + 6, record)
        self.assertNoContainersLeft()
        self.assertServes()


class GoneBeforeItsStdin(Assertions, WorkerTestCase):
    def fds(self):
        return sorted(os.listdir("/proc/%d/fd" % self.worker.pid), key=int)

    def fd_targets(self):
        targets = []
        for fd in self.fds():
            try:
                targets.append("%s -> %s" % (fd, os.readlink("/proc/%d/fd/%s" % (self.worker.pid, fd))))
            except OSError:
                pass
        return targets

    def run_batch(self, n, payload_bytes):
        jobs = []
        for _ in range(n):
            job = make_job(cmd=["true"])
            job["task"]["payload"] = {"blob": "x" * payload_bytes}
            status, reply = self.worker.submit(job)
            self.assertEqual(status, 202, reply)
            jobs.append(job)
        for job in jobs:
            record = self.worker.wait_for(job["job_id"], timeout=60)
            self.assertEqual((record["state"], record["exit_code"]), ("finished", 0), record)
            self.assertEqual(record["stdout"], "")

    def test_true_with_a_4_mb_job(self):
        # A warm-up batch first, so that the engine client's pool of idle connections has
        # (nearly) reached its size; it may still grow by one or two, a leak of one fd per
        # job would add sixteen.
        self.run_batch(4, 4 << 20)
        self.assertNoContainersLeft()
        before = self.fd_targets()
        for _ in range(2):
            self.run_batch(8, 4 << 20)
        self.assertNoContainersLeft()
        # Streams are closed after the event batch that ended them: give it a moment.
        deadline = time.time() + 10
        while len(self.fds()) > len(before) + 2 and time.time() < deadline:
            time.sleep(0.1)
        after = self.fd_targets()
        self.assertLessEqual(len(after), len(before) + 2,
                             "fds before:\n%s\nafter:\n%s" % ("\n".join(before), "\n".join(after)))
        print("\ndaemon fds: %d after a warm-up, %d after 16 more jobs" % (len(before), len(after)))
        self.assertServes()


if __name__ == "__main__":
    unittest.main()
