"""Hostile and malformed requests, raw on the socket: each gets its documented 4xx (or a
clean close) and the worker keeps serving. A table of well over 100 cases."""

import json
import socket
import unittest

from harness import IMAGE, WorkerTestCase, make_job, scaled


def job_body(**overrides):
    job = make_job(job_id="adv", cmd=["true"])
    job.update(overrides)
    return json.dumps(job)


def post(body, extra_headers=b"", content_type=b"application/json"):
    if isinstance(body, str):
        body = body.encode()
    return (b"POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: " + content_type + b"\r\n" + extra_headers +
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def runtime(**fields):
    rt = {"mode": "image", "image": IMAGE}
    rt.update(fields)
    return rt


# (name, raw request bytes, expected status, expected error code or None)
CASES = [
    # Request line and framing.
    ("garbage", b"\x00\x01\x02\x03\r\n\r\n", 400, "BAD_REQUEST"),
    ("no version", b"GET /health\r\n\r\n", 400, "BAD_REQUEST"),
    ("http 2.0 line", b"GET /health HTTP/2.0\r\n\r\n", 400, "BAD_REQUEST"),
    ("http 9.9", b"GET /health HTTP/9.9\r\n\r\n", 400, "BAD_REQUEST"),
    ("lowercase method", b"get /health HTTP/1.1\r\n\r\n", 400, "BAD_REQUEST"),
    ("bare LF", b"GET /health HTTP/1.1\nHost: x\n\n", 400, "BAD_REQUEST"),
    ("space in header name", b"GET /health HTTP/1.1\r\nBad Name: x\r\n\r\n", 400, "BAD_REQUEST"),
    ("space before colon", b"GET /health HTTP/1.1\r\nHost : x\r\n\r\n", 400, "BAD_REQUEST"),
    ("header without colon", b"GET /health HTTP/1.1\r\nNoColon\r\n\r\n", 400, "BAD_REQUEST"),
    # Obsolete line folding is read as one value, which RFC 9112 allows a server to do.
    ("obs-fold", b"GET /health HTTP/1.1\r\nX: a\r\n  folded\r\n\r\n", 200, None),
    ("NUL in header value", b"GET /health HTTP/1.1\r\nX: a\x00b\r\n\r\n", 400, "BAD_REQUEST"),
    ("CL and TE", b"POST /jobs HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     400, "BAD_REQUEST"),
    ("TE and CL", b"POST /jobs HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
     400, "BAD_REQUEST"),
    ("two content lengths", b"POST /jobs HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
     400, "BAD_REQUEST"),
    ("negative content length", b"POST /jobs HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, "BAD_REQUEST"),
    ("non-numeric content length", b"POST /jobs HTTP/1.1\r\nContent-Length: ten\r\n\r\n", 400, "BAD_REQUEST"),
    ("huge content length", b"POST /jobs HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
     400, "BAD_REQUEST"),
    ("content length over limit", b"POST /jobs HTTP/1.1\r\nContent-Length: 9000000\r\n\r\n", 413,
     "PAYLOAD_TOO_LARGE"),
    ("unknown transfer coding", b"POST /jobs HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400, "BAD_REQUEST"),
    ("chunked then identity", b"POST /jobs HTTP/1.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
     400, "BAD_REQUEST"),
    ("bad chunk size", b"POST /jobs HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "BAD_REQUEST"),
    ("huge chunk size", b"POST /jobs HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
     400, "BAD_REQUEST"),
    ("chunk over limit", b"POST /jobs HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n900000\r\n", 413,
     "PAYLOAD_TOO_LARGE"),
    ("header too large", b"GET /health HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n", 431, "HEADERS_TOO_LARGE"),
    ("too many headers", b"GET /health HTTP/1.1\r\n" + b"X-A: b\r\n" * 3000 + b"\r\n", 431, "HEADERS_TOO_LARGE"),
    ("path too long", b"GET /jobs/" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n", 431, "HEADERS_TOO_LARGE"),
    ("bad percent escape", b"GET /jobs/%zz HTTP/1.1\r\n\r\n", 400, "BAD_REQUEST"),
    ("percent NUL in id", b"GET /jobs/a%00b HTTP/1.1\r\n\r\n", 400, "BAD_REQUEST"),
    ("truncated escape", b"GET /jobs/abc% HTTP/1.1\r\n\r\n", 400, "BAD_REQUEST"),
    ("absolute-form target", b"GET http://evil.example/health HTTP/1.1\r\n\r\n", 404, "NOT_FOUND"),
    ("asterisk target", b"OPTIONS * HTTP/1.1\r\n\r\n", 404, "NOT_FOUND"),
    ("dot segments", b"GET /jobs/../health HTTP/1.1\r\n\r\n", 404, "NOT_FOUND"),
    ("double slash", b"GET //health HTTP/1.1\r\n\r\n", 404, "NOT_FOUND"),
    ("trailing slash", b"GET /health/ HTTP/1.1\r\n\r\n", 404, "NOT_FOUND"),
    ("unknown path", b"GET /admin HTTP/1.1\r\n\r\n", 404, "NOT_FOUND"),
    ("wrong method on health", b"POST /health HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405, "METHOD_NOT_ALLOWED"),
    ("PUT jobs", b"PUT /jobs HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405, "METHOD_NOT_ALLOWED"),
    ("PATCH job", b"PATCH /jobs/x HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405, "METHOD_NOT_ALLOWED"),
    ("TRACE", b"TRACE /health HTTP/1.1\r\n\r\n", 405, "METHOD_NOT_ALLOWED"),
    ("query on list", b"GET /jobs?state=%ZZ HTTP/1.1\r\n\r\n", 400, "INVALID_QUERY"),
    ("limit zero", b"GET /jobs?limit=0 HTTP/1.1\r\n\r\n", 400, "INVALID_QUERY"),
    ("limit huge", b"GET /jobs?limit=99999999999999999999 HTTP/1.1\r\n\r\n", 400, "INVALID_QUERY"),
    ("limit negative", b"GET /jobs?limit=-5 HTTP/1.1\r\n\r\n", 400, "INVALID_QUERY"),
    ("unknown query key", b"GET /jobs?evil=1 HTTP/1.1\r\n\r\n", 400, "INVALID_QUERY"),
    # Media type.
    ("text/plain", post(job_body(), content_type=b"text/plain"), 415, "UNSUPPORTED_MEDIA_TYPE"),
    ("form", post(job_body(), content_type=b"application/x-www-form-urlencoded"), 415, "UNSUPPORTED_MEDIA_TYPE"),
    # Bodies that are not a job.
    ("empty body", post(""), 400, "INVALID_BODY"),
    ("whitespace body", post("   \n "), 400, "INVALID_BODY"),
    ("null", post("null"), 400, "INVALID_BODY"),
    ("number", post("42"), 400, "INVALID_BODY"),
    ("string", post('"job"'), 400, "INVALID_BODY"),
    ("array", post("[]"), 400, "INVALID_BODY"),
    ("truncated object", post('{"protocol_version": 1'), 400, "INVALID_BODY"),
    ("trailing garbage", post(job_body() + "xyz"), 400, "INVALID_BODY"),
    ("two objects", post(job_body() + job_body()), 400, "INVALID_BODY"),
    ("single quotes", post("{'protocol_version': 1}"), 400, "INVALID_BODY"),
    ("comments", post('{/* c */"protocol_version": 1}'), 400, "INVALID_BODY"),
    ("NaN", post('{"protocol_version": NaN}'), 400, "INVALID_BODY"),
    ("invalid utf-8 in string", post(b'{"protocol_version":1,"job_id":"\xff\xfe"}'), 400, "INVALID_BODY"),
    ("lone surrogate escape", post('{"protocol_version":1,"job_id":"\\ud800"}'), 400, "INVALID_BODY"),
    ("utf-8 BOM", post(b"\xef\xbb\xbf" + job_body().encode()), 400, "INVALID_BODY"),
    ("deep nesting", post('{"protocol_version":1,"job_id":"d","task":' + "[" * 50000 + "]" * 50000 + "}"),
     400, "INVALID_TASK"),
    ("deep nesting unbalanced", post("[" * 100000), 400, "INVALID_BODY"),
    ("huge number", post('{"protocol_version": 1e999}'), 400, "INVALID_BODY"),
    # protocol_version.
    ("version missing", post(json.dumps({"job_id": "a"})), 400, "UNSUPPORTED_PROTOCOL_VERSION"),
    ("version 0", post(job_body(protocol_version=0)), 400, "UNSUPPORTED_PROTOCOL_VERSION"),
    ("version 2", post(job_body(protocol_version=2)), 400, "UNSUPPORTED_PROTOCOL_VERSION"),
    ("version 1.5", post(job_body(protocol_version=1.5)), 400, "UNSUPPORTED_PROTOCOL_VERSION"),
    ("version string", post(job_body(protocol_version="1")), 400, "UNSUPPORTED_PROTOCOL_VERSION"),
    ("version true", post(job_body(protocol_version=True)), 400, "UNSUPPORTED_PROTOCOL_VERSION"),
    ("version null", post(job_body(protocol_version=None)), 400, "UNSUPPORTED_PROTOCOL_VERSION"),
    ("version huge", post(job_body(protocol_version=10 ** 30)), 400, "UNSUPPORTED_PROTOCOL_VERSION"),
    ("version negative", post(job_body(protocol_version=-1)), 400, "UNSUPPORTED_PROTOCOL_VERSION"),
    # job_id.
    ("job_id missing", post(json.dumps({"protocol_version": 1})), 400, "MISSING_JOB_ID"),
    ("job_id null", post(job_body(job_id=None)), 400, "MISSING_JOB_ID"),
    ("job_id empty", post(job_body(job_id="")), 400, "MISSING_JOB_ID"),
    ("job_id number", post(job_body(job_id=12)), 400, "MISSING_JOB_ID"),
    ("job_id object", post(job_body(job_id={"a": 1})), 400, "MISSING_JOB_ID"),
    ("job_id array", post(job_body(job_id=["a"])), 400, "MISSING_JOB_ID"),
    ("job_id 257 bytes", post(job_body(job_id="a" * 257)), 400, "INVALID_JOB_ID"),
    ("job_id 2 KB", post(job_body(job_id="b" * 2048)), 400, "INVALID_JOB_ID"),
    ("job_id NUL", post(job_body(job_id="a\u0000b")), 400, "INVALID_JOB_ID"),
    ("job_id newline", post(job_body(job_id="a\nb")), 400, "INVALID_JOB_ID"),
    ("job_id CR", post(job_body(job_id="a\rb")), 400, "INVALID_JOB_ID"),
    ("job_id tab", post(job_body(job_id="a\tb")), 400, "INVALID_JOB_ID"),
    ("job_id DEL", post(job_body(job_id="a\u007fb")), 400, "INVALID_JOB_ID"),
    ("job_id ESC", post(job_body(job_id="\u001b[31m")), 400, "INVALID_JOB_ID"),
    # task.
    ("task missing", post(json.dumps({"protocol_version": 1, "job_id": "t"})), 400, "MISSING_TASK"),
    ("task null", post(job_body(task=None)), 400, "MISSING_TASK"),
    ("task string", post(job_body(task="run")), 400, "INVALID_TASK"),
    ("task array", post(job_body(task=[])), 400, "INVALID_TASK"),
    ("task no type", post(job_body(task={"payload": {}})), 400, "INVALID_TASK"),
    ("task type empty", post(job_body(task={"type": ""})), 400, "INVALID_TASK"),
    ("task type number", post(job_body(task={"type": 3})), 400, "INVALID_TASK"),
    # runtime.
    ("runtime missing", post(json.dumps({"protocol_version": 1, "job_id": "r", "task": {"type": "t"}})),
     400, "MISSING_RUNTIME"),
    ("runtime null", post(job_body(runtime=None)), 400, "MISSING_RUNTIME"),
    ("runtime string", post(job_body(runtime="docker")), 400, "MISSING_RUNTIME"),
    ("mode missing", post(job_body(runtime={"image": IMAGE})), 400, "BAD_RUNTIME_MODE"),
    ("mode number", post(job_body(runtime=runtime(mode=1))), 400, "BAD_RUNTIME_MODE"),
    ("mode vm", post(job_body(runtime=runtime(mode="vm"))), 400, "BAD_RUNTIME_MODE"),
    ("mode uppercase", post(job_body(runtime=runtime(mode="IMAGE"))), 400, "BAD_RUNTIME_MODE"),
    ("mode build", post(job_body(runtime=runtime(mode="build"))), 400, "RUNTIME_NOT_SUPPORTED"),
    ("image missing", post(job_body(runtime={"mode": "image"})), 400, "MISSING_IMAGE"),
    ("image empty", post(job_body(runtime=runtime(image=""))), 400, "MISSING_IMAGE"),
    ("image number", post(job_body(runtime=runtime(image=5))), 400, "MISSING_IMAGE"),
    ("image with space", post(job_body(runtime=runtime(image="a b"))), 400, "MISSING_IMAGE"),
    ("image with newline", post(job_body(runtime=runtime(image="a\nb"))), 400, "MISSING_IMAGE"),
    ("image not allowed", post(job_body(runtime=runtime(image="alpine:latest"))), 400, "IMAGE_NOT_ALLOWED"),
    ("image other tag", post(job_body(runtime=runtime(image=IMAGE.split(":")[0] + ":2"))), 400,
     "IMAGE_NOT_ALLOWED"),
    ("image by digest", post(job_body(runtime=runtime(image=IMAGE.split(":")[0] + "@sha256:" + "0" * 64))),
     400, "IMAGE_NOT_ALLOWED"),
    ("image other registry", post(job_body(runtime=runtime(image="127.0.0.1:5000/" + IMAGE))), 400,
     "IMAGE_NOT_ALLOWED"),
    ("image lookalike registry", post(job_body(runtime=runtime(image="docker.io.evil.example/library/" + IMAGE))),
     400, "IMAGE_NOT_ALLOWED"),
    ("image id instead of a name", post(job_body(runtime=runtime(image="sha256:" + "0" * 64))), 400,
     "MISSING_IMAGE"),
    # cmd.
    ("cmd string", post(job_body(runtime=runtime(cmd="rm -rf /"))), 400, "INVALID_CMD"),
    ("cmd object", post(job_body(runtime=runtime(cmd={"a": 1}))), 400, "INVALID_CMD"),
    ("cmd number item", post(job_body(runtime=runtime(cmd=["echo", 1]))), 400, "INVALID_CMD"),
    ("cmd null item", post(job_body(runtime=runtime(cmd=["echo", None]))), 400, "INVALID_CMD"),
    ("cmd nested", post(job_body(runtime=runtime(cmd=[["echo"]]))), 400, "INVALID_CMD"),
    ("cmd NUL", post(job_body(runtime=runtime(cmd=["echo", "a\u0000b"]))), 400, "INVALID_CMD"),
    # env.
    ("env array", post(job_body(runtime=runtime(env=["A=1"]))), 400, "INVALID_ENV"),
    ("env string", post(job_body(runtime=runtime(env="A=1"))), 400, "INVALID_ENV"),
    ("env null value", post(job_body(runtime=runtime(env={"A": None}))), 400, "INVALID_ENV"),
    ("env object value", post(job_body(runtime=runtime(env={"A": {"b": 1}}))), 400, "INVALID_ENV"),
    ("env array value", post(job_body(runtime=runtime(env={"A": [1]}))), 400, "INVALID_ENV"),
    ("env empty key", post(job_body(runtime=runtime(env={"": "x"}))), 400, "INVALID_ENV"),
    ("env key with =", post(job_body(runtime=runtime(env={"A=B": "x"}))), 400, "INVALID_ENV"),
    ("env NUL value", post(job_body(runtime=runtime(env={"A": "x\u0000y"}))), 400, "INVALID_ENV"),
    ("env duplicate key", post('{"protocol_version":1,"job_id":"e","task":{"type":"t"},"runtime":'
                               '{"mode":"image","image":"%s","env":{"A":"1","A":"2"}}}' % IMAGE), 400,
     "INVALID_ENV"),
    # limits.
    ("limits string", post(job_body(runtime=runtime(limits="big"))), 400, "INVALID_LIMITS"),
    ("limits array", post(job_body(runtime=runtime(limits=[1]))), 400, "INVALID_LIMITS"),
    ("memory string", post(job_body(runtime=runtime(limits={"memory_mb": "512"}))), 400, "INVALID_LIMITS"),
    ("memory zero", post(job_body(runtime=runtime(limits={"memory_mb": 0}))), 400, "INVALID_LIMITS"),
    ("memory negative", post(job_body(runtime=runtime(limits={"memory_mb": -1}))), 400, "INVALID_LIMITS"),
    ("memory fraction", post(job_body(runtime=runtime(limits={"memory_mb": 64.5}))), 400, "INVALID_LIMITS"),
    ("memory 5", post(job_body(runtime=runtime(limits={"memory_mb": 5}))), 400, "INVALID_LIMITS"),
    ("memory huge", post(job_body(runtime=runtime(limits={"memory_mb": 10 ** 18}))), 400, "LIMIT_EXCEEDED"),
    ("memory 1e30", post('{"protocol_version":1,"job_id":"m","task":{"type":"t"},"runtime":{"mode":"image",'
                         '"image":"%s","limits":{"memory_mb":1e30}}}' % IMAGE), 400, "INVALID_LIMITS"),
    ("runtime zero", post(job_body(runtime=runtime(limits={"max_runtime_seconds": 0}))), 400, "INVALID_LIMITS"),
    ("runtime bool", post(job_body(runtime=runtime(limits={"max_runtime_seconds": True}))), 400,
     "INVALID_LIMITS"),
    ("runtime over ceiling", post(job_body(runtime=runtime(limits={"max_runtime_seconds": 10 ** 9}))), 400,
     "LIMIT_EXCEEDED"),
    # Duplicate keys at the top level: parsers disagree about which wins.
    ("duplicate job_id key", post('{"protocol_version":1,"job_id":"a","job_id":"b","task":{"type":"t"},'
                                  '"runtime":{"mode":"image","image":"%s"}}' % IMAGE), 400, "INVALID_BODY"),
    ("duplicate image key", post('{"protocol_version":1,"job_id":"a","task":{"type":"t"},"runtime":{"mode":'
                                 '"image","image":"%s","image":"alpine:latest"}}' % IMAGE), 400, None),
]


class Adversarial(WorkerTestCase):
    config = {"allowed_images": [IMAGE], "max_runtime_seconds": 3600, "max_memory_mb": 4096}

    def exchange(self, raw):
        sock = socket.create_connection(("127.0.0.1", self.worker.port), timeout=scaled(10))
        try:
            sock.sendall(raw)
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            data = b""
            while True:
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                data += chunk
            return data
        finally:
            sock.close()

    def test_table(self):
        self.assertGreaterEqual(len(CASES), 100)
        for name, raw, status, code in CASES:
            with self.subTest(name):
                data = self.exchange(raw)
                head, _, body = data.partition(b"\r\n\r\n")
                self.assertTrue(head.startswith(b"HTTP/1.1 %d " % status), "%s: %r" % (name, data[:200]))
                self.assertIn(b"access-control-allow-origin: *", head.lower())
                doc = json.loads(body) if body else {}
                if code is not None:
                    got = doc.get("error", {}).get("code") if isinstance(doc.get("error"), dict) else doc.get("state")
                    self.assertEqual(got, code, "%s: %s" % (name, body[:300]))
        # Nothing was accepted, nothing was stored, and the worker still serves.
        status, listing = self.worker.request("GET", "/jobs")
        self.assertEqual((status, listing["count"]), (200, 0))
        self.assertEqual(self.worker.request("GET", "/health")[0], 200)

    def test_abandoned_connections(self):
        # Half a request, then gone; a body cut short; a client that never reads.
        for raw in (b"GET /hea", b"POST /jobs HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"a\"",
                    b"GET /health HTTP/1.1\r\n"):
            s = socket.create_connection(("127.0.0.1", self.worker.port), timeout=scaled(5))
            s.sendall(raw)
            s.close()
        lazy = socket.create_connection(("127.0.0.1", self.worker.port), timeout=scaled(5))
        lazy.sendall(b"GET /info HTTP/1.1\r\n\r\n" * 2000)  # pipelined, never read
        self.assertEqual(self.worker.request("GET", "/health")[0], 200)
        lazy.close()
        self.assertEqual(self.worker.request("GET", "/health")[0], 200)


if __name__ == "__main__":
    unittest.main()
