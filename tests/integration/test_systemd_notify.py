"""sd_notify: the worker reports READY, STATUS, WATCHDOG and STOPPING to a service manager."""

import os
import signal
import socket
import tempfile
import threading
import time
import unittest

from harness import Worker, worker_owns


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


if __name__ == "__main__":
    unittest.main()
