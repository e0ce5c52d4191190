"""The Docker engine stops (or crashes) while jobs run, then comes back: the worker survives
it. The running jobs fail DOCKER_ERROR naming the engine, the queued ones wait (and one
submitted meanwhile with them), /health is 503 degraded, and once the engine answers again
the queue runs by itself and no container of the worker is left.

The engine stopped here is a private dockerd started for this file (its own socket, data
and exec roots, bridge interface, no iptables rules), not the shared one: stopping the
shared engine would kill the containers of every test running beside this one, in this
tree or another. To the worker it is the same thing: the engine behind its docker_host
goes away and comes back.

Never start the private dockerd with `--bridge none`: a dockerd whose bridge is disabled
deletes the host's docker0 interface, which the shared engine's bridge network needs."""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from harness import DOCKER_SOCK, IMAGE, UnixHTTPConnection, Worker, containers_of, docker, \
    make_job, urlquote, worker_owns


class PrivateEngine:
    """A dockerd of our own, started and stopped the way scripts/docker-up.sh starts the
    shared one (dockerd in the background, ready when /_ping answers), with a pid file."""

    def __init__(self):
        # The exec root holds containerd's sockets: keep its path short.
        self.run_dir = tempfile.mkdtemp(prefix="wa-eng-", dir="/run")
        self.data_dir = tempfile.mkdtemp(prefix="wa-engine-data-", dir="/var/tmp")
        self.sock = os.path.join(self.run_dir, "docker.sock")
        self.pidfile = os.path.join(self.run_dir, "docker.pid")
        self.log_path = os.path.join(self.run_dir, "dockerd.log")
        # A bridge of its own (at most 15 characters): the private engine must not touch
        # docker0, which belongs to the shared engine.
        self.bridge = "wa-eng-%d" % (os.getpid() % 100000)
        self.proc = None
        self.had_docker0 = os.path.exists("/sys/class/net/docker0")

    @property
    def host(self):
        return "unix://" + self.sock

    def answers(self):
        conn = UnixHTTPConnection(self.sock, timeout=2)
        try:
            conn.request("GET", "/_ping")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def start(self, timeout=60):
        assert not self.running(), "the private engine is already running"
        if not os.path.exists("/sys/class/net/" + self.bridge):
            subprocess.run(["ip", "link", "add", "name", self.bridge, "type", "bridge"], check=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            ["dockerd", "--host", self.host, "--pidfile", self.pidfile,
             "--data-root", os.path.join(self.data_dir, "data"),
             "--exec-root", os.path.join(self.run_dir, "exec"),
             "--bridge", self.bridge, "--iptables=false", "--ip6tables=false", "--ip-masq=false"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        log.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.answers():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError("the private dockerd did not answer:\n" + self.log_tail())

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=60):
        """SIGTERM, as `systemctl stop docker` does: the engine stops its containers (10 s
        grace each) and exits. Returns once the process is gone."""
        if not self.running():
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill(self):
        """SIGKILL to dockerd and its containerd, a crash of the engine: the containers
        run on under their shims until the next dockerd start, which kills them.
        containerd goes too, or the restart could find it still exiting, take it for
        alive and wait for it in vain."""
        if self.running():
            self.proc.kill()
            self.proc.wait()
        self.kill_strays(programs=("containerd",))
        # A killed containerd may linger as a zombie (orphans go to PID 1, which need not
        # reap them at once), and dockerd takes a pid that answers kill(pid, 0) for a
        # live containerd: without its pid file, the restart starts a new one.
        try:
            os.unlink(os.path.join(self.run_dir, "exec", "containerd", "containerd.pid"))
        except FileNotFoundError:
            pass

    def strays(self, programs=None):
        """Pids of processes this engine started that outlived it (containerd, shims),
        found by the unique run directory on their command line; only those whose
        program is in programs, if given."""
        pids = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if self.run_dir.encode() not in b" ".join(argv):
                continue
            if programs is None or os.path.basename(argv[0].decode()) in programs:
                pids.append(int(pid))
        return pids

    def kill_strays(self, programs=None):
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in self.strays(programs):
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
            deadline = time.time() + 10
            while self.strays(programs) and time.time() < deadline:
                time.sleep(0.1)
            if not self.strays(programs):
                return

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def load_image(self, image):
        """Copies image from the shared engine into this one (docker save | docker load)."""
        conn = UnixHTTPConnection(DOCKER_SOCK, timeout=120)
        conn.request("GET", "/images/get?names=" + urlquote(image))
        resp = conn.getresponse()
        tar = resp.read()
        conn.close()
        if resp.status != 200:
            raise RuntimeError("saving %s from the shared engine: HTTP %d" % (image, resp.status))
        conn = UnixHTTPConnection(self.sock, timeout=120)
        conn.request("POST", "/images/load?quiet=1", body=tar,
                     headers={"Content-Type": "application/x-tar"})
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        if resp.status != 200 or b"error" in body:
            raise RuntimeError("loading %s into the private engine: %s" % (image, body[:500]))

    def destroy(self):
        if self.running():
            for c in docker("GET", "/containers/json?all=1", sock=self.sock)[1] or []:
                docker("DELETE", "/containers/%s?force=1&v=1" % c["Id"], sock=self.sock)
        self.stop()
        self.kill_strays()
        # Whatever the engine left mounted under its directories goes before they do.
        with open("/proc/mounts") as f:
            mounts = [line.split()[1] for line in f]
        for mount in sorted(mounts, key=len, reverse=True):
            if mount.startswith((self.run_dir + "/", self.data_dir + "/")):
                subprocess.run(["umount", "-l", mount], check=False)
        shutil.rmtree(self.run_dir, ignore_errors=True)
        shutil.rmtree(self.data_dir, ignore_errors=True)
        if os.path.exists("/sys/class/net/" + self.bridge):
            subprocess.run(["ip", "link", "del", self.bridge], check=False)
        # The shared engine's bridge must have come through untouched.
        assert not self.had_docker0 or os.path.exists("/sys/class/net/docker0"), \
            "the private dockerd removed docker0"


def health(worker, target="/health"):
    conn = worker.connection(timeout=10)
    try:
        conn.request("GET", target)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def wait_until(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


class EngineOutage(unittest.TestCase):
    engine = None

    @classmethod
    def setUpClass(cls):
        if shutil.which("dockerd") is None:
            raise unittest.SkipTest("dockerd is not installed (make deps)")
        status, _ = docker("GET", "/images/%s/json" % urlquote(IMAGE))
        if status != 200:
            raise RuntimeError("test image %s is missing: run `make images`" % IMAGE)
        cls.engine = PrivateEngine()
        try:
            cls.engine.start()
            cls.engine.load_image(IMAGE)
        except BaseException:
            cls.engine.destroy()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.engine.destroy()

    def setUp(self):
        # A worker in a container (make test-image) gets the engine's directory mounted, and
        # its user may enter it to reach the socket (the engine's group, as the shared one's).
        worker_owns(self.engine.run_dir)
        self.worker = Worker({"docker_host": self.engine.host, "max_concurrent_jobs": 2},
                             env={"WORKER_AGENT_TEST_MOUNTS": self.engine.run_dir})

    def tearDown(self):
        # Whatever happened, the engine is up again before the next test or the clean-up.
        try:
            if not self.engine.running():
                self.engine.start()
        finally:
            self.worker.stop()
            for c in containers_of(self.worker.worker_id, sock=self.engine.sock):
                docker("DELETE", "/containers/%s?force=1&v=1" % c["Id"], sock=self.engine.sock)
            self.worker.dir.cleanup()

    def containers(self):
        return containers_of(self.worker.worker_id, sock=self.engine.sock)

    def outage(self, stop, removals_fail):
        """Two jobs running and three queued when stop() takes the engine away; a fourth
        is submitted during the outage; then the engine comes back by itself."""
        w = self.worker
        running = [make_job(cmd=["sleep", "60"]) for _ in range(2)]
        queued = [make_job(cmd=["sh", "-c", "echo ran $JOB_ID"]) for _ in range(3)]
        for job in running + queued:
            self.assertEqual(w.submit(job)[0], 202)
        wait_until(lambda: len([c for c in self.containers() if c["State"] == "running"]) == 2,
                   30, "both running jobs' containers to run")
        for job in queued:
            self.assertEqual(w.job(job["job_id"])[1]["state"], "queued")
        log_mark = len(w.log_lines)

        stop()

        # The worker notices (the ping, or the failed requests of the running jobs).
        status, body = wait_until(
            lambda: (lambda r: r if r[1]["status"] == "degraded" else None)(health(w)),
            15, "/health to turn degraded")
        self.assertEqual(status, 200)  # the state is in the body; ?strict=1 puts it in the code
        self.assertEqual(health(w, "/health?strict=1")[0], 503)
        self.assertFalse(body["docker"]["reachable"])
        self.assertTrue(any("docker engine unreachable" in r for r in body["reasons"]), body)

        # The running jobs end failed, DOCKER_ERROR, naming the engine.
        for job in running:
            record = w.wait_for(job["job_id"], timeout=60)
            self.assertEqual(record["state"], "failed", record)
            self.assertEqual(record["error"]["code"], "DOCKER_ERROR", record)
            self.assertIn(self.engine.host, record["error"]["message"])
        print("\nrunning job: exit_code %s, %s" % (record["exit_code"], record["error"]["message"]))

        # The queued ones wait, however long the engine is away; a job submitted meanwhile
        # is accepted and waits with them. Two ping intervals and more, and still queued.
        late = make_job(cmd=["sh", "-c", "echo ran $JOB_ID"])
        self.assertEqual(w.submit(late)[0], 202)
        queued.append(late)
        time.sleep(5)
        for position, job in enumerate(queued, start=1):
            status, record = w.job(job["job_id"])
            self.assertEqual(record["state"], "queued", record)
            self.assertIsNone(record["started_at"])
            self.assertEqual(record["queue_position"], position)
        self.assertEqual(health(w, "/health?strict=1")[0], 503)
        w.wait_log(r"queued jobs wait until the docker engine answers", start=log_mark)

        # The engine comes back; nobody tells the worker.
        self.engine.start()
        back = time.time()
        wait_until(lambda: health(w)[1]["docker"]["reachable"], 15, "the engine to be seen again")
        seen_after = time.time() - back
        for job in queued:
            record = w.wait_for(job["job_id"], timeout=60)
            self.assertEqual(record["state"], "finished", record)
            self.assertEqual(record["stdout"], "ran %s\n" % job["job_id"])
        queue_done_after = time.time() - back

        # Nothing lost: every job is in a terminal state...
        _, listing = w.request("GET", "/jobs")
        self.assertEqual(listing["count"], len(running) + len(queued))
        states = sorted(j["state"] for j in listing["jobs"])
        self.assertEqual(states, ["failed"] * 2 + ["finished"] * 4)
        # ... and no container is left.
        wait_until(lambda: not self.containers(), 30, "the left-behind containers to go")
        removed_after = time.time() - back
        if removals_fail:
            self.assertEqual(len(re.findall(r"removed container left behind earlier",
                                            w.log())), 2, w.log())
        body = health(w)[1]
        self.assertTrue(body["docker"]["reachable"])
        self.assertFalse([r for r in body.get("reasons", []) if "docker" in r], body)
        print("\nengine back -> seen %.2f s, queue done %.2f s, no container left %.2f s"
              % (seen_after, queue_done_after, removed_after))
        return running

    def test_engine_stopped(self):
        # A stopping engine closes its listener at once, stops its containers (SIGTERM,
        # then SIGKILL after 10 s) and exits. It still answers on connections already
        # open meanwhile, so the containers may well be removed before it is gone.
        running = self.outage(self.engine.stop, removals_fail=False)
        for job in running:
            record = self.worker.job(job["job_id"])[1]
            self.assertIn("the Docker engine went away while the job ran",
                          record["error"]["message"])

    def test_engine_killed(self):
        # A crash: every connection drops at once, the containers' removal fails, and
        # is retried until the engine (restarted, the containers stopped) accepts it.
        self.outage(self.engine.kill, removals_fail=True)

    def test_orphans_swept_once_the_engine_answers(self):
        # A worker killed with its container left behind starts again while the engine is
        # down: the start-up sweep cannot list anything then. It runs once the engine
        # answers, before the job queued meanwhile starts (whose container it must spare).
        first = self.worker
        status, orphan = docker("POST", "/containers/create",
                                {"Image": IMAGE, "Cmd": ["sleep", "600"],
                                 "Labels": {"worker-agent.worker_id": first.worker_id}},
                                sock=self.engine.sock)
        self.assertEqual(status, 201, orphan)
        first.stop(signal.SIGKILL)
        first.dir.cleanup()
        self.engine.stop()

        self.worker = w = Worker({"worker_id": first.worker_id, "docker_host": self.engine.host,
                                  "max_concurrent_jobs": 2}, wait_engine=False,
                                 env={"WORKER_AGENT_TEST_MOUNTS": self.engine.run_dir})
        w.wait_log(r"start-up sweep of this worker's containers waits for the docker engine")
        job = make_job(cmd=["sh", "-c", "echo ran $JOB_ID"])
        self.assertEqual(w.submit(job)[0], 202)
        time.sleep(2)
        self.assertEqual(w.job(job["job_id"])[1]["state"], "queued")

        log_mark = len(w.log_lines)
        self.engine.start()
        w.wait_log(r"removed container left by this worker container_id=" + orphan["Id"],
                   timeout=30, start=log_mark)
        self.assertEqual(docker("GET", "/containers/%s/json" % orphan["Id"],
                                sock=self.engine.sock)[0], 404)
        record = w.wait_for(job["job_id"], timeout=60)
        self.assertEqual(record["state"], "finished", record)
        self.assertEqual(record["stdout"], "ran %s\n" % job["job_id"])
        wait_until(lambda: not self.containers(), 30, "the job's container to go")


if __name__ == "__main__":
    unittest.main()
