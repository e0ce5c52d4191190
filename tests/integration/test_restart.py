"""Restarts lose nothing (the job journal, docs/WORKER_LIFECYCLE.md "Restarts"): a worker
killed with SIGKILL, or stopped with SIGTERM and stop_action keep, and started again on the
same config, ends every job exactly once with the output an uninterrupted run gives,
serves the results it held, refuses their ids, and leaves no container. Also: a container
that ends or is removed while the worker is down, a corrupt or newer journal, a full disk.
"""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

from harness import IMAGE, Worker, containers_of, docker, engine, make_job, scaled, worker_owns
from test_execution import OPEN_REGISTRY, RegistryImage

# A job whose output comes over a few seconds, deterministic: killed in the middle, its
# output after the restart must be all of it, each line once.
SLOW = ["sh", "-c", "i=0; while [ $i -lt 25 ]; do echo line-$i; echo err-$i >&2; "
                    "i=$((i+1)); sleep 0.15; done; exit 4"]


class GatedRegistry:
    """A registry on 127.0.0.1 (port 0) that holds every connection until release(), then
    passes it on to the open loopback registry: a pull through it stays in progress for as
    long as the test wants. `held` is set once a connection is being held."""

    def __init__(self):
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.addr = "127.0.0.1:%d" % self.server.getsockname()[1]
        self.released = threading.Event()
        self.held = threading.Event()
        self.sockets = []
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.sockets.append(conn)
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        if not self.released.is_set():
            self.held.set()
            self.released.wait()
        host, port = OPEN_REGISTRY.split(":")
        try:
            upstream = socket.create_connection((host, int(port)))
        except OSError:
            conn.close()
            return
        self.sockets.append(upstream)

        def pipe(src, dst):
            try:
                while True:
                    data = src.recv(65536)
                    if not data:
                        break
                    dst.sendall(data)
            except OSError:
                pass
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        threading.Thread(target=pipe, args=(upstream, conn), daemon=True).start()
        pipe(conn, upstream)

    def release(self):
        self.released.set()

    def close(self):
        self.release()
        self.server.close()
        for s in self.sockets:
            try:
                s.close()
            except OSError:
                pass


def wait_until(predicate, timeout=30, what="condition"):
    deadline = time.time() + scaled(timeout)
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def container_state(container_id):
    status, body = docker("GET", "/containers/%s/json" % container_id)
    return body.get("State", {}) if status == 200 else None


class RestartTestCase(unittest.TestCase):
    """Each test has one worker identity and journal; start() runs a worker with them."""

    def setUp(self):
        self.journal_dir = tempfile.TemporaryDirectory(prefix="wa-restart-")
        self.addCleanup(self.journal_dir.cleanup)
        worker_owns(self.journal_dir.name)  # make test-image: the worker is the image's user
        self.config = {"worker_id": "it-" + uuid.uuid4().hex[:10], "max_concurrent_jobs": 3,
                       "journal_path": os.path.join(self.journal_dir.name, "journal.sqlite"),
                       "stop_action": "keep", "pull_policy": "missing"}
        self.workers = []
        self.addCleanup(self.close_workers)

    def start(self, **extra):
        worker = Worker(dict(self.config, **extra))
        self.workers.append(worker)
        return worker

    def crash(self, worker):
        """SIGKILL: nothing of the daemon's own runs after it."""
        self.assertEqual(worker.stop(signal.SIGKILL), -signal.SIGKILL)

    def close_workers(self):
        for worker in self.workers:
            if worker.proc.poll() is None:
                worker.close()
            else:
                worker.dir.cleanup()
        for c in containers_of(self.config["worker_id"]):
            docker("DELETE", "/containers/%s?force=1" % c["Id"])

    def submit(self, worker, job):
        status, body = worker.submit(job)
        self.assertEqual(status, 202, body)
        return job["job_id"]

    def assertNoContainersLeft(self):
        wait_until(lambda: not containers_of(self.config["worker_id"]), 15,
                   "the worker's containers to be removed")


class KilledWithJobsInEveryState(RestartTestCase):
    def jobs(self, image_ref):
        """The same jobs for both runs: ended, two running, pulling, two queued."""
        tag = uuid.uuid4().hex[:6]
        return {
            "ended": make_job("ended-" + tag, cmd=["sh", "-c", "echo ended; echo e >&2"]),
            "running1": make_job("run1-" + tag, cmd=SLOW),
            "running2": make_job("run2-" + tag, cmd=SLOW + ["x"]),
            "pulling": make_job("pull-" + tag, image=image_ref),  # `cat`: stdout is the job
            "queued1": make_job("q1-" + tag, cmd=["sh", "-c", "echo queued one"]),
            "queued2": make_job("q2-" + tag, cmd=["sh", "-c", "echo queued two >&2; exit 2"]),
        }

    def outcome(self, record):
        return {k: record[k] for k in ("state", "exit_code", "stdout", "stderr", "error",
                                       "stdout_truncated", "stderr_truncated")}

    def run_all(self, worker, jobs, registry, interrupt):
        """Submits jobs in order; with interrupt, kills the worker with each job in its
        state and starts it again; returns each job's final record."""
        self.submit(worker, jobs["ended"])
        worker.wait_for(jobs["ended"]["job_id"])
        for name in ("running1", "running2", "pulling", "queued1", "queued2"):
            self.submit(worker, jobs[name])
        if interrupt:
            for name in ("running1", "running2"):
                wait_until(lambda n=name: "line-2" in worker.job(jobs[n]["job_id"])[1]["stdout"],
                           30, name + "'s output")
            self.assertTrue(registry.held.wait(scaled(30)), "the pull never reached the registry")
            states = {n: worker.job(j["job_id"])[1]["state"] for n, j in jobs.items()}
            self.assertEqual(states, {"ended": "finished", "running1": "running",
                                      "running2": "running", "pulling": "running",
                                      "queued1": "queued", "queued2": "queued"})
            self.crash(worker)
            worker = self.start()
        registry.release()
        records = {n: worker.wait_for(j["job_id"], timeout=90) for n, j in jobs.items()}
        return worker, records

    @unittest.skipIf(engine() == "podman", "Podman: the job killed while its image was pulled "
                     "runs again with an empty stdout (docs/ENGINES.md, not yet understood)")
    def test_every_job_ends_once_as_an_uninterrupted_run_ends_it(self):
        image = RegistryImage()
        self.addCleanup(image.cleanup)
        registries = [GatedRegistry(), GatedRegistry()]
        for r in registries:
            self.addCleanup(r.close)
        runs = {}
        for interrupt, registry in ((False, registries[0]), (True, registries[1])):
            ref = "%s/%s" % (registry.addr, image.ref.split("/", 1)[1])
            # Each run pulls its image afresh, through its own gate.
            docker("DELETE", "/images/%s?force=1" % ref.replace("/", "%2F"))
            self.config["worker_id"] = "it-" + uuid.uuid4().hex[:10]
            self.config["journal_path"] = os.path.join(self.journal_dir.name,
                                                       "journal-%s.sqlite" % interrupt)
            worker = self.start()
            jobs = self.jobs(ref)
            worker, records = self.run_all(worker, jobs, registry, interrupt)
            runs[interrupt] = (worker, jobs, records)
            docker("DELETE", "/images/%s?force=1" % ref.replace("/", "%2F"))
        plain_worker, plain_jobs, plain = runs[False]
        worker, jobs, after = runs[True]
        for name in plain:
            expected = self.outcome(plain[name])
            got = self.outcome(after[name])
            if name == "pulling":  # `cat` prints the job, whose id differs between the runs
                self.assertEqual(got.pop("stdout"), json.dumps(jobs[name]))
                self.assertEqual(expected.pop("stdout"), json.dumps(plain_jobs[name]))
            self.assertEqual(got, expected, name)
        self.assertEqual(after["running1"]["stdout"].count("line-0\n"), 1)
        self.assertEqual(after["running1"]["exit_code"], 4)
        # The running ones were followed, not run again.
        for name in ("running1", "running2"):
            self.assertIn("job adopted after a restart job_id=" + jobs[name]["job_id"], worker.log())
        # Served as before the restart, and its id is still taken.
        status, body = worker.submit(jobs["ended"])
        self.assertEqual(status, 409, body)
        self.assertEqual(body["error"]["code"], "JOB_ID_ALREADY_EXISTS")
        self.assertNoContainersLeft()
        # The pulling job had no container yet: the journal had it as queued, in its place.
        self.assertIn("took back 1 ended, 3 queued and 2 running job(s)", worker.log())


class ContainersWhileTheWorkerIsDown(RestartTestCase):
    def test_a_container_that_ends_meanwhile_is_collected(self):
        worker = self.start()
        job_id = self.submit(worker, make_job(cmd=["sh", "-c", "echo start; sleep 2; echo end >&2; exit 3"]))
        wait_until(lambda: worker.job(job_id)[1]["stdout"] == "start\n", 30, "the first line")
        [container] = containers_of(self.config["worker_id"])
        self.crash(worker)
        wait_until(lambda: not container_state(container["Id"])["Running"], 30, "the exit")
        worker = self.start()
        record = worker.wait_for(job_id, timeout=30)
        self.assertEqual((record["state"], record["exit_code"]), ("failed", 3), record)
        self.assertEqual(record["error"]["code"], "NON_ZERO_EXIT")
        self.assertEqual((record["stdout"], record["stderr"]), ("start\n", "end\n"))
        self.assertNoContainersLeft()

    def test_a_container_removed_by_hand_meanwhile_ends_the_job_container_lost(self):
        worker = self.start()
        job_id = self.submit(worker, make_job(cmd=["sh", "-c", "echo hi; sleep 60"]))
        wait_until(lambda: worker.job(job_id)[1]["stdout"] == "hi\n", 30, "its output")
        [container] = containers_of(self.config["worker_id"])
        self.crash(worker)
        self.assertEqual(docker("DELETE", "/containers/%s?force=1" % container["Id"])[0], 204)
        worker = self.start()
        record = worker.wait_for(job_id, timeout=30)
        self.assertEqual(record["state"], "failed", record)
        self.assertEqual(record["error"]["code"], "CONTAINER_LOST")
        self.assertEqual(record["stdout"], "hi\n", "what the journal kept is still shown")
        # The job ended: a new one runs.
        again = self.submit(worker, make_job(cmd=["echo", "next"]))
        self.assertEqual(worker.wait_for(again)["stdout"], "next\n")

    def test_sigterm_with_stop_action_keep_leaves_the_job_to_the_next_start(self):
        worker = self.start()
        job_id = self.submit(worker, make_job(cmd=SLOW))
        wait_until(lambda: "line-3" in worker.job(job_id)[1]["stdout"], 30, "its output")
        [container] = containers_of(self.config["worker_id"])
        self.assertEqual(worker.stop(signal.SIGTERM), 0)
        self.assertIn("running containers are left to the next start", worker.log())
        self.assertTrue(container_state(container["Id"])["Running"], "the stop left it running")
        worker = self.start()
        record = worker.wait_for(job_id, timeout=30)
        expected = "".join("line-%d\n" % i for i in range(25))
        self.assertEqual((record["stdout"], record["exit_code"]), (expected, 4))
        self.assertEqual(record["stderr"], "".join("err-%d\n" % i for i in range(25)))
        self.assertNoContainersLeft()

    @unittest.skipIf(engine() == "podman", "Podman: an adopted job's output after the restart "
                     "comes from its log when it ends, not live (docs/ENGINES.md)")
    def test_an_adopted_job_shows_its_new_output_while_it_runs(self):
        worker = self.start()
        job_id = self.submit(worker, make_job(
            cmd=["sh", "-c", "echo before; sleep %d; echo after; sleep 60" % scaled(4)]))
        wait_until(lambda: worker.job(job_id)[1]["stdout"] == "before\n", 30, "its first line")
        self.crash(worker)
        worker = self.start()
        # Followed again: the line printed after the restart shows while the job still runs,
        # joined to what the journal held, nothing twice.
        wait_until(lambda: worker.job(job_id)[1]["stdout"] != "before\n", 30, "its new output")
        record = worker.job(job_id)[1]
        self.assertEqual((record["state"], record["stdout"]), ("running", "before\nafter\n"))
        status, body = worker.request("DELETE", "/jobs/" + job_id)
        self.assertEqual(status, 202, body)
        record = worker.wait_for(job_id, timeout=30)
        self.assertEqual((record["error"]["code"], record["stdout"]),
                         ("CANCELLED", "before\nafter\n"))
        self.assertNoContainersLeft()

    def test_the_runtime_limit_counts_from_the_containers_real_start(self):
        worker = self.start()
        job_id = self.submit(worker, make_job(cmd=["sh", "-c", "echo up; sleep 60"],
                                              limits={"max_runtime_seconds": 4}))
        wait_until(lambda: worker.job(job_id)[1]["stdout"] == "up\n", 30, "it to run")
        started = time.time()
        self.crash(worker)
        time.sleep(2)
        worker = self.start()
        record = worker.wait_for(job_id, timeout=30)
        self.assertEqual(record["error"]["code"], "TIMEOUT", record)
        # Killed about 4 s after it started, not 4 s after the adoption.
        self.assertLess(time.time() - started, 4 + 2 + scaled(3))
        self.assertNoContainersLeft()

    def test_cancel_reaches_an_adopted_job(self):
        worker = self.start()
        job_id = self.submit(worker, make_job(cmd=["sh", "-c", "echo up; sleep 60"]))
        wait_until(lambda: worker.job(job_id)[1]["stdout"] == "up\n", 30, "it to run")
        self.crash(worker)
        worker = self.start()
        worker.wait_log(r"job adopted after a restart job_id=" + job_id, timeout=30)
        status, body = worker.request("DELETE", "/jobs/" + job_id)
        self.assertEqual(status, 202, body)
        record = worker.wait_for(job_id, timeout=30)
        self.assertEqual(record["error"]["code"], "CANCELLED")
        self.assertNoContainersLeft()


class JournalFaults(RestartTestCase):
    def assertMovedAside(self, worker, suffix):
        status, health = worker.request("GET", "/health")
        moved = health["journal"]["moved_aside"]
        self.assertIn(suffix, moved)
        self.assertTrue(os.path.exists(moved), moved)
        self.assertIn("was unusable", worker.log())
        job_id = self.submit(worker, make_job(cmd=["echo", "fine"]))
        self.assertEqual(worker.wait_for(job_id)["stdout"], "fine\n")

    def test_a_corrupt_journal_is_moved_aside_and_a_new_one_started(self):
        with open(self.config["journal_path"], "wb") as f:
            f.write(b"SQLite format 3\x00" + os.urandom(8000))
        worker_owns(self.config["journal_path"])
        self.assertMovedAside(self.start(), ".corrupt-")

    def test_a_truncated_journal_is_moved_aside(self):
        worker = self.start()
        for _ in range(3):
            job_id = self.submit(worker, make_job(cmd=["echo", "x" * 5000]))
            worker.wait_for(job_id)
        self.crash(worker)
        path = self.config["journal_path"]
        # Whatever the WAL held goes into the main file first, then the file is cut.
        con = sqlite3.connect(path)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 2)
        self.assertMovedAside(self.start(), ".corrupt-")

    def test_a_journal_of_a_newer_schema_is_moved_aside(self):
        con = sqlite3.connect(self.config["journal_path"])
        con.execute("PRAGMA user_version = 99")
        con.execute("CREATE TABLE future(x)")
        con.commit()
        con.close()
        worker_owns(self.config["journal_path"])
        self.assertMovedAside(self.start(), ".newer-")

    def test_a_full_disk_refuses_new_jobs_and_loses_nothing_journaled(self):
        mount = tempfile.mkdtemp(prefix="wa-full-")
        self.addCleanup(os.rmdir, mount)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mount], check=True)
        self.addCleanup(subprocess.run, ["umount", "-l", mount], check=False)
        worker_owns(mount)
        self.config["journal_path"] = os.path.join(mount, "journal.sqlite")
        worker = self.start()
        first = self.submit(worker, make_job(cmd=["echo", "before"]))
        worker.wait_for(first)
        running = self.submit(worker, make_job(cmd=["sh", "-c", "sleep 3; echo through"]))
        worker.wait_for(running, states=("running",))
        filler = os.path.join(mount, "filler")
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        status, body = worker.submit(make_job(cmd=["echo", "refused"]))
        self.assertEqual(status, 503, body)
        self.assertEqual(body["error"]["code"], "JOURNAL_UNAVAILABLE")
        status, health = worker.request("GET", "/health")
        self.assertEqual(status, 200)
        self.assertEqual(health["status"], "degraded")
        self.assertFalse(health["journal"]["writable"])
        self.assertTrue(any("journal" in r for r in health["reasons"]), health["reasons"])
        # The running job goes on; its end waits in memory for the disk.
        self.assertEqual(worker.wait_for(running, timeout=30)["stdout"], "through\n")
        os.remove(filler)
        wait_until(lambda: worker.request("GET", "/health")[1]["journal"]["writable"], 15,
                   "the journal to take writes again")
        after = self.submit(worker, make_job(cmd=["echo", "after"]))
        worker.wait_for(after)
        # Nothing journaled was lost: a restart serves all three.
        self.crash(worker)
        worker = self.start()
        for job_id, out in ((first, "before\n"), (running, "through\n"), (after, "after\n")):
            status, record = worker.job(job_id)
            self.assertEqual((status, record["state"], record["stdout"]), (200, "finished", out))


if __name__ == "__main__":
    unittest.main()
