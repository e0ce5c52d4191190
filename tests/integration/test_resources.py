"""Resources (issue 21) on the real engine: each ended job's usage (CPU time, peak memory,
I/O, tasks) read from its cgroup, kept through a restart and counted in /metrics; admission
by memory (jobs whose limits together exceed the budget never run at once, a job over the
whole budget is refused)."""

import os
import re
import tempfile
import time
import unittest

from harness import IMAGE, Worker, WorkerTestCase, containers_of, docker, make_job, scaled

# About a second of CPU in busybox's sh (0.55 s per 450,000 rounds here), whatever the
# machine's load: CPU time, not wall time.
BURN = ["sh", "-c", "i=0; while [ $i -lt 800000 ]; do i=$((i+1)); done"]
# 40 MiB written to the /tmp tmpfs: pages charged to the job's memory.
TOUCH_40MB = ["sh", "-c", "dd if=/dev/zero of=/tmp/fill bs=1048576 count=40 2>/dev/null; "
                          "sleep 0.3; rm /tmp/fill"]
MiB = 1 << 20


def job_cgroups_left(worker_id):
    """The job cgroups of worker_id still on this host (cgroup v1 memory controller or
    the unified hierarchy)."""
    left = []
    for base in ("/sys/fs/cgroup/memory/worker-agent/", "/sys/fs/cgroup/worker-agent/"):
        path = base + worker_id
        if os.path.isdir(path):
            left += [d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d))]
    return left


class Usage(WorkerTestCase):
    config = {"max_concurrent_jobs": 2}

    def test_a_cpu_bound_job_shows_its_cpu_time(self):
        started = time.time()
        job = make_job(cmd=BURN, limits={"max_runtime_seconds": 60})
        self.worker.submit(job)
        record = self.worker.wait_for(job["job_id"], timeout=scaled(60))
        self.assertEqual(record["state"], "finished", record)
        usage = record["usage"]
        self.assertEqual(sorted(usage), ["cpu_seconds", "io_read_bytes", "io_write_bytes",
                                         "memory_peak_bytes", "pids_peak", "source"])
        print("cpu job: usage %s in %.1f s" % (usage, time.time() - started))
        self.assertGreaterEqual(usage["cpu_seconds"], 0.5, usage)
        self.assertLess(usage["cpu_seconds"], 30, usage)
        self.assertGreaterEqual(usage["pids_peak"] or 1, 1)
        self.assertIsInstance(usage["io_read_bytes"], int)
        if os.path.isdir("/sys/fs/cgroup/memory") and os.geteuid() == 0:
            # A cgroupfs engine on this host and a root worker: read whole from its own.
            self.assertEqual(usage["source"], "cgroup", usage)
        self.assertNoContainersLeft()

    def test_a_job_that_touched_40_mb_shows_its_peak(self):
        job = make_job(cmd=TOUCH_40MB, limits={"memory_mb": 256})
        self.worker.submit(job)
        record = self.worker.wait_for(job["job_id"], timeout=scaled(60))
        self.assertEqual(record["state"], "finished", record)
        usage = record["usage"]
        print("40 MB job: usage %s" % usage)
        self.assertGreaterEqual(usage["memory_peak_bytes"], 30 * MiB, usage)
        self.assertLess(usage["memory_peak_bytes"], 256 * MiB, usage)
        self.assertLess(usage["cpu_seconds"], 10, usage)

    def test_job_cgroups_go_with_their_containers_and_metrics_count_jobs(self):
        jobs = [make_job(cmd=["true"]) for _ in range(3)]
        for job in jobs:
            self.worker.submit(job)
        for job in jobs:
            record = self.worker.wait_for(job["job_id"], timeout=scaled(60))
            self.assertEqual(record["state"], "finished", record)
            self.assertIsNotNone(record["usage"])
        self.assertNoContainersLeft()
        deadline = time.time() + scaled(10)
        while job_cgroups_left(self.worker.worker_id) and time.time() < deadline:
            time.sleep(0.2)
        self.assertEqual(job_cgroups_left(self.worker.worker_id), [])
        _, text = self.worker.request("GET", "/metrics", raw=True)
        text = text.decode() if isinstance(text, bytes) else text
        count = re.search(r"^worker_agent_job_cpu_seconds_count (\d+)", text, re.M)
        self.assertIsNotNone(count, text)
        self.assertGreaterEqual(int(count.group(1)), 3)
        self.assertRegex(text, r"(?m)^worker_agent_job_memory_peak_bytes_bucket\{le=")

    def test_a_job_that_never_ran_has_no_usage(self):
        job = make_job(image="worker-agent-missing-image:never")
        self.worker.submit(job)
        record = self.worker.wait_for(job["job_id"], timeout=scaled(30))
        self.assertEqual(record["state"], "failed", record)
        self.assertIsNone(record["usage"])


class UsageAfterRestart(unittest.TestCase):
    def test_usage_is_kept_through_a_restart(self):
        with tempfile.TemporaryDirectory(prefix="wa-usage-") as d:
            config = {"journal_path": os.path.join(d, "journal.sqlite")}
            first = Worker(config)
            try:
                job = make_job(cmd=BURN)
                first.submit(job)
                before = first.wait_for(job["job_id"], timeout=scaled(60))
                self.assertIsNotNone(before["usage"], before)
            finally:
                first.close()
            config["worker_id"] = first.worker_id
            second = Worker(config)
            try:
                _, after = second.job(job["job_id"])
                self.assertEqual(after["usage"], before["usage"])
            finally:
                second.close()
            # Stopped with nothing kept: not even the worker's own cgroup is left.
            self.assertFalse(os.path.exists("/sys/fs/cgroup/memory/worker-agent/" + first.worker_id))
            self.assertFalse(os.path.exists("/sys/fs/cgroup/worker-agent/" + first.worker_id))


class MemoryBudget(WorkerTestCase):
    # Four slots, but a budget that holds one 300 MiB job at a time and three 100 MiB ones.
    config = {"max_concurrent_jobs": 4, "memory_budget_mb": 400}

    def running_intervals(self, records):
        return [(r["started_at"], r["finished_at"]) for r in records]

    def test_jobs_whose_limits_exceed_the_budget_together_never_run_at_once(self):
        jobs = [make_job(cmd=["sleep", "1"], limits={"memory_mb": 300}) for _ in range(3)]
        for job in jobs:
            status, reply = self.worker.submit(job)
            self.assertEqual(status, 202, reply)
        records = [self.worker.wait_for(j["job_id"], timeout=scaled(60)) for j in jobs]
        for r in records:
            self.assertEqual(r["state"], "finished", r)
        spans = sorted((r["started_at"], r["finished_at"]) for r in records)
        for (_, end), (start, _) in zip(spans, spans[1:]):
            self.assertGreaterEqual(start, end, "two 300 MiB jobs overlapped: %s" % spans)
        _, text = self.worker.request("GET", "/metrics", raw=True)
        text = text.decode() if isinstance(text, bytes) else text
        self.assertIn("worker_agent_job_memory_budget_bytes %d" % (400 * (1 << 20)), text)

    def test_small_jobs_share_the_budget(self):
        jobs = [make_job(cmd=["sleep", "1"], limits={"memory_mb": 100}) for _ in range(4)]
        for job in jobs:
            self.worker.submit(job)
        records = [self.worker.wait_for(j["job_id"], timeout=scaled(60)) for j in jobs]
        # At most four 100 MiB jobs fit 400 MiB: all four may run together.
        starts = sorted(r["started_at"] for r in records)
        ends = sorted(r["finished_at"] for r in records)
        self.assertLess(starts[-1], ends[0], "the four small jobs should have run together")

    def test_a_job_over_the_whole_budget_is_refused(self):
        job = make_job(cmd=["true"], limits={"memory_mb": 500})
        status, reply = self.worker.submit(job)
        self.assertEqual(status, 400, reply)
        self.assertEqual(reply["error"]["code"], "MEMORY_OVER_BUDGET")
        self.assertIn("runtime.limits.memory_mb", reply["error"]["message"])
        self.assertEqual(self.worker.job(job["job_id"])[0], 404)


if __name__ == "__main__":
    unittest.main()
