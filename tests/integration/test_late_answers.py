"""Late engine answers reach nobody (issue 19's fault): a proxy in front of the real
engine holds the answer to POST /containers/{id}/wait past the kill deadline. The job
times out, the engine does not report the killed container stopped in time (the answer
is held), the kill deadline ends the run (inspect, remove), and the wait's answer comes
after the run is gone. The daemon must survive it (under ASan and UBSan in CI: a use
after free aborts the daemon and fails the test that stops it), end the job once, and
leave nothing behind."""

import os
import shutil
import tempfile
import time
import unittest

from docker29_proxy import Docker29Proxy
from harness import DOCKER_SOCK, Worker, containers_of, make_job, worker_owns
from test_docker29 import upstream_api_version


class LateWaitAnswer(unittest.TestCase):
    def setUp(self):
        self.dir = worker_owns(tempfile.mkdtemp(prefix="wa-late-", dir="/run"))
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.sock = os.path.join(self.dir, "docker.sock")
        version = upstream_api_version()
        # An engine of the real one's versions: only the wait's answer is slow.
        self.proxy = Docker29Proxy(self.sock, DOCKER_SOCK, version, version,
                                   forward_as=version, server_version="20.10").start()
        self.addCleanup(self.proxy.stop)

    def test_the_kill_deadline_ends_the_run_and_the_late_wait_answer_reaches_nobody(self):
        worker = Worker({"docker_host": "unix://" + self.sock},
                        env={"WORKER_AGENT_TEST_MOUNTS": self.dir})
        try:
            self.proxy.hold_answers(r"^/containers/[0-9a-f]+/wait$", 25)
            job = make_job(cmd=["sleep", "60"], limits={"max_runtime_seconds": 1})
            started = time.time()
            self.assertEqual(worker.submit(job)[0], 202)
            # Timed out at 1 s, killed; the kill deadline (15 s) ends the run, before the
            # held answer (25 s) comes.
            record = worker.wait_for(job["job_id"], timeout=40)
            ended = time.time() - started
            self.assertEqual(record["state"], "failed", record)
            self.assertEqual(record["error"]["code"], "TIMEOUT", record)
            self.assertLess(ended, 24, "the run waited for the held answer")
            worker.wait_log(r"killing|job timed out")
            # The held answer comes now: nothing may be waiting for it.
            time.sleep(max(0, 27 - (time.time() - started)))
            status, again = worker.job(job["job_id"])
            self.assertEqual((status, again["state"], again["error"]["code"]),
                             (200, "failed", "TIMEOUT"), "the job ended once")
            self.assertEqual(again["finished_at"], record["finished_at"])
            self.assertEqual(worker.log().count("job failed job_id=" + job["job_id"]), 1)
            # The daemon goes on: another job runs (its own wait answered at once).
            self.proxy.holds.clear()
            follow = make_job(cmd=["echo", "still here"])
            self.assertEqual(worker.submit(follow)[0], 202)
            self.assertEqual(worker.wait_for(follow["job_id"])["stdout"], "still here\n")
            self.assertEqual(containers_of(worker.worker_id), [], "no container left")
        finally:
            worker.close()  # fails the test on a sanitizer report from the daemon


if __name__ == "__main__":
    unittest.main()
