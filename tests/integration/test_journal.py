"""Structured journal logging: with stderr being the stream JOURNAL_STREAM names, the
worker sends sd_journal entries with JOB_ID, CONTAINER_ID, STATE and WORKER_ID fields.
The test stands in for journald: it binds the journal's native socket (only when no real
journald owns it) and reads the datagrams the worker sends."""

import json
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

from harness import BIN, Worker, containers_of, docker, make_job

JOURNAL_DIR = "/run/systemd/journal"
JOURNAL_SOCKET = JOURNAL_DIR + "/socket"


def parse_entry(data):
    """The journal's native datagram: KEY=value lines, or KEY\\n<le64 size><value>\\n."""
    fields = {}
    i = 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            key, value = line.split(b"=", 1)
            i = nl + 1
        else:
            key = line
            size = struct.unpack("<Q", data[nl + 1:nl + 9])[0]
            value = data[nl + 9:nl + 9 + size]
            i = nl + 9 + size + 1
        fields[key.decode()] = value.decode(errors="replace")
    return fields


@unittest.skipIf(os.path.exists(JOURNAL_SOCKET), "a real journald owns the socket")
class Journal(unittest.TestCase):
    def setUp(self):
        self.made_dir = not os.path.isdir(JOURNAL_DIR)
        os.makedirs(JOURNAL_DIR, exist_ok=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(JOURNAL_SOCKET)
        self.sock.settimeout(0.2)
        self.entries = []
        self.stop = threading.Event()

        def pump():
            while not self.stop.is_set():
                try:
                    self.entries.append(parse_entry(self.sock.recv(1 << 20)))
                except socket.timeout:
                    pass
                except OSError:
                    return

        self.reader = threading.Thread(target=pump, daemon=True)
        self.reader.start()

    def tearDown(self):
        self.stop.set()
        self.reader.join(5)
        self.sock.close()
        os.unlink(JOURNAL_SOCKET)
        if self.made_dir:
            shutil.rmtree(JOURNAL_DIR, ignore_errors=True)

    def wait_entry(self, pred, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for e in list(self.entries):
                if pred(e):
                    return e
            time.sleep(0.05)
        self.fail("no such journal entry; got:\n" + "\n".join(e.get("MESSAGE", "?") for e in self.entries))

    def test_job_story_as_structured_fields(self):
        worker_id = "it-journal-" + uuid.uuid4().hex[:8]
        tmp = tempfile.mkdtemp(prefix="wa-journal-")
        self.addCleanup(shutil.rmtree, tmp, True)
        config = os.path.join(tmp, "worker-agent.yaml")
        with open(config, "w") as f:
            for k, v in {"worker_id": worker_id, "listen": "127.0.0.1", "port": 0, "jobs_path": tmp,
                         "shutdown_drain_seconds": 0}.items():
                f.write("%s: %s\n" % (k, json.dumps(v)))
        # The worker's stderr is this file; JOURNAL_STREAM names it as systemd would.
        stderr_path = os.path.join(tmp, "stderr")
        stderr = open(stderr_path, "w+")
        self.addCleanup(stderr.close)
        st = os.fstat(stderr.fileno())
        env = dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))
        proc = subprocess.Popen([BIN, "--config", config], stderr=stderr, stdout=subprocess.DEVNULL, env=env)

        def cleanup():
            if proc.poll() is None:
                proc.terminate()
                proc.wait(30)
            for c in containers_of(worker_id):
                docker("DELETE", "/containers/%s?force=1" % c["Id"])
        self.addCleanup(cleanup)

        listening = self.wait_entry(lambda e: "listening on" in e.get("MESSAGE", ""))
        self.assertEqual(listening["SYSLOG_IDENTIFIER"], "worker-agent")
        self.assertEqual(listening["PRIORITY"], "6")
        self.assertEqual(listening["WORKER_ID"], worker_id)
        port = int(re.search(r"listening on \S+:(\d+)", listening["MESSAGE"]).group(1))

        w = Worker.__new__(Worker)  # only its HTTP helpers, on this process's port
        w.port = port
        w.log_lines = []
        w.wait_engine()
        job = make_job(cmd=["echo", "hi"])
        self.assertEqual(w.submit(job)[0], 202)
        self.assertEqual(w.wait_for(job["job_id"])["state"], "finished")

        job_id = job["job_id"]
        finished = self.wait_entry(lambda e: e.get("JOB_ID") == job_id and e.get("STATE") == "finished")
        self.assertEqual(finished["EXIT_CODE"], "0")
        self.assertIn("job finished job_id=" + job_id, finished["MESSAGE"])
        started = self.wait_entry(lambda e: e.get("JOB_ID") == job_id and "CONTAINER_ID" in e)
        self.assertRegex(started["CONTAINER_ID"], r"^[0-9a-f]{64}$")
        story = [e["MESSAGE"].split(" job_id=")[0] for e in self.entries if e.get("JOB_ID") == job_id]
        for step in ("job queued", "job started", "container started", "job finished"):
            self.assertIn(step, story)

        proc.terminate()
        self.assertEqual(proc.wait(30), 0)
        stderr.seek(0)
        self.assertEqual(stderr.read(), "", "everything went to the journal")


class PlainStderrWithoutJournal(unittest.TestCase):
    def test_a_journal_stream_that_is_not_stderr_is_ignored(self):
        # JOURNAL_STREAM inherited from a parent whose stderr was the journal, while this
        # process's stderr is a pipe: plain lines, as before.
        w = Worker(env={"JOURNAL_STREAM": "1:1"})
        try:
            job = make_job(cmd=["true"])
            w.submit(job)
            w.wait_for(job["job_id"])
            w.wait_log(r"^info job finished job_id=%s exit_code=0 state=finished$" % re.escape(job["job_id"]))
            # (The job journal's lines name its file: only the systemd journal counts here.)
            self.assertNotIn("systemd journal", w.log())
        finally:
            w.close()


if __name__ == "__main__":
    unittest.main()
