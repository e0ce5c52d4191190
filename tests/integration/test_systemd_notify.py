"""sd_notify: the worker reports READY, STATUS, WATCHDOG and STOPPING to a service manager,
and keeps its stop timeout longer than what is left of a shutdown (EXTEND_TIMEOUT_USEC)."""

import os
import signal
import socket
import tempfile
import threading
import time
import unittest

from harness import Worker, make_job, scaled, worker_owns


class Notify(unittest.TestCase):
    def test_ready_status_watchdog_stopping(self):
        path = os.path.join(worker_owns(tempfile.mkdtemp(prefix="wa-notify-")), "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        worker_owns(path)  # sending to it takes write permission
        sock.settimeout(0.2)
        messages = []

        def drain(seconds):
            end = time.time() + seconds
            while time.time() < end:
                try:
                    messages.append(sock.recv(4096).decode())
                except socket.timeout:
                    pass

        # WATCHDOG_USEC of 0.4 s: the worker must pet it every 0.2 s. Read while it starts,
        # as systemd would: sd_notify blocks once the socket's queue (10 datagrams) is full,
        # and the start can take seconds (Podman answers /version slowly).
        starting = threading.Event()
        reader = threading.Thread(target=lambda: [drain(0.2) for _ in iter(starting.is_set, True)])
        reader.start()
        try:
            w = Worker(env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"})
        finally:
            starting.set()
            reader.join()
        try:
            drain(1.0)
            text = "\n".join(messages)
            self.assertIn("READY=1", text)
            self.assertRegex(text, r"STATUS=\d+ running, \d+ queued")
            self.assertGreaterEqual(sum("WATCHDOG=1" in m for m in messages), 3)
            w.send_signal(signal.SIGTERM)
            self.assertEqual(w.proc.wait(15), 0)
            drain(0.3)
            self.assertIn("STOPPING=1", "\n".join(messages))
            # READY comes before any STOPPING.
            joined = "\n".join(messages)
            self.assertLess(joined.index("READY=1"), joined.index("STOPPING=1"))
        finally:
            w.close()
            sock.close()
            os.unlink(path)

    def test_the_stop_timeout_is_extended_through_the_drain(self):
        # systemd's TimeoutStopSec= would cut a long shutdown_drain_seconds short; the worker
        # extends it itself for what is left: the drain, 20 s for cancel and clean-up, 10 s
        # of margin; again every 5 s, so a stalled loop stops extending.
        path = os.path.join(worker_owns(tempfile.mkdtemp(prefix="wa-notify-")), "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        worker_owns(path)
        sock.settimeout(0.2)
        messages = []  # (time received, text)

        def drain(seconds):
            end = time.time() + seconds
            while time.time() < end:
                try:
                    messages.append((time.time(), sock.recv(4096).decode()))
                except socket.timeout:
                    pass

        w = Worker({"shutdown_drain_seconds": 6}, env={"NOTIFY_SOCKET": path})
        try:
            job = make_job(cmd=["sleep", "60"])
            self.assertEqual(w.submit(job)[0], 202)
            w.wait_for(job["job_id"], states=("running",), timeout=30)
            drain(0.3)
            self.assertFalse(any("EXTEND_TIMEOUT_USEC" in m for _, m in messages),
                             "no extension before the stop")
            stopped_at = time.time()
            w.send_signal(signal.SIGTERM)
            drain(scaled(5.8))
            extensions = [(t - stopped_at, int(line.split("=", 1)[1]))
                          for t, m in messages for line in m.split("\n")
                          if line.startswith("EXTEND_TIMEOUT_USEC=")]
            self.assertGreaterEqual(len(extensions), 2, messages)
            first_at, first = extensions[0]
            self.assertLess(first_at, 1.0)
            # The drain (6 s) + 20 s + 10 s, less the moments since the signal.
            self.assertGreater(first, 35_000_000)
            self.assertLessEqual(first, 36_000_000)
            # Five seconds on: what is left of the drain is about 1 s.
            second_at, second = extensions[1]
            self.assertGreater(second_at, 4.0)
            self.assertGreater(second, 30_000_000)
            self.assertLess(second, 32_500_000)
            self.assertEqual(w.proc.wait(scaled(30)), 0)
            # The drain ran out, so the job was cancelled rather than cut off by a kill.
            self.assertRegex(w.log(), r"job failed job_id=%s code=CANCELLED" % job["job_id"])
        finally:
            w.close()
            sock.close()
            os.unlink(path)


if __name__ == "__main__":
    unittest.main()
