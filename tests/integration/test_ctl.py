"""worker-agent ctl against a real worker and engine: drain (POST /jobs 503 DRAINING, the
jobs held finish, --wait), resume, cancel one and all, jobs and status in both forms, a
reload whose outcome is its exit status (and the running configuration kept when the file
is broken), the SIGHUP fallback without an operator socket, the operator routes refused on
TCP, the token taken from the configuration, and check."""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from harness import (IMAGE, UnixHTTPConnection, Worker, containers_of, docker, make_job, scaled,
                     urlquote, worker_owns)

# The ctl is a client on this host: always the build's binary, even where the daemon runs
# elsewhere (make test-image).
CTL = os.environ.get("WORKER_AGENT_BIN",
                     os.path.join(os.path.dirname(__file__), "../../build/src/worker-agent"))
TOKEN = "ctl-test-token-0123456789abcdef"


def check_image():
    status, _ = docker("GET", "/images/%s/json" % urlquote(IMAGE))
    if status != 200:
        raise RuntimeError("test image %s is missing: run `make images`" % IMAGE)


class CtlTestCase(unittest.TestCase):
    """One worker per test, with an operator socket."""

    config = {}

    def setUp(self):
        check_image()
        self.sock_dir = worker_owns(tempfile.mkdtemp(prefix="wa-ctl-"))
        cfg = {"listen_unix": os.path.join(self.sock_dir, "api.sock"), "max_concurrent_jobs": 1}
        cfg.update(self.config)
        self.worker = Worker(cfg, token=cfg.get("auth_token"))

    def tearDown(self):
        self.worker.close()
        shutil.rmtree(self.sock_dir, ignore_errors=True)

    def ctl(self, *args, config=True, timeout=60):
        argv = [CTL, "ctl"] + (["--config", self.worker.config_path] if config else []) + list(args)
        return subprocess.run(argv, capture_output=True, text=True, timeout=scaled(timeout))

    def ok(self, *args):
        r = self.ctl(*args)
        self.assertEqual(r.returncode, 0, "ctl %s: %s%s" % (" ".join(args), r.stdout, r.stderr))
        return r

    def unix_request(self, method, path):
        return self.worker.request(method, path,
                                   conn=UnixHTTPConnection(self.worker.config["listen_unix"]))


class DrainAndResume(CtlTestCase):
    def test_drain_refuses_new_jobs_and_lets_the_held_ones_finish(self):
        w = self.worker
        running = make_job(cmd=["sh", "-c", "sleep 2; echo first"])
        queued = make_job(cmd=["echo", "second"])
        self.assertEqual(w.submit(running)[0], 202)
        self.assertEqual(w.submit(queued)[0], 202)
        w.wait_for(running["job_id"], states=("running",), timeout=30)

        r = self.ok("drain")
        self.assertIn("draining: new jobs are refused (503 DRAINING)", r.stdout)
        status, body = w.submit(make_job(cmd=["true"]))
        self.assertEqual((status, body["state"], body["error"]["code"]),
                         (503, "rejected", "DRAINING"), body)
        health = w.request("GET", "/health")[1]
        self.assertEqual((health["draining"], health["accepting_jobs"]), (True, False))
        self.assertEqual(w.request("GET", "/info")[1]["draining"], True)
        self.assertIn("no: draining", self.ok("status").stdout)
        self.assertRegex(w.log(), r"draining: new jobs are refused")

        # --wait returns once the running job and the queued one have both finished.
        started = time.time()
        r = self.ok("drain", "--wait", "--wait-timeout", "60")
        self.assertIn("drained: no job is left", r.stderr)
        self.assertLess(time.time() - started, scaled(40))
        for job, out in ((running, "first\n"), (queued, "second\n")):
            done = w.job(job["job_id"])[1]
            self.assertEqual((done["state"], done["stdout"]), ("finished", out), done)

        r = self.ok("resume")
        self.assertIn("taking new jobs again", r.stdout)
        self.assertEqual(w.submit(make_job(cmd=["true"]))[0], 202)
        self.assertEqual(w.request("GET", "/health")[1]["draining"], False)

    def test_operator_routes_are_refused_on_tcp(self):
        w = self.worker
        for path in ("/operator/drain", "/operator/resume", "/operator/cancel-all",
                     "/operator/reload"):
            status, body = w.request("POST", path)
            self.assertEqual((status, body["error"]["code"]), (403, "UNIX_SOCKET_ONLY"), path)
        self.assertEqual(w.request("GET", "/health")[1]["draining"], False)
        # The ctl pointed at TCP says where to go instead.
        r = self.ctl("--url", "http://127.0.0.1:%d" % w.port, "drain")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("UNIX_SOCKET_ONLY", r.stderr)
        self.assertIn("listen_unix", r.stderr)
        # On the socket, the same request is served.
        status, body = self.unix_request("POST", "/operator/drain")
        self.assertEqual((status, body["draining"]), (200, True))


class Cancel(CtlTestCase):
    def test_cancel_one_then_all(self):
        w = self.worker
        jobs = [make_job(cmd=["sleep", "60"]) for _ in range(3)]
        for job in jobs:
            self.assertEqual(w.submit(job)[0], 202)
        w.wait_for(jobs[0]["job_id"], states=("running",), timeout=30)

        r = self.ok("cancel", jobs[2]["job_id"])
        self.assertIn("Cancelled while queued", r.stdout)
        r = self.ok("cancel", "--all")
        self.assertIn("cancelled 1 queued job(s); asked 1 running job(s) to stop", r.stdout)
        for job in jobs:
            done = w.wait_for(job["job_id"], timeout=30)
            self.assertEqual((done["state"], done["error"]["code"]), ("failed", "CANCELLED"), done)
        deadline = time.time() + scaled(10)
        while containers_of(w.worker_id) and time.time() < deadline:
            time.sleep(0.1)
        self.assertEqual(containers_of(w.worker_id), [])

        r = self.ctl("cancel", "no-such-job")
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("no job no-such-job on this worker", r.stderr)

        # The list, as a table and as the worker's JSON.
        table = self.ok("jobs", "--state", "failed").stdout
        self.assertRegex(table, r"^JOB ID\s+STATE\s+CREATED\s+DURATION\s+IMAGE\s+RESULT\n")
        self.assertIn("3 jobs", table)
        listed = json.loads(self.ok("jobs", "--json").stdout)
        self.assertEqual(sorted(j["job_id"] for j in listed["jobs"]),
                         sorted(j["job_id"] for j in jobs))
        status = json.loads(self.ok("status", "--json").stdout)
        self.assertEqual(status["info"]["worker_id"], w.worker_id)
        self.assertEqual(status["health"]["jobs"]["failed_total"], 3)


class Reload(CtlTestCase):
    def test_the_outcome_is_the_exit_status(self):
        w = self.worker
        cfg = dict(w.config)
        cfg.update({"labels": ["reloaded"], "port": 1})
        w.write_config(cfg)
        r = self.ok("reload")
        self.assertEqual(r.stdout.strip(),
                         "configuration reloaded; applied: labels; kept until a restart: port")
        self.assertEqual(w.request("GET", "/info")[1]["labels"], ["reloaded"])

        # A file the worker refuses: exit 1, the message, nothing changed, still serving.
        w.write_config(dict(cfg, max_concurrent_jobs=0))
        r = self.ctl("reload")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("max_concurrent_jobs: must be between 1 and 1024, got 0", r.stderr)
        self.assertIn("nothing was reloaded", r.stderr)
        self.assertIsNone(w.proc.poll())
        self.assertEqual(w.request("GET", "/health")[1]["max_concurrent_jobs"], 1)
        self.assertEqual(w.request("GET", "/info")[1]["labels"], ["reloaded"])

        # A file that loads here but not in the worker (the token file is gone by the time
        # the worker reads it): the worker's own answer decides.
        token_file = os.path.join(self.sock_dir, "token")
        with open(token_file, "w") as f:
            f.write(TOKEN + "\n")
        cfg.update({"auth_token_file": token_file, "labels": ["again"]})
        w.write_config(cfg)
        status, body = self.unix_request("POST", "/operator/reload")
        self.assertEqual(status, 200, body)
        w.token = TOKEN
        os.unlink(token_file)
        status, body = self.unix_request("POST", "/operator/reload")
        self.assertEqual((status, body["error"]["code"]), (409, "CONFIG_REJECTED"), body)
        self.assertIn("auth_token_file", body["error"]["message"])
        self.assertEqual(w.request("GET", "/info")[1]["labels"], ["again"])

    def test_without_an_operator_socket_it_checks_then_signals(self):
        w = Worker({"labels": ["before"]})
        try:
            cfg = dict(w.config)
            cfg["labels"] = ["after"]
            w.write_config(cfg)
            argv = [CTL, "ctl", "--config", w.config_path, "reload"]
            r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 3, r.stderr)
            self.assertIn("--pid", r.stderr)
            start = len(w.log_lines)
            r = subprocess.run(argv + ["--pid", str(w.pid)], capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("was sent SIGHUP", r.stdout)
            w.wait_log(r"configuration reloaded applied=labels", start=start)
            self.assertEqual(w.request("GET", "/info")[1]["labels"], ["after"])
            # A broken file is not signalled at all.
            with open(w.config_path, "a") as f:
                f.write("port: [\n")
            start = len(w.log_lines)
            r = subprocess.run(argv + ["--pid", str(w.pid)], capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(r.returncode, 1, r.stdout)
            time.sleep(0.3)
            self.assertNotRegex("\n".join(w.log_lines[start:]), r"SIGHUP received")
        finally:
            w.close()


class WithToken(CtlTestCase):
    config = {"auth_token": TOKEN, "auth_open_paths": []}

    def test_the_token_comes_from_the_configuration(self):
        r = self.ok("status")
        self.assertIn(self.worker.worker_id, r.stdout)
        self.assertNotIn(TOKEN, r.stdout + r.stderr)
        wrong = os.path.join(self.sock_dir, "wrong")
        with open(wrong, "w") as f:
            f.write("not-the-token-0123456789\n")
        r = self.ctl("--token-file", wrong, "jobs")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("wants its bearer token", r.stderr)
        r = self.ctl("--socket", self.worker.config["listen_unix"], "status", config=False)
        self.assertEqual(r.returncode, 3, r.stderr)

    def test_a_new_token_is_applied_by_a_reload(self):
        # The ctl reads the new token from the file, which the worker does not know yet: the
        # operator's routes on the socket need none, so the reload goes through.
        w = self.worker
        new_token = "the-next-ctl-token-0123456789"
        cfg = dict(w.config, auth_token=new_token)
        w.write_config(cfg)
        r = self.ok("reload")
        self.assertIn("applied: auth_token", r.stdout)
        self.assertNotIn(new_token, r.stdout + r.stderr)
        self.assertEqual(w.request("GET", "/jobs", auth=False)[0], 401)
        w.token = new_token
        self.assertEqual(w.request("GET", "/jobs")[0], 200)
        self.ok("status")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Check(CtlTestCase):
    # check looks at the configured port, which port 0 leaves unknown.
    config = {"port": free_port()}

    def test_a_sound_worker_passes(self):
        r = self.ok("check")
        for name in ("configuration", "engine socket", "engine", "listen address", "exposure",
                     "operator socket", "worker health"):
            self.assertRegex(r.stdout, r"(?m)^%s\s+ok\s" % re.escape(name))
        self.assertIn("no problem found", r.stdout)
        report = json.loads(self.ok("check", "--json").stdout)
        self.assertTrue(report["ok"])
        engine = next(c for c in report["checks"] if c["name"] == "engine")
        self.assertRegex(engine["detail"], r"Engine API \d+\.\d+")

    def test_problems_fail_it_and_say_what_to_fix(self):
        cfg = dict(self.worker.config)
        cfg.update({"docker_host": "unix://" + os.path.join(self.sock_dir, "no-engine.sock"),
                    "listen": "0.0.0.0"})
        path = os.path.join(self.sock_dir, "broken.yaml")
        with open(path, "w") as f:
            for k, v in cfg.items():
                f.write("%s: %s\n" % (k, json.dumps(v)))
        r = subprocess.run([CTL, "ctl", "--config", path, "check"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertRegex(r.stdout, r"(?m)^engine socket\s+FAIL\s+no socket at ")
        self.assertRegex(r.stdout, r"(?m)^engine\s+FAIL\s+no answer at ")
        self.assertRegex(r.stdout, r"(?m)^exposure\s+warn\s")
        self.assertIn("fix: start the engine", r.stdout)
        with open(path, "a") as f:
            f.write("max_queued_jobs: 0\n")
        r = subprocess.run([CTL, "ctl", "--config", path, "check"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stdout, r"(?m)^configuration\s+FAIL\s+.*max_queued_jobs")

    def test_a_stopped_worker_is_named(self):
        self.worker.stop()
        r = self.ctl("check")
        self.assertRegex(r.stdout, r"(?m)^listen address\s+warn\s+nothing answers on ")
        r = self.ctl("status")
        self.assertEqual(r.returncode, 3)
        self.assertIn("cannot reach the worker", r.stderr)


if __name__ == "__main__":
    unittest.main()
