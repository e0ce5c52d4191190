"""Jobs run for real: every outcome of protocol v1 through the real Docker engine."""

import json
import os
import time
import unittest

from harness import (REPO, IMAGE, WorkerTestCase, make_job, parse_time, containers_of, scaled,
                     engine, docker)


def parse_engine_time(text):
    """The engine's RFC 3339 time with nanoseconds (2026-12-07T04:49:07.123456789Z) as
    seconds since 1970."""
    from datetime import datetime, timezone
    whole, _, fraction = text.rstrip("Z").partition(".")
    when = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return when.timestamp() + float("0." + (fraction or "0"))


class JobExecution(WorkerTestCase):
    config = {"max_concurrent_jobs": 4}

    def test_sample_job_stdout_is_the_job_json(self):
        with open(os.path.join(REPO, "examples/jobs/sample-job.json")) as f:
            body = f.read()
        job = json.loads(body)
        self.assertEqual(job["runtime"]["image"], IMAGE)
        status, reply = self.worker.request("POST", "/jobs", body)
        self.assertEqual(status, 202, reply)
        self.assertEqual(reply, {"accepted": True, "job_id": job["job_id"], "state": "queued"})
        record = self.worker.wait_for(job["job_id"])
        self.assertEqual(record["state"], "finished", record)
        self.assertEqual(record["exit_code"], 0)
        self.assertEqual(record["stdout"], body)  # exactly the bytes submitted, via stdin
        self.assertEqual(record["stderr"], "")
        self.assertIsNone(record["error"])
        self.assertEqual(record["task_type"], "debug_echo")
        for field in ("created_at", "started_at", "finished_at"):
            parse_time(record[field])
        self.assertGreaterEqual(record["duration_ms"], 0)
        self.assertFalse(record["oom_killed"])
        self.assertFalse(record["stdout_truncated"])
        self.assertNoContainersLeft()

    def test_env_reaches_the_container(self):
        job = make_job(cmd=["sh", "-c", 'echo "$GREETING|$COUNT|$FLAG"'],
                       env={"GREETING": "hello world", "COUNT": 3, "FLAG": True})
        self.worker.submit(job)
        record = self.worker.wait_for(job["job_id"])
        self.assertEqual(record["state"], "finished", record)
        self.assertEqual(record["stdout"], "hello world|3|true\n")

    def test_stderr_is_captured_separately(self):
        job = make_job(cmd=["sh", "-c", "echo out; echo err >&2"])
        self.worker.submit(job)
        record = self.worker.wait_for(job["job_id"])
        self.assertEqual((record["stdout"], record["stderr"]), ("out\n", "err\n"))

    def test_exit_3_is_non_zero_exit(self):
        job = make_job(cmd=["sh", "-c", "echo failing >&2; exit 3"])
        self.worker.submit(job)
        record = self.worker.wait_for(job["job_id"])
        self.assertEqual(record["state"], "failed")
        self.assertEqual(record["exit_code"], 3)
        self.assertEqual(record["error"]["code"], "NON_ZERO_EXIT")
        self.assertIn("3", record["error"]["message"])
        self.assertEqual(record["stderr"], "failing\n")
        self.assertNoContainersLeft()

    def test_timeout_kills_the_container(self):
        job = make_job(cmd=["sleep", "30"], limits={"max_runtime_seconds": 1})
        self.worker.submit(job)
        # Watch the container come and go, timing its end against the 1 s deadline, which
        # counts from the container's real start (the engine's State.StartedAt): the
        # create, attach and start before it take what a loaded machine makes of them.
        seen = gone_at = container_started = None
        deadline = time.time() + scaled(20)
        while time.time() < deadline and gone_at is None:
            present = containers_of(self.worker.worker_id)
            if present:
                seen = True
                if container_started is None:
                    status, inspected = docker("GET", "/containers/%s/json" % present[0]["Id"])
                    if status == 200 and inspected["State"]["Running"]:
                        container_started = parse_engine_time(inspected["State"]["StartedAt"])
            elif seen:
                gone_at = time.time()
            time.sleep(0.02)
        self.assertIsNotNone(gone_at, "the container never went away")
        self.assertIsNotNone(container_started, "the container was never seen running")
        record = self.worker.wait_for(job["job_id"], timeout=5)
        self.assertEqual(record["state"], "failed")
        self.assertEqual(record["error"]["code"], "TIMEOUT")
        self.assertIsNone(record["exit_code"])
        runtime_deadline = container_started + 1.0
        # Killed at the deadline and removed within 2.5 s of it (a stop with a grace period
        # would take 10 s).
        self.assertLess(gone_at - runtime_deadline, scaled(2.5), record)
        self.assertLess(parse_time(record["finished_at"]) - runtime_deadline, scaled(2.5), record)

    def test_memory_hog_is_oom_killed(self):
        # dd's 64 MiB block buffer cannot fit in 16 MB.
        job = make_job(cmd=["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=4"],
                       limits={"memory_mb": 16})
        self.worker.submit(job)
        record = self.worker.wait_for(job["job_id"], timeout=30)
        self.assertEqual(record["state"], "failed", record)
        if engine() == "podman":
            # Podman 4.3 with runc on this cgroup v1 hybrid layout never sets
            # State.OOMKilled (conmon cannot watch the container's memory cgroup here), so
            # the worker sees only the kernel's SIGKILL: exit 137 (docs/ENGINES.md). This
            # fails, and so tells, once Podman reports it.
            self.assertEqual(record["exit_code"], 137, record)
            self.assertEqual(record["error"]["code"], "NON_ZERO_EXIT", record)
            self.assertFalse(record["oom_killed"])
        else:
            self.assertEqual(record["error"]["code"], "OOM_KILLED", record)
            self.assertTrue(record["oom_killed"])
        self.assertNoContainersLeft()

    def test_output_over_the_cap_is_truncated(self):
        job = make_job(cmd=["sh", "-c", "head -c 5000000 /dev/zero | tr '\\0' a; echo done >&2"])
        self.worker.submit(job)
        record = self.worker.wait_for(job["job_id"], timeout=30)
        self.assertEqual(record["state"], "finished", record.get("error"))
        self.assertTrue(record["stdout_truncated"])
        self.assertEqual(len(record["stdout"]), 1048576)
        self.assertEqual(set(record["stdout"]), {"a"})
        self.assertEqual(record["stderr"], "done\n")
        self.assertFalse(record["stderr_truncated"])

    def test_binary_output_still_gives_valid_json(self):
        job = make_job(cmd=["sh", "-c", "printf 'ok\\377\\376end'"])
        self.worker.submit(job)
        record = self.worker.wait_for(job["job_id"])  # json.loads inside already validated it
        self.assertEqual(record["stdout"], "ok\ufffd\ufffdend")

    def test_missing_image_under_pull_policy_never_is_image_pull_failed(self):
        job = make_job(image="worker-agent-no-such-image:0")
        self.worker.submit(job)
        record = self.worker.wait_for(job["job_id"])
        self.assertEqual(record["state"], "failed")
        self.assertEqual(record["error"]["code"], "IMAGE_PULL_FAILED")
        self.assertIn("worker-agent-no-such-image:0", record["error"]["message"])
        self.assertIn("pull_policy is never", record["error"]["message"])

    def test_job_has_no_network(self):
        job = make_job(cmd=["sh", "-c", "ls /sys/class/net"])
        self.worker.submit(job)
        record = self.worker.wait_for(job["job_id"])
        self.assertEqual(record["stdout"].split(), ["lo"])

    def test_container_closing_stdin_at_once(self):
        job = make_job(cmd=["sh", "-c", "exec 0<&-; echo closed"])
        self.worker.submit(job)
        record = self.worker.wait_for(job["job_id"])
        self.assertEqual(record["state"], "finished", record)
        self.assertEqual(record["stdout"], "closed\n")


class Cancellation(WorkerTestCase):
    config = {"max_concurrent_jobs": 1}

    def test_cancel_running_and_queued(self):
        running = make_job(cmd=["sleep", "30"])
        queued = make_job(cmd=["true"])
        self.worker.submit(running)
        self.worker.submit(queued)
        self.worker.wait_for(running["job_id"], states=("running",))
        status, record = self.worker.job(queued["job_id"])
        self.assertEqual(record["state"], "queued")
        self.assertEqual(record["queue_position"], 1)

        status, reply = self.worker.request("DELETE", "/jobs/" + queued["job_id"])
        self.assertEqual(status, 200)
        self.assertEqual(reply["state"], "failed")
        status, record = self.worker.job(queued["job_id"])
        self.assertEqual(record["error"]["code"], "CANCELLED")
        self.assertIsNone(record["started_at"])

        # Give the container time to really be running, then cancel it.
        deadline = time.time() + scaled(10)
        while not containers_of(self.worker.worker_id) and time.time() < deadline:
            time.sleep(0.05)
        status, reply = self.worker.request("DELETE", "/jobs/" + running["job_id"])
        self.assertEqual(status, 202)
        self.assertEqual(reply["note"], "Cancellation requested")
        record = self.worker.wait_for(running["job_id"], timeout=15)
        self.assertEqual(record["state"], "failed")
        self.assertEqual(record["error"]["code"], "CANCELLED")
        self.assertIsNone(record["exit_code"])
        self.assertNoContainersLeft()

        status, reply = self.worker.request("DELETE", "/jobs/" + running["job_id"])
        self.assertEqual(status, 200)
        self.assertEqual(reply["state"], "failed")
        status, reply = self.worker.request("DELETE", "/jobs/never-was")
        self.assertEqual((status, reply), (404, {"job_id": "never-was", "state": "not_found"}))


if __name__ == "__main__":
    unittest.main()
