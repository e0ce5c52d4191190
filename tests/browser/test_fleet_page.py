"""A loopback fleet of workers seen from a browser page on another origin, as the cluster's
dashboard sees it: headless Chromium (Debian's chromium) driven by playwright-core
(tests/browser/package-lock.json, installed by `make browser-up`).

The fleet, each worker with its own config and jobs_path, on port 9000 of its own
loopback address (the dashboard only ever asks http://IP:9000):
  127.0.0.1  idle; its jobs_path not created yet
  127.0.0.2  busy: two jobs running in its two slots, a third queued
  127.0.0.3  auth_token set, /info opened for the dashboard (auth_open_paths); one job running
  127.0.0.4  no engine (docker_host is a dead socket) and no worker_id: degraded, named
             after the host
  127.0.0.5  auth_token set with the default auth_open_paths: its /info wants the token,
             which a dashboard does not send, so the page shows it offline
  127.0.0.6  nothing listens there: offline
The page (tests/browser/page, served from 127.0.0.1 on another port) must show every
worker, the degraded one online and degraded, the running counts of each and the totals
summed over the online ones; no request may leave loopback. The screenshot is kept as
<build>/tests/browser/fleet.png (WA_BROWSER_ARTIFACTS)."""

import functools
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from harness import IMAGE, REPO, Worker, docker, make_job, scaled, urlquote  # noqa: E402

ARTIFACTS = os.environ.get("WA_BROWSER_ARTIFACTS") or os.path.join(REPO, "build", "tests", "browser")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PORT = 9000
# Node's process.arch names for the kernel's, where they differ (what /info's
# os_architecture says next to machine).
NODE_ARCH = {"x86_64": "x64", "aarch64": "arm64"}


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def wait_until(predicate, timeout, what):
    deadline = time.time() + scaled(timeout)
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


class FleetPage(unittest.TestCase):
    def setUp(self):
        missing = [what for what, present in (
            ("chromium (" + CHROMIUM + ")", os.access(CHROMIUM, os.X_OK)),
            ("node", shutil.which("node")),
            ("playwright-core in tests/browser/node_modules",
             os.path.isdir(os.path.join(HERE, "node_modules", "playwright-core")))) if not present]
        if missing:
            self.fail("missing %s: run `make browser-up`" % ", ".join(missing))
        status, _ = docker("GET", "/images/%s/json" % urlquote(IMAGE))
        if status != 200:
            self.fail("test image %s is missing: run `make images`" % IMAGE)
        self.tmp = tempfile.mkdtemp(prefix="wa-fleet-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        os.makedirs(ARTIFACTS, exist_ok=True)

    def start(self, address, config, token=None, wait_engine=True):
        jobs_path = os.path.join(self.tmp, "jobs-" + address)
        os.mkdir(jobs_path)
        cfg = {"listen": address, "port": PORT, "jobs_path": jobs_path,
               # The rules a host may break (a nearly full disk, a hot CPU) are off: the only
               # degraded worker here is the one without an engine.
               "disk_min_free_percent": 0, "thermal_limit_c": 0}
        cfg.update(config)
        worker = Worker(cfg, token=token, wait_engine=wait_engine)
        self.addCleanup(worker.close)
        return worker

    def serve_page(self):
        handler = functools.partial(QuietHandler, directory=os.path.join(HERE, "page"))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        return "http://127.0.0.1:%d/index.html" % server.server_address[1]

    def test_every_worker_shown_with_its_state_counts_and_totals(self):
        token_open = uuid.uuid4().hex
        token_closed = uuid.uuid4().hex
        sleeper = {"cmd": ["sleep", "300"], "limits": {"max_runtime_seconds": 600}}
        idle = self.start("127.0.0.1", {"worker_id": "fleet-idle", "labels": ["idle"],
                                        "jobs_path": os.path.join(self.tmp, "not-created-yet")})
        busy = self.start("127.0.0.2", {"worker_id": "fleet-busy", "labels": ["busy", "ssd"]})
        authed = self.start("127.0.0.3", {"worker_id": "fleet-auth", "max_concurrent_jobs": 3,
                                          "auth_token": token_open,
                                          "auth_open_paths": ["/health", "/info"]},
                            token=token_open)
        # No worker_id: the default, this host's name. No engine either (a dead socket: a
        # socket file nobody listens on), so no sweep can reach the containers of another
        # worker that defaults to the same id.
        dead_socket = os.path.join(self.tmp, "dead-engine.sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.bind(dead_socket)
        dead = self.start("127.0.0.4", {"worker_id": None, "docker_host": "unix://" + dead_socket},
                          wait_engine=False)
        closed = self.start("127.0.0.5", {"worker_id": "fleet-closed", "auth_token": token_closed},
                            token=token_closed)
        for job in [make_job(**sleeper) for _ in range(3)]:
            self.assertEqual(busy.submit(job)[0], 202)
        self.assertEqual(authed.submit(make_job(**sleeper))[0], 202)
        wait_until(lambda: busy.request("GET", "/health")[1]["running_jobs"] == 2, 60,
                   "two running jobs on 127.0.0.2")
        wait_until(lambda: authed.request("GET", "/health")[1]["running_jobs"] == 1, 60,
                   "a running job on 127.0.0.3")
        wait_until(lambda: dead.request("GET", "/health")[1]["status"] == "degraded", 10,
                   "127.0.0.4 to report degraded")

        addresses = ["127.0.0.%d:%d" % (i, PORT) for i in range(1, 7)]
        page_url = self.serve_page() + "?workers=" + ",".join(addresses)
        screenshot = os.path.join(ARTIFACTS, "fleet.png")
        if os.path.exists(screenshot):
            os.remove(screenshot)
        started = time.time()
        run = subprocess.run(["node", os.path.join(HERE, "render_fleet.mjs"), page_url, screenshot, "4"],
                             cwd=HERE, capture_output=True, text=True, timeout=scaled(180))
        browser_seconds = time.time() - started
        self.assertEqual(run.returncode, 0, "render_fleet.mjs failed:\n" + run.stdout + run.stderr)
        shown = json.loads(run.stdout.strip().splitlines()[-1])
        print("\nbrowser: %.1f s (page open %.1f s, %d rounds); screenshot %s"
              % (browser_seconds, shown["seconds"], shown["rounds"], screenshot))

        # Only loopback was asked for, and nothing had to be blocked; the guard stops what
        # is not loopback (a name under .invalid, which never resolves).
        self.assertEqual(shown["blocked"], [])
        self.assertTrue(shown["guard_check_blocked"], shown["guard_check"])
        self.assertTrue(shown["guard_check"].startswith("failed"), shown["guard_check"])
        for origin in shown["requested"]:
            self.assertRegex(origin, r"^http://127\.\d+\.\d+\.\d+:\d+$")
        self.assertEqual(shown["page_errors"], [])
        with open(screenshot, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")

        rows = {row["address"]: row for row in shown["rows"]}
        self.assertEqual(sorted(rows), addresses)  # every worker is there
        state = {address.split(":")[0]: row["state"] for address, row in rows.items()}
        self.assertEqual(state, {"127.0.0.1": "online", "127.0.0.2": "online", "127.0.0.3": "online",
                                 "127.0.0.4": "online", "127.0.0.5": "offline (never answered)",
                                 "127.0.0.6": "offline (never answered)"}, rows)

        def row(address):
            return rows["%s:%d" % (address, PORT)]

        # What each online worker says of itself, read here without a browser (and with
        # the token where one is needed), against what the page shows.
        expected = {}
        for worker in (idle, busy, authed, dead):
            status, info = worker.request("GET", "/info")
            self.assertEqual(status, 200, info)
            status, health = worker.request("GET", "/health")
            self.assertEqual(status, 200, health)  # degraded or not
            expected[worker.host] = (info, health)
            shown_row = row(worker.host)
            self.assertEqual(shown_row["worker-id"], info["worker_id"])
            self.assertEqual(shown_row["hostname"], info["hostname"])
            self.assertEqual(shown_row["os"], info["os"])
            self.assertEqual(shown_row["arch"], NODE_ARCH.get(info["machine"], info["machine"]))
            self.assertEqual(shown_row["cpu-model"], info["cpu_model"] or "N/A")
            self.assertEqual(shown_row["memory"], "%d MB" % info["memory_mb"])
            self.assertNotEqual(shown_row["jobs-disk"], "N/A", shown_row)
            self.assertNotEqual(shown_row["docker-disk"], "N/A", shown_row)

        for address in ("127.0.0.1", "127.0.0.2", "127.0.0.3"):
            self.assertEqual(row(address)["status"], "ok", row(address))
        self.assertEqual(row("127.0.0.1")["running"], "0 / 2")
        self.assertEqual(row("127.0.0.1")["labels"], "idle")
        self.assertEqual(row("127.0.0.2")["running"], "2 / 2")
        self.assertEqual(row("127.0.0.2")["queued"], "1")
        self.assertEqual(row("127.0.0.2")["labels"], "busy, ssd")
        self.assertEqual(row("127.0.0.3")["running"], "1 / 3")
        self.assertEqual(row("127.0.0.3")["worker-id"], "fleet-auth")

        # The worker without an engine is shown, degraded, with its reason; named after the
        # host, and its disks in view (Docker's default data root until an engine names one).
        degraded = row("127.0.0.4")
        self.assertEqual(degraded["status"], "degraded")
        self.assertIn("docker engine unreachable", degraded["reasons"])
        self.assertEqual(degraded["running"], "0 / 2")
        self.assertEqual(degraded["worker-id"], socket.gethostname())
        self.assertEqual(degraded["worker-id"], degraded["hostname"])
        self.assertEqual(degraded["docker-root"], "/var/lib/docker")

        # /info behind the token: the page, like the dashboard, cannot read it.
        self.assertIn("HTTP 401", row("127.0.0.5")["reasons"])
        self.assertEqual(closed.request("GET", "/info", auth=False)[0], 401)
        self.assertEqual(closed.request("GET", "/health", auth=False)[0], 200)

        # The totals are the sums over the four online workers.
        online = list(expected.values())
        self.assertEqual(shown["totals"], {
            "online": "4", "known": "6", "degraded": "1",
            "running": "3", "slots": str(2 + 2 + 3 + 2), "queued": "1",
            "threads": str(sum(h["cpu_threads"] for _, h in online)),
            "memory": str(sum(i["memory_mb"] for i, _ in online)),
        })


if __name__ == "__main__":
    unittest.main()
