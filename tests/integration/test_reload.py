"""SIGHUP reload: a changed allow-list applies at once without dropping a running job; a
broken file changes nothing; keys that need a restart are named; systemd hears
RELOADING=1 then READY=1."""

import os
import signal
import socket
import tempfile
import time
import unittest
import uuid

from harness import IMAGE, Worker, docker, make_job, urlquote, worker_owns


class Reload(unittest.TestCase):
    def setUp(self):
        # A second name for the test image, so that the allow-list can switch images.
        self.repo = "wa-reload-" + uuid.uuid4().hex[:8]
        self.other = self.repo + ":1"
        status, body = docker("POST", "/images/%s/tag?repo=%s&tag=1" % (urlquote(IMAGE), self.repo))
        self.assertEqual(status, 201, body)
        self.notify_dir = tempfile.mkdtemp(prefix="wa-reload-")
        self.notify_path = os.path.join(self.notify_dir, "notify.sock")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        worker_owns(self.notify_dir)
        worker_owns(self.notify_path)  # sending to it takes write permission
        self.notify.settimeout(0.1)
        self.worker = Worker({"allowed_images": [IMAGE], "max_concurrent_jobs": 2},
                             env={"NOTIFY_SOCKET": self.notify_path})

    def tearDown(self):
        self.worker.close()
        self.notify.close()
        os.unlink(self.notify_path)
        os.rmdir(self.notify_dir)
        docker("DELETE", "/images/%s" % urlquote(self.other))

    def notifications(self):
        out = []
        while True:
            try:
                out.append(self.notify.recv(4096).decode())
            except socket.timeout:
                return out

    def hup(self):
        start = len(self.worker.log_lines)
        self.worker.send_signal(signal.SIGHUP)
        return start

    def test_allow_list_changes_without_dropping_the_running_job(self):
        w = self.worker
        long_job = make_job(cmd=["sh", "-c", "sleep 4; echo survived"])
        self.assertEqual(w.submit(long_job)[0], 202)
        w.wait_for(long_job["job_id"], states=("running",), timeout=20)
        status, body = w.submit(make_job(image=self.other))
        self.assertEqual((status, body["error"]["code"]), (400, "IMAGE_NOT_ALLOWED"))

        self.notifications()  # drop READY and the periodic STATUS lines so far
        cfg = dict(w.config)
        cfg["allowed_images"] = [self.repo + ":*"]
        w.write_config(cfg)
        start = self.hup()
        line = w.wait_log(r"configuration reloaded", start=start)
        self.assertIn("applied=allowed_images", line)

        # The newly allowed image is accepted and runs; the old one is now refused.
        newly = make_job(image=self.other, cmd=["echo", "newly allowed"])
        self.assertEqual(w.submit(newly)[0], 202, w.log())
        status, body = w.submit(make_job())
        self.assertEqual((status, body["error"]["code"]), (400, "IMAGE_NOT_ALLOWED"))
        self.assertEqual(w.request("GET", "/info")[1]["allowed_images"], [self.repo + ":*"])
        done = w.wait_for(newly["job_id"], timeout=30)
        self.assertEqual((done["state"], done["stdout"]), ("finished", "newly allowed\n"), done)

        # The job that was running through the reload was not touched.
        survived = w.wait_for(long_job["job_id"], timeout=30)
        self.assertEqual((survived["state"], survived["exit_code"]), ("finished", 0), survived)
        self.assertEqual(survived["stdout"], "survived\n")

        text = "\n".join(self.notifications())
        self.assertIn("RELOADING=1", text)
        self.assertRegex(text, r"MONOTONIC_USEC=\d+")
        self.assertIn("READY=1", text)
        self.assertLess(text.index("RELOADING=1"), text.index("READY=1"))

    def test_broken_file_keeps_the_running_configuration(self):
        w = self.worker
        with open(w.config_path, "w") as f:
            f.write("allowed_images: [unterminated\nmax_concurrent_jobs: 0\n")
        start = self.hup()
        w.wait_log(r"reload failed; keeping the running configuration", start=start)
        self.assertIsNone(w.proc.poll(), "the worker must stay up")
        # Still the old allow-list, and still ready for systemd.
        status, _ = w.submit(make_job(cmd=["true"]))
        self.assertEqual(status, 202)
        self.assertIn("READY=1", "\n".join(self.notifications()))

    def test_restart_keys_are_named_and_safe_keys_applied(self):
        w = self.worker
        cfg = dict(w.config)
        cfg.update({"port": 1, "worker_id": "renamed", "log_level": "debug", "max_concurrent_jobs": 1,
                    "labels": ["reloaded"], "thermal_limit_c": 55})
        w.write_config(cfg)
        start = self.hup()
        line = w.wait_log(r"changed keys need a restart", start=start)
        self.assertIn("keys=worker_id,port", line)
        applied = w.wait_log(r"configuration reloaded", start=start)
        for key in ("max_concurrent_jobs", "labels", "log_level", "thermal_limit_c"):
            self.assertIn(key, applied)
        info = w.request("GET", "/info")[1]
        self.assertEqual((info["worker_id"], info["labels"]), (w.worker_id, ["reloaded"]))
        health = w.request("GET", "/health")[1]
        self.assertEqual(health["max_concurrent_jobs"], 1)
        self.assertEqual(health["health_limits"]["thermal_limit_c"], 55)
        # Still on its old port (this request got through), and debug lines now appear.
        w.request("GET", "/nowhere")
        w.wait_log(r"^debug http: GET /nowhere", start=start)


if __name__ == "__main__":
    unittest.main()
