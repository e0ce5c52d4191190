"""Optional bearer-token authentication and the unix socket listener, on the real daemon:
every protected route needs the token, /health is open unless configured otherwise, the
token never shows in a log line or an answer, SIGHUP applies a new token, and the unix
socket serves the same API with mode 0660 and is removed at exit."""

import json
import os
import signal
import socket
import stat
import subprocess
import tempfile
import time
import unittest

from harness import BIN, IMAGE, UnixHTTPConnection, Worker, docker, make_job, urlquote, worker_owns

TOKEN = "it-token-" + "7f3a9c" * 6
OTHER = "it-other-" + "b41e0d" * 6
WRONG = "it-wrong-" + "0c55aa" * 6


def check_image():
    status, _ = docker("GET", "/images/%s/json" % urlquote(IMAGE))
    if status != 200:
        raise RuntimeError("test image %s is missing: run `make images`" % IMAGE)


class AuthAssertions(unittest.TestCase):
    def assertUnauthorized(self, resp, data, invalid):
        self.assertEqual(resp.status, 401, data)
        challenge = resp.getheader("WWW-Authenticate")
        self.assertTrue(challenge.startswith("Bearer"), challenge)
        self.assertEqual("invalid_token" in challenge, invalid, challenge)
        self.assertEqual(resp.getheader("Access-Control-Allow-Origin"), "*")
        self.assertEqual(json.loads(data)["error"]["code"], "UNAUTHORIZED")

    def assertNoSecret(self, text, *secrets):
        for secret in secrets or (TOKEN,):
            self.assertNotIn(secret, text)


class TokenRequired(AuthAssertions):
    """auth_token in the config file; the defaults otherwise (/health open)."""

    @classmethod
    def setUpClass(cls):
        check_image()
        # debug: request lines are logged too, and must not carry the token either.
        cls.worker = Worker({"auth_token": TOKEN, "log_level": "debug"}, token=TOKEN)

    @classmethod
    def tearDownClass(cls):
        cls.worker.close()

    def three_ways(self, method, path, body=None):
        """The request without a token, with a wrong one, then with the right one; returns
        the last answer after checking the first two."""
        w = self.worker
        resp, data = w.request(method, path, body, raw=True, auth=False)
        self.assertUnauthorized(resp, data, invalid=False)
        resp, data = w.request(method, path, body, raw=True, auth=False,
                               headers={"Authorization": "Bearer " + WRONG})
        self.assertUnauthorized(resp, data, invalid=True)
        resp, data = w.request(method, path, body, raw=True)
        self.assertNoSecret(data.decode(errors="replace"), TOKEN, WRONG)
        return resp, data

    def test_every_protected_route_needs_the_token(self):
        w = self.worker
        job = make_job(cmd=["sh", "-c", "echo out; sleep 30"])
        path = "/jobs/" + urlquote(job["job_id"])
        resp, data = self.three_ways("POST", "/jobs", job)
        self.assertEqual(resp.status, 202, data)
        # The refused submissions created nothing: the third was the first.
        w.wait_for(job["job_id"], states=("running",), timeout=30)
        deadline = time.time() + 10
        while w.job(job["job_id"])[1]["stdout"] != "out\n" and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.three_ways("GET", path)[0].status, 200)
        self.assertEqual(self.three_ways("GET", "/jobs")[0].status, 200)
        self.assertEqual(self.three_ways("GET", "/info")[0].status, 200)
        self.assertEqual(self.three_ways("GET", "/metrics")[0].status, 200)
        # Unknown paths and wrong methods answer 401 too without the token.
        self.assertEqual(self.three_ways("GET", "/nope")[0].status, 404)
        self.assertEqual(self.three_ways("PUT", "/jobs", {})[0].status, 405)
        resp, data = self.three_ways("DELETE", path)
        self.assertEqual(resp.status, 202, data)
        done = w.wait_for(job["job_id"], timeout=30)
        self.assertEqual(done["error"]["code"], "CANCELLED", done)
        resp, data = self.three_ways("GET", path + "/output")
        self.assertEqual((resp.status, data), (200, b"out\n"))

    def test_header_spellings_and_query_strings(self):
        w = self.worker
        for value in ("bearer " + TOKEN, "BEARER   " + TOKEN, "Bearer\t" + TOKEN):
            status, _ = w.request("GET", "/info", auth=False, headers={"Authorization": value})
            self.assertEqual(status, 200, value)
        for value in (TOKEN, "Basic " + TOKEN, "Bearer " + TOKEN + " x", "Bearer " + TOKEN[:-1]):
            resp, data = w.request("GET", "/info", raw=True, auth=False,
                                   headers={"Authorization": value})
            self.assertUnauthorized(resp, data, invalid=True)
        for query in ("access_token", "token", "auth_token"):
            resp, data = w.request("GET", "/info?%s=%s" % (query, TOKEN), raw=True, auth=False)
            self.assertUnauthorized(resp, data, invalid=False)

    def test_health_and_preflight_stay_open(self):
        w = self.worker
        status, health = w.request("GET", "/health", auth=False)
        self.assertEqual(status, 200)
        self.assertEqual(health["status"], "ok")
        resp, _ = w.request("OPTIONS", "/jobs", raw=True, auth=False,
                            headers={"Origin": "http://dash.example",
                                     "Access-Control-Request-Method": "POST",
                                     "Access-Control-Request-Headers": "authorization, content-type"})
        self.assertEqual(resp.status, 204)
        self.assertIn("Authorization", resp.getheader("Access-Control-Allow-Headers"))
        self.assertIn("POST", resp.getheader("Access-Control-Allow-Methods"))

    def test_401s_are_counted_and_the_token_is_never_shown(self):
        w = self.worker
        for _ in range(3):
            w.request("GET", "/info", auth=False)
        w.request("GET", "/info?access_token=" + TOKEN, auth=False)
        w.request("GET", "/info", auth=False, headers={"Authorization": "Bearer " + WRONG})
        resp, metrics = w.request("GET", "/metrics", raw=True)
        text = metrics.decode()
        counts = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                  if line.startswith("worker_agent_http_requests_total{")
                  and 'route="/info"' in line and 'status="401"' in line]
        self.assertTrue(counts, text)
        self.assertGreaterEqual(sum(counts), 5)
        answers = [text]
        for path in ("/info", "/health", "/jobs"):
            answers.append(w.request("GET", path, raw=True)[1].decode())
        for answer in answers:
            self.assertNoSecret(answer, TOKEN, WRONG)
        # Every request so far, rejected or not, is in the debug log by its path only.
        w.wait_log(r"^debug http: GET /info -> 401")
        self.assertNoSecret(w.log(), TOKEN, WRONG)
        self.assertIn("auth=bearer", w.log())


class HealthClosed(AuthAssertions):
    def test_health_needs_the_token_when_not_listed(self):
        check_image()
        w = Worker({"auth_token": TOKEN, "auth_open_paths": []}, token=TOKEN)
        try:
            resp, data = w.request("GET", "/health", raw=True, auth=False)
            self.assertUnauthorized(resp, data, invalid=False)
            self.assertEqual(w.request("GET", "/health")[0], 200)
        finally:
            w.close()

    def test_info_may_be_opened_for_the_dashboard(self):
        check_image()
        w = Worker({"auth_token": TOKEN, "auth_open_paths": ["/health", "/info"]}, token=TOKEN)
        try:
            self.assertEqual(w.request("GET", "/info", auth=False)[0], 200)
            self.assertEqual(w.request("GET", "/health", auth=False)[0], 200)
            self.assertEqual(w.request("GET", "/metrics", auth=False)[0], 401)
            self.assertEqual(w.request("GET", "/jobs", auth=False)[0], 401)
        finally:
            w.close()


class Reload(AuthAssertions):
    def setUp(self):
        check_image()
        self.dir = tempfile.TemporaryDirectory(prefix="wa-auth-")
        worker_owns(self.dir.name)
        self.token_path = os.path.join(self.dir.name, "token")
        self.worker = Worker({"auth_token": TOKEN}, token=TOKEN)

    def tearDown(self):
        self.worker.close()
        self.dir.cleanup()

    def hup(self, cfg, expect):
        w = self.worker
        w.write_config(cfg)
        start = len(w.log_lines)
        w.send_signal(signal.SIGHUP)
        return w.wait_log(expect, start=start)

    def status_with(self, token):
        return self.worker.request("GET", "/info", auth=False,
                                   headers={"Authorization": "Bearer " + token})[0]

    def test_sighup_applies_a_new_token(self):
        w = self.worker
        self.assertEqual(self.status_with(TOKEN), 200)
        # Open connections see the new token on their next request, too.
        conn = w.connection()
        conn.request("GET", "/info", headers={"Authorization": "Bearer " + TOKEN})
        resp = conn.getresponse()
        resp.read()
        self.assertEqual(resp.status, 200)

        cfg = dict(w.config)
        cfg["auth_token"] = OTHER
        line = self.hup(cfg, r"configuration reloaded")
        self.assertIn("applied=auth_token", line)
        self.assertEqual(self.status_with(TOKEN), 401)
        self.assertEqual(self.status_with(OTHER), 200)
        conn.request("GET", "/info", headers={"Authorization": "Bearer " + TOKEN})
        resp = conn.getresponse()
        resp.read()
        self.assertEqual(resp.status, 401)
        conn.close()

        # From a token file instead; a trailing newline is not part of the token.
        with open(self.token_path, "w") as f:
            f.write(TOKEN + "\n")
        cfg["auth_token"] = ""
        cfg["auth_token_file"] = self.token_path
        self.hup(cfg, r"configuration reloaded")
        self.assertEqual(self.status_with(OTHER), 401)
        self.assertEqual(self.status_with(TOKEN), 200)

        # A bad file fails the reload and keeps the token in force, without quoting it.
        with open(self.token_path, "w") as f:
            f.write("short-" + OTHER[:5] + "\n")
        line = self.hup(cfg, r"reload failed; keeping the running configuration")
        self.assertIn("auth_token_file", line)
        self.assertNotIn(OTHER[:5], line)
        self.assertEqual(self.status_with(TOKEN), 200)

        # Off again.
        cfg["auth_token_file"] = ""
        self.hup(cfg, r"authentication off")
        self.assertEqual(w.request("GET", "/jobs", auth=False)[0], 200)
        self.assertNoSecret(w.log(), TOKEN, OTHER)

    def test_token_from_the_environment_file(self):
        with open(self.token_path, "w") as f:
            f.write(OTHER + "\n")
        os.chmod(self.token_path, 0o600)
        worker_owns(self.token_path)
        check_image()
        w = Worker({}, env={"WORKER_AGENT_AUTH_TOKEN_FILE": self.token_path}, token=OTHER)
        try:
            self.assertEqual(w.request("GET", "/jobs", auth=False)[0], 401)
            self.assertEqual(w.request("GET", "/jobs")[0], 200)
            self.assertNoSecret(w.log(), OTHER)
        finally:
            w.close()


class UnixSocket(AuthAssertions):
    def setUp(self):
        check_image()
        self.dir = tempfile.TemporaryDirectory(prefix="wa-unix-")
        worker_owns(self.dir.name)  # the worker makes its socket there
        self.path = os.path.join(self.dir.name, "api.sock")

    def tearDown(self):
        self.dir.cleanup()

    def over_unix(self, worker, method, path, body=None, **kw):
        return worker.request(method, path, body, conn=UnixHTTPConnection(self.path), **kw)

    def test_the_socket_serves_the_same_api_and_goes_at_exit(self):
        w = Worker({"listen_unix": self.path, "auth_token": TOKEN}, token=TOKEN)
        try:
            st = os.lstat(self.path)
            self.assertTrue(stat.S_ISSOCK(st.st_mode))
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)
            self.assertIn("and on unix socket " + self.path, w.log())

            job = make_job(cmd=["echo", "over the unix socket"])
            resp, data = self.over_unix(w, "POST", "/jobs", job, raw=True, auth=False)
            self.assertUnauthorized(resp, data, invalid=False)
            status, body = self.over_unix(w, "POST", "/jobs", job)
            self.assertEqual((status, body["state"]), (202, "queued"), body)
            deadline = time.time() + 30
            while time.time() < deadline:
                status, record = self.over_unix(w, "GET", "/jobs/" + urlquote(job["job_id"]))
                if record["state"] in ("finished", "failed"):
                    break
                time.sleep(0.05)
            self.assertEqual((status, record["state"], record["stdout"]),
                             (200, "finished", "over the unix socket\n"), record)
            # The same job over TCP: one API, one store.
            self.assertEqual(w.job(job["job_id"])[1]["stdout"], "over the unix socket\n")
            status, health = self.over_unix(w, "GET", "/health", auth=False)
            self.assertEqual((status, health["status"]), (200, "ok"))
        finally:
            self.assertEqual(w.close(), 0)
        self.assertFalse(os.path.exists(self.path), "the socket outlived the worker")

    def test_a_stale_socket_is_replaced(self):
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(self.path)
        stale.close()  # the file stays; nobody answers on it
        worker_owns(self.path)  # connecting to it takes write permission
        w = Worker({"listen_unix": self.path})
        try:
            self.assertIn("removed a stale socket", w.log())
            self.assertEqual(self.over_unix(w, "GET", "/info")[0], 200)
        finally:
            w.close()
        self.assertFalse(os.path.exists(self.path))

    def run_expecting_failure(self, cfg):
        config_path = os.path.join(self.dir.name, "worker-agent.yaml")
        with open(config_path, "w") as f:
            for k, v in cfg.items():
                f.write("%s: %s\n" % (k, json.dumps(v)))
        proc = subprocess.run([BIN, "--config", config_path], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=30)
        return proc.returncode, proc.stderr.decode(errors="replace")

    def test_a_socket_someone_answers_on_is_left_alone(self):
        live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        live.bind(self.path)
        live.listen(1)
        worker_owns(self.path)
        try:
            code, err = self.run_expecting_failure(
                {"listen": "127.0.0.1", "port": 0, "listen_unix": self.path,
                 "pull_policy": "never", "jobs_path": tempfile.gettempdir(),
                 "journal_path": os.path.join(self.dir.name, "journal.sqlite")})
            self.assertEqual(code, 1, err)
            self.assertIn("another process is listening on it", err)
            self.assertTrue(stat.S_ISSOCK(os.lstat(self.path).st_mode))
        finally:
            live.close()

    def test_a_bad_token_file_stops_start_up_without_quoting_it(self):
        token_path = os.path.join(self.dir.name, "token")
        with open(token_path, "w") as f:
            f.write("secret marker\n")
        code, err = self.run_expecting_failure({"listen": "127.0.0.1", "port": 0,
                                                "auth_token_file": token_path})
        self.assertEqual(code, 1, err)
        self.assertIn("auth_token_file", err)
        self.assertNotIn("secret", err)
        code, err = self.run_expecting_failure({"listen": "127.0.0.1", "port": 0,
                                                "auth_token": "secret-but-short"[:15]})
        self.assertEqual(code, 1, err)
        self.assertIn("must be 16 to 4096 bytes, got 15", err)
        self.assertNotIn("secret", err)


if __name__ == "__main__":
    unittest.main()
