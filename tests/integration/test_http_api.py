"""The HTTP surface: errors, limits, CORS, keep-alive and pipelining, /info and /health."""

import json
import os
import socket
import unittest

from harness import IMAGE, WorkerTestCase, make_job, scaled


class HttpApi(WorkerTestCase):
    config = {"labels": ["gpu", "test"], "allowed_images": [IMAGE, "tools:*"]}

    def test_info_has_every_protocol_field(self):
        status, info = self.worker.request("GET", "/info")
        self.assertEqual(status, 200)
        for field in ("worker_id", "hostname", "protocol_version", "cpu_cores", "cpu_threads",
                      "memory_mb", "labels", "os", "os_architecture", "cpu_model", "machine",
                      "version", "runtime_modes", "allowed_images", "docker"):
            self.assertIn(field, info)
        # The reference worker's names (Node's process.arch) and the kernel's, side by side.
        node_names = {"x86_64": "x64", "aarch64": "arm64"}
        self.assertEqual(info["machine"], os.uname().machine)
        if info["machine"] in node_names:
            self.assertEqual(info["os_architecture"], node_names[info["machine"]])
        self.assertEqual(info["worker_id"], self.worker.worker_id)
        self.assertEqual(info["protocol_version"], 1)
        self.assertEqual(info["labels"], ["gpu", "test"])
        self.assertGreater(info["cpu_threads"], 0)
        self.assertGreater(info["memory_mb"], 0)
        self.assertEqual(info["runtime_modes"], ["image"])
        self.assertTrue(info["docker"]["server_version"])
        self.assertTrue(info["docker"]["api_version"])

    def test_health_has_v1_and_v2_fields(self):
        status, health = self.worker.request("GET", "/health")
        self.assertEqual(status, 200)
        self.assertEqual(health["status"], "ok")
        for field in ("uptime_seconds", "load_average", "running_jobs", "max_concurrent_jobs",
                      "temperature_c", "health_protocol_version", "timestamp_unix_ms", "cpu_threads",
                      "dedicated_reserved_cpu_ids", "dedicated_reserved_count", "memory_total_mb",
                      "memory_available_mb", "jobs_path", "jobs_disk_total_mb",
                      "jobs_disk_available_mb", "docker_root_dir", "docker_disk_total_mb",
                      "docker_disk_available_mb", "queued_jobs"):
            self.assertIn(field, health)
        self.assertEqual(health["health_protocol_version"], 2)
        self.assertEqual(len(health["load_average"]), 3)
        self.assertGreater(health["memory_total_mb"], 0)
        self.assertGreater(health["jobs_disk_total_mb"], 0)
        self.assertTrue(health["docker"]["reachable"])

    def test_cors_on_every_response_and_preflight(self):
        for method, path in (("GET", "/health"), ("GET", "/info"), ("GET", "/nope")):
            resp, _ = self.worker.request(method, path, raw=True)
            self.assertEqual(resp.getheader("Access-Control-Allow-Origin"), "*", path)
        resp, _ = self.worker.request("OPTIONS", "/jobs", raw=True,
                                      headers={"Origin": "http://dash.example",
                                               "Access-Control-Request-Method": "POST"})
        self.assertEqual(resp.status, 204)
        self.assertIn("POST", resp.getheader("Access-Control-Allow-Methods"))
        self.assertEqual(resp.getheader("Access-Control-Allow-Origin"), "*")

    def test_unknown_path_and_wrong_method(self):
        status, body = self.worker.request("GET", "/nope")
        self.assertEqual(status, 404)
        self.assertEqual(body["error"]["code"], "NOT_FOUND")
        resp, data = self.worker.request("PUT", "/jobs", body="{}", raw=True)
        self.assertEqual(resp.status, 405)
        self.assertEqual(set(a.strip() for a in resp.getheader("Allow").split(",")), {"POST", "GET"})
        self.assertEqual(json.loads(data)["error"]["code"], "METHOD_NOT_ALLOWED")

    def test_unknown_job(self):
        status, body = self.worker.request("GET", "/jobs/does%20not%20exist")
        self.assertEqual((status, body), (404, {"job_id": "does not exist", "state": "not_found"}))

    def test_malformed_json_is_invalid_body(self):
        status, body = self.worker.request("POST", "/jobs", "{not json")
        self.assertEqual(status, 400)
        self.assertEqual(body["accepted"], False)
        self.assertEqual(body["state"], "rejected")
        self.assertEqual(body["error"]["code"], "INVALID_BODY")

    def test_rejections_name_the_field(self):
        cases = [
            ({"protocol_version": 2, "job_id": "v"}, 400, "UNSUPPORTED_PROTOCOL_VERSION"),
            (make_job(image="evil:1"), 400, "IMAGE_NOT_ALLOWED"),
            (make_job(cmd="ls"), 400, "INVALID_CMD"),
            (make_job(limits={"memory_mb": 10 ** 7}), 400, "LIMIT_EXCEEDED"),
        ]
        for job, status, code in cases:
            got_status, body = self.worker.submit(job)
            self.assertEqual((got_status, body["error"]["code"]), (status, code), body)
            self.assertEqual(body["state"], "rejected")
            self.assertEqual(body["job_id"], job["job_id"])
            # A rejected job is not stored.
            self.assertEqual(self.worker.job(job["job_id"])[0], 404)

    def test_duplicate_job_id_is_409(self):
        job = make_job(cmd=["true"])
        self.assertEqual(self.worker.submit(job)[0], 202)
        status, body = self.worker.submit(job)
        self.assertEqual(status, 409)
        self.assertEqual(body["error"]["code"], "JOB_ID_ALREADY_EXISTS")
        self.worker.wait_for(job["job_id"])

    def test_wrong_content_type_is_415(self):
        status, body = self.worker.request("POST", "/jobs", json.dumps(make_job()),
                                           headers={"Content-Type": "text/plain"})
        self.assertEqual(status, 415)
        self.assertEqual(body["error"]["code"], "UNSUPPORTED_MEDIA_TYPE")

    def test_twenty_megabyte_body_is_413(self):
        sock = socket.create_connection(("127.0.0.1", self.worker.port), timeout=scaled(10))
        try:
            sock.sendall(b"POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 20971520\r\n\r\n")
            sock.sendall(b"x" * 65536)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
            self.assertTrue(data.startswith(b"HTTP/1.1 413"), data[:100])
        finally:
            sock.close()
        self.assertEqual(self.worker.request("GET", "/health")[0], 200)  # still serving

    def test_keep_alive_and_pipelining(self):
        sock = socket.create_connection(("127.0.0.1", self.worker.port), timeout=scaled(10))
        try:
            sock.sendall(b"GET /jobs/a HTTP/1.1\r\nHost: x\r\n\r\n"
                         b"GET /info HTTP/1.1\r\nHost: x\r\n\r\n"
                         b"GET /jobs/b HTTP/1.1\r\nHost: x\r\n\r\n")
            reader = sock.makefile("rb")
            bodies = []
            for _ in range(3):
                status = reader.readline()
                headers = {}
                while True:
                    line = reader.readline().strip()
                    if not line:
                        break
                    k, v = line.decode().split(":", 1)
                    headers[k.lower()] = v.strip()
                bodies.append((status.split()[1], json.loads(reader.read(int(headers["content-length"])))))
            self.assertEqual(bodies[0], (b"404", {"job_id": "a", "state": "not_found"}))
            self.assertEqual(bodies[1][0], b"200")
            self.assertIn("worker_id", bodies[1][1])
            self.assertEqual(bodies[2], (b"404", {"job_id": "b", "state": "not_found"}))
        finally:
            sock.close()

    def test_malformed_request_line_is_400_and_worker_lives_on(self):
        sock = socket.create_connection(("127.0.0.1", self.worker.port), timeout=scaled(10))
        try:
            sock.sendall(b"NOT A REQUEST\r\n\r\n")
            data = sock.recv(4096)
            self.assertTrue(data.startswith(b"HTTP/1.1 400"), data)
        finally:
            sock.close()
        self.assertEqual(self.worker.request("GET", "/health")[0], 200)

    def test_list_jobs_filters(self):
        status, body = self.worker.request("GET", "/jobs?state=bogus")
        self.assertEqual(status, 400)
        self.assertEqual(body["error"]["code"], "INVALID_QUERY")
        status, body = self.worker.request("GET", "/jobs?state=queued&limit=5")
        self.assertEqual(status, 200)
        self.assertIsInstance(body["jobs"], list)


if __name__ == "__main__":
    unittest.main()
