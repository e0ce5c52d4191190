"""Scheduling through the real engine: the concurrency cap, FIFO order, nothing lost."""

import time
import unittest

from harness import WorkerTestCase, make_job, parse_time


class ConcurrencyAndOrder(WorkerTestCase):
    config = {"max_concurrent_jobs": 2}

    def test_six_jobs_never_overlap_more_than_two_and_start_in_order(self):
        jobs = [make_job("fifo-%d" % i, cmd=["sleep", "1"]) for i in range(6)]
        for job in jobs:
            status, _ = self.worker.submit(job)
            self.assertEqual(status, 202)
        records = [self.worker.wait_for(j["job_id"], timeout=60) for j in jobs]
        for r in records:
            self.assertEqual(r["state"], "finished", r)
        starts = [parse_time(r["started_at"]) for r in records]
        self.assertEqual(starts, sorted(starts), "jobs did not start in submission order")
        spans = [(parse_time(r["started_at"]), parse_time(r["finished_at"])) for r in records]
        for start, _ in spans:
            overlapping = sum(1 for s, e in spans if s <= start < e)
            self.assertLessEqual(overlapping, 2, spans)
        # With two slots and 1 s jobs, three waves: the cap is used, not serialised.
        self.assertGreaterEqual(max(sum(1 for s, e in spans if s <= st < e) for st, _ in spans), 2)
        self.assertNoContainersLeft()


class HundredJobs(WorkerTestCase):
    config = {"max_concurrent_jobs": 4}

    def test_hundred_jobs_submitted_at_once_all_end(self):
        ids = []
        for i in range(100):
            job = make_job("bulk-%03d" % i, cmd=["sh", "-c", "echo %d" % i])
            status, reply = self.worker.submit(job)
            self.assertEqual(status, 202, reply)
            ids.append(job["job_id"])
        deadline = time.time() + 240
        while time.time() < deadline:
            _, listing = self.worker.request("GET", "/jobs?limit=1000")
            ended = [j for j in listing["jobs"] if j["state"] in ("finished", "failed")]
            if len(ended) == 100:
                break
            time.sleep(0.2)
        _, listing = self.worker.request("GET", "/jobs?limit=1000")
        self.assertEqual(sorted(j["job_id"] for j in listing["jobs"]), ids)
        for i, job_id in enumerate(ids):
            _, record = self.worker.job(job_id)
            self.assertEqual(record["state"], "finished", record)
            self.assertEqual(record["stdout"], "%d\n" % i)
        _, finished = self.worker.request("GET", "/jobs?state=finished&limit=1000")
        self.assertEqual(finished["count"], 100)
        self.assertNoContainersLeft()


if __name__ == "__main__":
    unittest.main()
