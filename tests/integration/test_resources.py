"""Resources (issue 21) on the real engine: each ended job's usage (CPU time, peak memory,
I/O, tasks) read from its cgroup, kept through a restart and counted in /metrics; admission
by memory (jobs whose limits together exceed the budget never run at once, a job over the
whole budget is refused); the image collector (the least recently used of the worker's own
builds go under its budget, never one a running job uses nor an image it did not build)."""

import base64
import os
import re
import signal
import tempfile
import time
import unittest
import uuid

from harness import (IMAGE, WORKER_OWNER, Worker, WorkerTestCase, containers_of, docker,
                     engine, make_job, scaled, urlquote, worker_owns)

# Podman's Docker-compatible create ignores a mount's VolumeOptions.DriverConfig, so the
# keeper's volume is a plain one there and the quota does not hold (docs/ENGINES.md).
PODMAN_NO_TMPFS_VOLUME = ("Podman makes the keeper's volume without its tmpfs options: "
                          "no workspace quota for volume workspaces there (docs/ENGINES.md)")

# How often the workers here sample (sample_interval_ms). A worker that may not manage
# cgroups (the image's, as an unprivileged user with /sys/fs/cgroup read-only) reports the
# sampler's last reading of the job's container, so each job below holds what it did for a
# few intervals before it ends: both ways must then show it.
SAMPLE_MS = 200
HOLD = "sleep 1"
# About a second of CPU in busybox's sh (0.55 s per 450,000 rounds here), whatever the
# machine's load: CPU time, not wall time.
BURN = ["sh", "-c", "i=0; while [ $i -lt 800000 ]; do i=$((i+1)); done; " + HOLD]
# 40 MiB written to the /tmp tmpfs: pages charged to the job's memory.
TOUCH_40MB = ["sh", "-c", "dd if=/dev/zero of=/tmp/fill bs=1048576 count=40 2>/dev/null; " +
                          HOLD + "; rm /tmp/fill"]
MiB = 1 << 20
# The worker runs as root on a host whose engine has cgroup v1's memory controller (the
# cgroupfs driver): it gives each job a cgroup of its own and reads it whole.
WHOLE_FROM_CGROUP = (os.path.isdir("/sys/fs/cgroup/memory") and os.geteuid() == 0
                     and not WORKER_OWNER)


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
    config = {"max_concurrent_jobs": 2, "sample_interval_ms": SAMPLE_MS}

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
        self.assertEqual(usage["source"], "cgroup" if WHOLE_FROM_CGROUP else "sampled", usage)
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
        # Long enough for the sampler to see them when it is the source.
        jobs = [make_job(cmd=["sh", "-c", HOLD]) for _ in range(3)]
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


class WorkspaceQuota(WorkerTestCase):
    """A workspace with runtime.files or runtime.outputs is a volume, held by a keeper
    container as a tmpfs of workspace_size_mb: the job gets ENOSPC past it, its files and
    outputs still go in and come out, and keeper and volume go with the job."""
    config = {"workspace_size_mb": 16}

    def volumes(self):
        _, listing = docker("GET", "/volumes")
        return {v["Name"] for v in listing["Volumes"] or []}

    def test_a_job_writing_100_mb_into_a_16_mb_workspace_gets_enospc(self):
        if engine() == "podman":
            self.skipTest(PODMAN_NO_TMPFS_VOLUME)
        volumes_before = self.volumes()
        # dd's account goes to /tmp (the workspace is full then); the size written is
        # kept as an output once the big file is gone again.
        script = ("cat in.txt; dd if=/dev/zero of=big bs=1048576 count=100 2>/tmp/dd.txt; "
                  "echo dd=$?; grep -o 'No space left on device' /tmp/dd.txt | head -1; "
                  "wc -c < big > /tmp/size; rm big; cp /tmp/size size.txt; "
                  "df -k . | tail -1 | awk '{print \"fs\", $2}'")
        job = make_job(cmd=["sh", "-c", script], limits={"memory_mb": 256})
        job["runtime"]["files"] = [{"path": "in.txt", "content": "given\n"}]
        job["runtime"]["outputs"] = ["size.txt"]
        self.worker.submit(job)
        # While it runs the keeper holds the volume: one keeper, no job label on it.
        record = self.worker.wait_for(job["job_id"], timeout=scaled(60))
        self.assertEqual((record["state"], record["exit_code"]), ("finished", 0), record)
        lines = record["stdout"].splitlines()
        print("quota job: %s" % lines)
        self.assertEqual(lines[0], "given", "the file placed before start is there")
        self.assertEqual(lines[1], "dd=1", "dd failed")
        self.assertIn("No space left on device", lines[2])
        fs_kb = int(lines[3].split()[1])
        self.assertLessEqual(fs_kb, 16 * 1024, "the workspace is a 16 MiB file system")
        [size] = record["outputs"]
        self.assertTrue(size["found"], size)
        written = int(base64.b64decode(size["content_base64"]).decode().strip())
        self.assertGreater(written, 8 * MiB, "it wrote until the workspace was full")
        self.assertLessEqual(written, 16 * MiB, "and not a byte past it")
        self.assertNoContainersLeft()
        self.assertEqual(self.volumes() - volumes_before, set(), "no volume left behind")

    def test_the_keeper_holds_the_workspace_while_the_job_runs(self):
        job = make_job(cmd=["sh", "-c", "cat in.txt; sleep 2"])
        job["runtime"]["files"] = [{"path": "in.txt", "content": "x\n"}]
        self.worker.submit(job)
        deadline, keepers = time.time() + scaled(30), []
        while time.time() < deadline and not keepers:
            keepers = [c for c in containers_of(self.worker.worker_id)
                       if "worker-agent.workspace_of" in c["Labels"]]
            time.sleep(0.1)
        self.assertEqual(len(keepers), 1, "one keeper for the job")
        [keeper] = keepers
        self.assertEqual(keeper["Labels"]["worker-agent.workspace_of"], job["job_id"])
        self.assertNotIn("worker-agent.job_id", keeper["Labels"])
        mounts = [m for m in keeper["Mounts"] if m["Destination"] == "/workspace"]
        self.assertEqual(len(mounts), 1, keeper["Mounts"])
        _, volume = docker("GET", "/volumes/" + mounts[0]["Name"])
        if engine() == "podman":
            # What Podman does today; when this fails, it honours the options and the
            # quota test above can run there too.
            self.assertNotIn("type", volume.get("Options") or {}, PODMAN_NO_TMPFS_VOLUME)
        else:
            self.assertEqual(volume["Options"]["type"], "tmpfs", volume)
            self.assertIn("size=16m", volume["Options"]["o"], volume)
        record = self.worker.wait_for(job["job_id"], timeout=scaled(60))
        self.assertEqual((record["state"], record["stdout"]), ("finished", "x\n"), record)
        self.assertNoContainersLeft()


class WorkspaceAfterRestart(unittest.TestCase):
    def test_a_job_adopted_after_sigkill_keeps_its_workspace_and_its_keeper_goes_after(self):
        with tempfile.TemporaryDirectory(prefix="wa-keeper-") as d:
            worker_owns(d)
            worker_id = "it-keeper-" + uuid.uuid4().hex[:8]
            config = {"journal_path": os.path.join(d, "journal.sqlite"),
                      "workspace_size_mb": 16, "worker_id": worker_id}
            self.addCleanup(lambda: [docker("DELETE", "/containers/%s?force=1" % c["Id"])
                                     for c in containers_of(worker_id)])
            job = make_job(cmd=["sh", "-c", "sleep 3; cat in.txt > out.txt; echo ok"])
            job["runtime"]["files"] = [{"path": "in.txt", "content": "kept\n"}]
            job["runtime"]["outputs"] = ["out.txt"]
            first = Worker(config)
            try:
                first.submit(job)
                first.wait_for(job["job_id"], states=("running",), timeout=scaled(30))
                self.assertEqual(first.stop(signal.SIGKILL), -signal.SIGKILL)
            finally:
                first.dir.cleanup()  # not close(): its containers are the second's to adopt
            second = Worker(config)
            try:
                record = second.wait_for(job["job_id"], timeout=scaled(60))
                self.assertEqual((record["state"], record["stdout"]), ("finished", "ok\n"),
                                 record)
                [out] = record["outputs"]
                self.assertEqual(base64.b64decode(out["content_base64"]), b"kept\n",
                                 "the workspace outlived the worker that made it")
                deadline = time.time() + scaled(10)
                while containers_of(worker_id) and time.time() < deadline:
                    time.sleep(0.1)
                self.assertEqual(containers_of(worker_id), [], "the keeper went with its job")
            finally:
                second.close()


class UsageAfterRestart(unittest.TestCase):
    def test_usage_is_kept_through_a_restart(self):
        with tempfile.TemporaryDirectory(prefix="wa-usage-") as d:
            worker_owns(d)
            config = {"journal_path": os.path.join(d, "journal.sqlite"),
                      "sample_interval_ms": SAMPLE_MS}
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


def image_present(reference):
    status, _ = docker("GET", "/images/%s/json" % urlquote(reference))
    return status == 200


def build_job(nonce, name, cmd):
    """A build job whose image is the test image plus a 3 MiB layer of its own."""
    job = make_job(cmd=cmd, limits={"max_runtime_seconds": 60})
    dockerfile = ("FROM %s\nRUN dd if=/dev/zero of=/blob bs=1048576 count=3 2>/dev/null && "
                  "echo %s-%s > /id\n" % (IMAGE, nonce, name))
    job["runtime"] = {"mode": "build", "build": {"dockerfile": dockerfile, "context": []}}
    return job


class ImageCollection(WorkerTestCase):
    # Passes every second; each built image is the test image (about 1.3 MB) plus 3 MiB, so
    # a 6 MiB budget holds one of them and not two.
    config = {"allowed_runtime_modes": ["image", "build"], "image_gc_interval_seconds": 1,
              "image_gc_max_mb": 6, "image_gc_min_free_percent": 0}

    def setUp(self):
        super().setUp()
        self.nonce = uuid.uuid4().hex[:12]
        # An image the worker did not pull or build, and the test image jobs run.
        self.foreign = "wa-gc-foreign:" + self.nonce
        repo, tag = self.foreign.split(":")
        status, body = docker("POST", "/images/%s/tag?repo=%s&tag=%s" % (urlquote(IMAGE), repo, tag))
        self.assertEqual(status, 201, body)
        self.addCleanup(docker, "DELETE", "/images/%s" % urlquote(self.foreign))

    def run_build(self, name, cmd=("true",), wait=True):
        job = build_job(self.nonce, name, list(cmd))
        status, reply = self.worker.submit(job)
        self.assertEqual(status, 202, reply)
        if not wait:
            return job["job_id"]
        record = self.worker.wait_for(job["job_id"], timeout=scaled(180))
        self.assertEqual(record["state"], "finished", record)
        self.assertIs(record["image_built"], True, record)
        self.addCleanup(docker, "DELETE", "/images/%s" % urlquote(record["image_id"]))
        return record

    def metric(self, name):
        _, text = self.worker.request("GET", "/metrics", raw=True)
        text = text.decode() if isinstance(text, bytes) else text
        m = re.search(r"^%s (\S+)$" % name, text, re.M)
        self.assertIsNotNone(m, text)
        return float(m.group(1))

    def wait_until(self, predicate, what, timeout=20):
        deadline = time.time() + scaled(timeout)
        while not predicate():
            if time.time() > deadline:
                self.fail("%s did not happen:\n%s" % (what, self.worker.log()))
            time.sleep(0.2)

    def test_least_recently_used_builds_go_under_the_budget_never_one_in_use(self):
        first = self.run_build("first")
        time.sleep(1.2)  # a pass with one image: under the budget, nothing goes
        self.assertTrue(image_present(first["image_id"]))
        second = self.run_build("second")
        # Two over the budget: the least recently used (first) goes, second stays.
        self.wait_until(lambda: not image_present(first["image_id"]), "the removal of first")
        time.sleep(1.5)  # more passes
        self.assertTrue(image_present(second["image_id"]), self.worker.log())
        self.worker.wait_log(r"image collector: image removed.*%s" % first["image_id"])

        # A running job's image is never removed: while third runs, second is the one
        # over the budget.
        third_id = self.run_build("third", cmd=("sleep", "4"), wait=False)
        self.wait_until(lambda: self.worker.job(third_id)[1].get("image_id"),
                        "third's start", timeout=180)
        third_image = self.worker.job(third_id)[1]["image_id"]
        self.addCleanup(docker, "DELETE", "/images/%s" % urlquote(third_image))
        self.wait_until(lambda: not image_present(second["image_id"]), "the removal of second")
        self.assertTrue(image_present(third_image))
        third = self.worker.wait_for(third_id, timeout=scaled(60))
        self.assertEqual(third["state"], "finished", third)
        time.sleep(1.5)
        self.assertTrue(image_present(third_image), "the one image left fits the budget")

        # Never an image of someone else's, nor the image the jobs were built from.
        self.assertTrue(image_present(self.foreign))
        self.assertTrue(image_present(IMAGE))
        self.assertGreaterEqual(self.metric("worker_agent_image_gc_removed_total"), 2)
        self.assertGreater(self.metric("worker_agent_image_gc_runs_total"), 3)
        self.assertEqual(self.metric("worker_agent_image_gc_errors_total"), 0)
        self.assertEqual(self.metric("worker_agent_images_owned"), 1)


if __name__ == "__main__":
    unittest.main()
