#!/usr/bin/env python3
"""make bench: worker-agent measured side by side, in one run on one machine, against
the engine floor (the least work a client can do through the Engine API), optionally the
original Node.js worker, and nginx serving static JSON. Prints a table of medians and
ratios and writes the same figures as JSON under bench/results/.

Only loopback and the local Docker socket are used."""

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from urllib.parse import quote

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DOCKER_SOCK = "/var/run/docker.sock"
API = "/v1.41"
IMAGE = os.environ.get("TEST_IMAGE", "worker-agent-busybox:1")
STDIN = json.dumps({"protocol_version": 1, "job_id": "x", "task": {"type": "bench"},
                    "runtime": {"mode": "image", "image": IMAGE}}).encode()


# --- the engine floor -----------------------------------------------------------------

class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path=DOCKER_SOCK, timeout=60):
        super().__init__("docker", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def call(conn, method, path, body=None, ok=(200, 201, 204)):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    conn.request(method, API + path, body=json.dumps(body) if body is not None else None, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    if resp.status not in ok:
        raise RuntimeError("%s %s: %d %s" % (method, path, resp.status, data[:200]))
    return json.loads(data) if data else None


def engine_job(conn, label, create_extra=None):
    """create -> attach -> start -> stdin -> wait -> remove: what every worker must do.
    create_extra: fields added to the create body (HostConfig merged)."""
    body = {"Image": IMAGE, "AttachStdin": True, "AttachStdout": True, "AttachStderr": True,
            "OpenStdin": True, "StdinOnce": True, "Tty": False, "Labels": {"bench": label},
            "HostConfig": {"NetworkMode": "none"}}
    for key, value in (create_extra or {}).items():
        body[key] = dict(body[key], **value) if key == "HostConfig" else value
    created = call(conn, "POST", "/containers/create", body)
    cid = created["Id"]
    attach = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    attach.connect(DOCKER_SOCK)
    attach.sendall(("POST %s/containers/%s/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\n"
                    "Host: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n" % (API, cid)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = attach.recv(4096)
        if not chunk:
            raise RuntimeError("attach closed")
        head += chunk
    rest = head.split(b"\r\n\r\n", 1)[1]
    call(conn, "POST", "/containers/%s/start" % cid)
    attach.sendall(STDIN)
    attach.shutdown(socket.SHUT_WR)
    out = rest
    while True:
        chunk = attach.recv(65536)
        if not chunk:
            break
        out += chunk
    attach.close()
    status = call(conn, "POST", "/containers/%s/wait" % cid)
    call(conn, "DELETE", "/containers/%s?force=1" % cid)
    if status["StatusCode"] != 0 or STDIN not in out:
        raise RuntimeError("engine job went wrong: %s" % status)


def engine_sequential(n, create_extra=None):
    conn = UnixHTTPConnection()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        engine_job(conn, "floor", create_extra)
        times.append(time.perf_counter() - t)
    conn.close()
    return times


def parallel(n, workers, fn):
    """Runs fn(i) for i in range(n) on `workers` threads; returns jobs per second."""
    counter = iter(range(n))
    lock = threading.Lock()
    errors = []

    def run():
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            try:
                fn(i)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(workers)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - t
    if errors:
        raise errors[0]
    return n / elapsed


def engine_throughput(n, workers):
    local = threading.local()

    def job(_):
        if not hasattr(local, "conn"):
            local.conn = UnixHTTPConnection()
        engine_job(local.conn, "floor")

    return parallel(n, workers, job)


# --- a worker speaking protocol v1 (worker-agent or the original) ----------------------

class LeanPoller:
    """GET on one kept-alive socket, the answer only searched for its "state". A poll
    costs the client ~30 us of CPU this way, against ~200 us through http.client and
    json.loads (bench/README): at one poll per 5 ms, that difference is CPU the engine
    needs on a 2-core machine, and it was being counted as the worker's latency."""

    def __init__(self, port):
        self.port = port
        self.sock = None

    def get(self, path):
        """Returns (state or None, body bytes)."""
        for attempt in range(2):
            try:
                if self.sock is None:
                    self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
                self.sock.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path).encode())
                body = self._read_response()
                m = re.search(rb'"state"\s*:\s*"(\w+)"', body)
                return (m.group(1).decode() if m else None), body
            except OSError:
                self.close()
                if attempt:
                    raise

    def _read_response(self):
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += self._recv()
        head, _, body = buf.partition(b"\r\n\r\n")
        m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        if not m:
            raise RuntimeError("answer without Content-Length: %r" % head[:200])
        while len(body) < int(m.group(1)):
            body += self._recv()
        return body

    def _recv(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed by the worker")
        return chunk

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class ProtocolWorker:
    def __init__(self, port):
        self.port = port
        self.local = threading.local()

    def conn(self):
        if not hasattr(self.local, "conn"):
            self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        return self.local.conn

    def poller(self):
        if not hasattr(self.local, "poller"):
            self.local.poller = LeanPoller(self.port)
        return self.local.poller

    def request(self, method, path, body=None):
        for attempt in range(2):
            conn = self.conn()
            try:
                conn.request(method, path, body=body,
                             headers={"Content-Type": "application/json"} if body else {})
                resp = conn.getresponse()
                return resp.status, json.loads(resp.read() or b"null")
            except (http.client.HTTPException, ConnectionError):
                conn.close()
                del self.local.conn
                if attempt:
                    raise

    def submit(self, runtime=None):
        job_id = "bench-" + uuid.uuid4().hex[:12]
        body = json.dumps({"protocol_version": 1, "job_id": job_id, "task": {"type": "bench"},
                           "runtime": runtime or {"mode": "image", "image": IMAGE}})
        status, reply = self.request("POST", "/jobs", body)
        if status != 202:
            raise RuntimeError("submit: %s %s" % (status, reply))
        return job_id

    def run_job_streamed(self):
        """Submit, then follow GET /jobs/{id}/output until the body ends with the job."""
        job_id = self.submit()
        conn = self.conn()
        conn.request("GET", "/jobs/%s/output" % job_id)
        resp = conn.getresponse()
        out = resp.read()
        if resp.status != 200 or b"bench" not in out:
            raise RuntimeError("output stream: %s %r" % (resp.status, out[:200]))
        return job_id

    def wait(self, job_id, poll_s):
        """Polls GET /jobs/{id} every POLL_S until the job ends; raises unless it finished."""
        poller = self.poller()
        while True:
            state, body = poller.get("/jobs/" + job_id)
            if state in ("finished", "failed"):
                record = json.loads(body)
                if record.get("state") != "finished":
                    raise RuntimeError("job %s ended %s: %s" % (job_id, record.get("state"),
                                                                record.get("error")))
                return
            time.sleep(poll_s)

    def run_job(self, poll_s=0.005):
        job_id = self.submit()
        self.wait(job_id, poll_s)
        return job_id

    def run_batch(self, n, poll_s=0.02):
        """Submits N jobs at once, as a master with work waiting does, then waits for them
        in submission order with one poller; jobs/s from the first submit to the last end."""
        t = time.perf_counter()
        ids = [self.submit() for _ in range(n)]
        for job_id in ids:
            self.wait(job_id, poll_s)
        return n / (time.perf_counter() - t)


def start_worker_agent(binary, config, env=None, wrapper=(), start_timeout_s=15):
    """Starts BINARY (behind WRAPPER, e.g. a valgrind command line) on a YAML file of
    CONFIG; returns the process and a ProtocolWorker once /health?strict=1 answers 200
    (not degraded: the engine seen)."""
    path = tempfile.mktemp(suffix=".yaml")
    with open(path, "w") as f:
        for k, v in config.items():
            f.write("%s: %s\n" % (k, json.dumps(v)))
    # By default as systemd/worker-agent.service starts it: GnuTLS (loaded with libcurl,
    # never used) not initialised in its library constructor.
    if env is None:
        env = dict(os.environ, GNUTLS_NO_IMPLICIT_INIT="1")
    proc = subprocess.Popen(list(wrapper) + [binary, "--config", path], stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, env=env)
    port = None
    deadline = time.time() + start_timeout_s
    while time.time() < deadline:
        line = proc.stderr.readline().decode()
        m = re.search(r"listening on \S+:(\d+)", line)
        if m:
            port = int(m.group(1))
            break
    threading.Thread(target=lambda: proc.stderr.read(), daemon=True).start()
    if port is None:
        proc.kill()
        raise RuntimeError("worker-agent did not start")
    w = ProtocolWorker(port)
    for _ in range(200):  # until it sees the engine
        status, health = w.request("GET", "/health?strict=1")
        if status == 200:
            break
        time.sleep(0.05)
    return proc, w


def rss_kib(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def rss_by_mapping(pid, top=8):
    """KiB resident per mapped file (shared libraries, the binary) or [heap]/[anon]."""
    sizes, name = {}, None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            parts = line.split()
            if re.match(r"^[0-9a-f]+-[0-9a-f]+$", parts[0]):
                name = os.path.basename(parts[5]) if len(parts) > 5 else "[anon]"
            elif parts[0] == "Rss:":
                sizes[name] = sizes.get(name, 0) + int(parts[1])
    return dict(sorted(sizes.items(), key=lambda kv: -kv[1])[:top])


# --- HTTP: wrk against worker-agent and nginx ------------------------------------------

def wrk(url, seconds, connections=64, threads=1):
    """One client thread by default: on 2 cores, two wrk threads and a one-thread server
    are three runnable threads, and wrk's latency then includes its own threads waiting
    for the CPU they share (p99 ~5 ms even with the server pinned to a core of its own;
    bench/README)."""
    out = subprocess.run(["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % seconds, "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def percentile_ms(p):
        value, unit = re.search(r"%d%%\s+([\d.]+)(us|ms|s)" % p, out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    # A run of error answers measures the error path: not a figure to keep.
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError("wrk %s: %s answers were not 2xx" % (url, non2xx.group(1)))
    return {"rps": rps, "p50_ms": percentile_ms(50), "p99_ms": percentile_ms(99),
            "requests": int(re.search(r"(\d+) requests in", out).group(1))}


def start_nginx(files):
    """nginx (one worker process) serving FILES {name: bytes} from a new folder; returns
    the master process, its port and the folder once each file is served whole. With
    open_file_cache, its fastest way here with a ~1 KB file: a recv, a pread and a writev
    per request (without it, also an open, a stat and a close; sendfile costs more than
    it saves at this size: bench/README, "nginx answered 403 to every request")."""
    root = tempfile.mkdtemp(prefix="wa-bench-nginx-")
    # nginx's worker process runs as nobody: mkdtemp's 0700 would get every request a 403.
    os.chmod(root, 0o755)
    for name, body in files.items():
        with open(os.path.join(root, name), "wb") as f:
            f.write(body)
        os.chmod(os.path.join(root, name), 0o644)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    conf = os.path.join(root, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""worker_processes 1; daemon off; pid %(root)s/nginx.pid; error_log %(root)s/error.log;
events { worker_connections 1024; }
http { access_log off; default_type application/json; keepalive_requests 1000000;
  open_file_cache max=16;
  server { listen 127.0.0.1:%(port)d; root %(root)s; } }
""" % {"root": root, "port": port})
    proc = subprocess.Popen(["nginx", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for name, body in files.items():
        conn.request("GET", "/" + name)
        resp = conn.getresponse()
        served = resp.read()
        if resp.status != 200 or served != body:
            proc.kill()
            raise RuntimeError("nginx answers %d with %d bytes for /%s, not the file's %d"
                               % (resp.status, len(served), name, len(body)))
    conn.close()
    return proc, port, root


def health_under_load(args):
    """/health latency while 50 jobs run and 500 wait (each job a 10-minute sleep, cancelled
    by the worker's own shutdown): wrk with a few connections, a client that polls, not a
    flood."""
    running, queued = args.load_running, args.load_queued
    worker_id = "bench-load-" + uuid.uuid4().hex[:6]
    proc, wa = start_worker_agent(args.binary, {
        "worker_id": worker_id, "listen": "127.0.0.1", "port": 0,
        "max_concurrent_jobs": running, "max_queued_jobs": queued + 100,
        "shutdown_drain_seconds": 0, "jobs_path": tempfile.gettempdir()})
    try:
        runtime = {"mode": "image", "image": IMAGE, "cmd": ["sleep", "600"]}
        for _ in range(running + queued):
            wa.submit(runtime)
        # A job counts as running in /health from the moment it leaves the queue, while the
        # engine is still creating its container; the figure is for 50 containers running,
        # not for the start storm, so wait for the engine to list them all.
        engine = UnixHTTPConnection()
        filters = urllib.parse.quote(json.dumps(
            {"label": ["worker-agent.worker_id=" + worker_id], "status": ["running"]}))
        deadline, up = time.time() + 600, 0
        while time.time() < deadline:
            up = len(call(engine, "GET", "/containers/json?filters=" + filters))
            if up == running:
                break
            time.sleep(1)
        if up != running:
            raise RuntimeError("only %d of %d containers running" % (up, running))
        time.sleep(2)
        # nginx serving the same body under the same load, rounds interleaved: what this
        # machine's scheduling alone does to a p99 while the engine keeps 50 containers.
        _, health = wa.request("GET", "/health")
        ng, ng_port, ng_root = start_nginx({"health": json.dumps(health).encode()})
        runs, ng_runs = [], []
        try:
            for _ in range(args.rounds):
                runs.append(wrk("http://127.0.0.1:%d/health" % wa.port, args.wrk_seconds,
                                connections=4, threads=1))
                ng_runs.append(wrk("http://127.0.0.1:%d/health" % ng_port, args.wrk_seconds,
                                   connections=4, threads=1))
        finally:
            ng.terminate()
            ng.wait()
            shutil.rmtree(ng_root, ignore_errors=True)
        _, health = wa.request("GET", "/health")
        return {"running_jobs": health.get("running_jobs"), "queued_jobs": health.get("queued_jobs"),
                "p99_ms": median([r["p99_ms"] for r in runs]), "rps": median([r["rps"] for r in runs]),
                "nginx_p99_ms": median([r["p99_ms"] for r in ng_runs]),
                "nginx_rps": median([r["rps"] for r in ng_runs]), "connections": 4}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(300)


def goals(results):
    """The issue's goals, each with the figure measured in this run and whether it is met."""
    rows = []

    def goal(text, measured, met):
        rows.append({"goal": text, "measured": measured, "met": bool(met) if met is not None else None})

    f, w, o = results.get("engine_floor"), results.get("worker_agent"), results.get("original")
    if f and w:
        for how, key in (("polling 5 ms", "ms_per_job"), ("output stream", "ms_per_job_output_stream")):
            r = w[key] / f["ms_per_job"]
            goal("job latency <= 1.05x engine floor, %s" % how,
                 "%.3fx (%.1f vs %.1f ms)" % (r, w[key], f["ms_per_job"]), r <= 1.05)
        r = w["jobs_per_s_at_4"] / f["jobs_per_s_at_4"]
        goal("jobs/s at 4 >= 0.95x engine floor", "%.3fx (%.2f vs %.2f)" % (r, w["jobs_per_s_at_4"], f["jobs_per_s_at_4"]), r >= 0.95)
    if o and w:
        r = w["jobs_per_s_at_4"] / o["jobs_per_s_at_4"]
        goal(">= 3x the original's jobs/s", "%.2fx" % r, r >= 3)
        r = w["ms_per_job"] / o["ms_per_job"]
        goal("< 1/3 of the original's latency", "%.2fx" % r, r < 1 / 3)
    elif w:
        goal(">= 3x the original's jobs/s", "not measured (no ORIGINAL)", None)
    for name, e in (results.get("http") or {}).items():
        r = e["worker_agent_rps"] / e["nginx_rps"]
        goal("%s req/s >= 1.0x nginx" % name, "%.2fx" % r, r >= 1.0)
        goal("%s p99 < 2 ms" % name, "%.2f ms" % e["worker_agent_p99_ms"], e["worker_agent_p99_ms"] < 2)
    m = results.get("memory")
    if m:
        goal("RSS idle < 8 MB", "%.1f MiB" % (m["rss_idle_kib"] / 1024), m["rss_idle_kib"] < 8 * 1024)
        goal("< 2 KB per retained job beyond its output", "%.0f B" % m["bytes_per_retained_job"],
             m["bytes_per_retained_job"] < 2048)
    h = results.get("health_under_load")
    if h:
        goal("/health p99 < 5 ms with %d running, %d queued" % (h["running_jobs"], h["queued_jobs"]),
             "%.2f ms" % h["p99_ms"], h["p99_ms"] < 5)
    return rows


def run_original(args, results):
    """The original Node.js worker (ProcessingCluster worker-agent/node), started from a
    checkout outside this repository, measured with the very same jobs."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    env = dict(os.environ, WORKER_PORT=str(port), MAX_CONCURRENT_JOBS="4", WORKER_ID="bench-original")
    proc = subprocess.Popen(["node", "src/index.js"], cwd=args.original, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        w = ProtocolWorker(port)
        for _ in range(200):
            try:
                if w.request("GET", "/info")[0] == 200:
                    break
            except OSError:
                time.sleep(0.05)
        w.run_job()
        lat, tp = [], []
        for _ in range(args.rounds):
            for _ in range(args.sequential_jobs):
                lat.append(timed(w.run_job))
            tp.append(w.run_batch(args.throughput_jobs))
        return {"ms_per_job": median(lat) * 1000, "jobs_per_s_at_4": median(tp)}
    finally:
        proc.terminate()
        proc.wait(10)


# --- the run ----------------------------------------------------------------------------

def timed(fn):
    """Seconds FN takes."""
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def median(xs):
    return statistics.median(xs) if xs else None


def cmake_build_type(binary):
    """CMAKE_BUILD_TYPE of the build tree BINARY comes from (BUILD_DIR/src/worker-agent)."""
    cache = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(binary))),
                         "CMakeCache.txt")
    try:
        with open(cache) as f:
            for line in f:
                if line.startswith("CMAKE_BUILD_TYPE:"):
                    return line.strip().split("=", 1)[1]
    except OSError:
        pass
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--binary", default=os.path.join(REPO, "build/src/worker-agent"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sequential-jobs", type=int, default=20)
    ap.add_argument("--throughput-jobs", type=int, default=200)
    ap.add_argument("--retained-jobs", type=int, default=10000)
    ap.add_argument("--wrk-seconds", type=int, default=5)
    ap.add_argument("--load-running", type=int, default=50)
    ap.add_argument("--load-queued", type=int, default=500)
    ap.add_argument("--no-load", action="store_true",
                    help="skip /health under load (50 jobs running, 500 queued)")
    ap.add_argument("--original", help="checkout of the original Node.js worker (worker-agent/node), "
                                       "with its npm dependencies installed; skipped when absent")
    args = ap.parse_args()

    build_type = cmake_build_type(args.binary)
    if build_type not in ("Release", "RelWithDebInfo"):
        print("warning: %s is a %s build; the figures are not those of the package"
              % (args.binary, build_type or "unknown"), file=sys.stderr)
    results = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "rounds": args.rounds,
               "image": IMAGE, "cpus": os.cpu_count(), "binary": args.binary,
               "build_type": build_type}
    rows = []

    # 1 and 2: job latency and throughput, engine floor and worker-agent side by side
    # (latency job by job, throughput in alternating rounds).
    proc, wa = start_worker_agent(args.binary, {
        "worker_id": "bench-" + uuid.uuid4().hex[:6], "listen": "127.0.0.1", "port": 0,
        "max_concurrent_jobs": 4, "max_queued_jobs": 100000, "shutdown_drain_seconds": 0,
        "jobs_path": tempfile.gettempdir(), "max_finished_jobs": 100000})
    floor_lat, wa_lat, wa_stream_lat, floor_tp, wa_tp = [], [], [], [], []
    try:
        engine_sequential(2)  # warm-up: image layers, first container
        wa.run_job()
        floor_conn = UnixHTTPConnection()
        for r in range(args.rounds):
            # One job of each kind in turn, so that the machine's drift hits all three alike.
            for _ in range(args.sequential_jobs):
                floor_lat.append(timed(lambda: engine_job(floor_conn, "floor")))
                wa_lat.append(timed(wa.run_job))
                wa_stream_lat.append(timed(wa.run_job_streamed))
            floor_tp.append(engine_throughput(args.throughput_jobs, 4))
            wa_tp.append(wa.run_batch(args.throughput_jobs))
            print("round %d/%d done" % (r + 1, args.rounds), file=sys.stderr)
        floor_conn.close()

        results["engine_floor"] = {"ms_per_job": median(floor_lat) * 1000, "jobs_per_s_at_4": median(floor_tp),
                                   "jobs_per_s_at_4_rounds": floor_tp}
        results["worker_agent"] = {"ms_per_job": median(wa_lat) * 1000,
                                   "ms_per_job_output_stream": median(wa_stream_lat) * 1000,
                                   "jobs_per_s_at_4": median(wa_tp),
                                   "jobs_per_s_at_4_rounds": wa_tp,
                                   # Each job against the floor job run just before it.
                                   "ms_over_floor_paired": median(
                                       [(w - f) * 1000 for w, f in zip(wa_lat, floor_lat)]),
                                   "ms_over_floor_paired_output_stream": median(
                                       [(w - f) * 1000 for w, f in zip(wa_stream_lat, floor_lat)])}
        rows.append(("job latency, ms (median, polling 5 ms)", results["engine_floor"]["ms_per_job"],
                     results["worker_agent"]["ms_per_job"], "engine floor"))
        rows.append(("job latency, ms (median, output stream)", results["engine_floor"]["ms_per_job"],
                     results["worker_agent"]["ms_per_job_output_stream"], "engine floor"))
        rows.append(("jobs/s at 4 in parallel", results["engine_floor"]["jobs_per_s_at_4"],
                     results["worker_agent"]["jobs_per_s_at_4"], "engine floor"))

        # 4: HTTP against nginx serving bodies of the same size.
        _, health_body = wa.request("GET", "/health")
        job_id = wa.run_job()
        conn = http.client.HTTPConnection("127.0.0.1", wa.port)
        conn.request("GET", "/health")
        health_bytes = conn.getresponse().read()
        conn.request("GET", "/jobs/" + job_id)
        job_bytes = conn.getresponse().read()
        conn.close()
        nginx, nport, nroot = start_nginx({"health.json": health_bytes, "job.json": job_bytes})
        try:
            http_results = {}
            for name, wa_path, ng_path in (("GET /health", "/health", "/health.json"),
                                           ("GET /jobs/{id}", "/jobs/" + job_id, "/job.json")):
                wa_runs, ng_runs = [], []
                for _ in range(args.rounds):
                    wa_runs.append(wrk("http://127.0.0.1:%d%s" % (wa.port, wa_path), args.wrk_seconds))
                    ng_runs.append(wrk("http://127.0.0.1:%d%s" % (nport, ng_path), args.wrk_seconds))
                entry = {"worker_agent_rps": median([x["rps"] for x in wa_runs]),
                         "nginx_rps": median([x["rps"] for x in ng_runs]),
                         "worker_agent_p99_ms": median([x["p99_ms"] for x in wa_runs]),
                         "nginx_p99_ms": median([x["p99_ms"] for x in ng_runs]),
                         "worker_agent_runs": wa_runs, "nginx_runs": ng_runs,
                         "body_bytes": len(health_bytes if name == "GET /health" else job_bytes)}
                http_results[name] = entry
                rows.append((name + " req/s", entry["nginx_rps"], entry["worker_agent_rps"], "nginx"))
                rows.append((name + " p99 ms", entry["nginx_p99_ms"], entry["worker_agent_p99_ms"], "nginx"))
            results["http"] = http_results
        finally:
            nginx.send_signal(signal.SIGQUIT)
            nginx.wait(10)
            shutil.rmtree(nroot, ignore_errors=True)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)

    # 5: memory. A fresh worker; retained jobs are failed ones (a missing image with
    # pull_policy never), which costs the engine one quick 404 each and leaves a full job
    # record with no output bytes.
    proc, wa = start_worker_agent(args.binary, {
        "worker_id": "bench-" + uuid.uuid4().hex[:6], "listen": "127.0.0.1", "port": 0,
        "max_concurrent_jobs": 8, "max_queued_jobs": 100000, "shutdown_drain_seconds": 0,
        "jobs_path": tempfile.gettempdir(), "max_finished_jobs": args.retained_jobs * 2,
        # The missing image must fail at once, without the engine asking a registry for it.
        "pull_policy": "never"})
    try:
        time.sleep(1.0)
        idle = rss_kib(proc.pid)
        idle_anon, idle_file = rss_kib(proc.pid, "RssAnon"), rss_kib(proc.pid, "RssFile")
        idle_mappings = rss_by_mapping(proc.pid)
        body = {"protocol_version": 1, "task": {"type": "bench"},
                "runtime": {"mode": "image", "image": "worker-agent-bench-missing:0"}}
        job_bytes = 0

        def submit(i):
            nonlocal job_bytes
            b = dict(body, job_id="mem-%06d" % i)
            text = json.dumps(b)
            job_bytes = len(text)
            status, _ = wa.request("POST", "/jobs", text)
            if status != 202:
                raise RuntimeError("submit %d" % status)

        parallel(args.retained_jobs, 4, submit)
        deadline = time.time() + 600
        while time.time() < deadline:
            _, listing = wa.request("GET", "/jobs?state=failed&limit=1")
            _, health = wa.request("GET", "/health")
            if health.get("queued_jobs") == 0 and health.get("running_jobs") == 0:
                break
            time.sleep(0.5)
        retained = rss_kib(proc.pid)
        per_job = (retained - idle) * 1024 / args.retained_jobs
        results["memory"] = {"rss_idle_kib": idle, "rss_idle_anon_kib": idle_anon,
                             "rss_idle_file_kib": idle_file, "rss_idle_top_mappings_kib": idle_mappings,
                             "rss_retained_kib": retained,
                             "retained_jobs": args.retained_jobs,
                             "bytes_per_retained_job": per_job,
                             "job_json_bytes": job_bytes}
        rows.append(("RSS idle, KiB", None, idle, ""))
        rows.append(("bytes per retained job (json %d B kept)" % job_bytes, None, per_job, ""))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)

    # /health while 50 jobs run and 500 wait.
    if not args.no_load:
        results["health_under_load"] = health_under_load(args)
        h = results["health_under_load"]
        rows.append(("/health p99 ms, %d running + %d queued" % (args.load_running, args.load_queued),
                     h["nginx_p99_ms"], h["p99_ms"], "nginx"))

    # 3: the original worker, only when a checkout is given: same jobs, same engine.
    if args.original:
        results["original"] = run_original(args, results)
        o, w = results["original"], results["worker_agent"]
        rows.append(("job latency, ms: original vs worker-agent", o["ms_per_job"], w["ms_per_job"], "original"))
        rows.append(("jobs/s at 4: original vs worker-agent", o["jobs_per_s_at_4"], w["jobs_per_s_at_4"],
                     "original"))
    else:
        print("original Node.js worker: skipped (no --original PATH given)", file=sys.stderr)
        results["original"] = None

    results["goals"] = goals(results)
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    out = os.path.join(HERE, "results", "bench-%s.json" % time.strftime("%Y%m%d-%H%M%S"))
    with open(out, "w") as f:
        json.dump(results, f, indent=2)

    print("\n%-44s %14s %14s %10s" % ("measure", "reference", "worker-agent", "ratio"))
    for name, ref, mine, ref_name in rows:
        ratio = "%9.2fx" % (mine / ref) if ref else ""
        print("%-44s %14s %14.2f %10s%s" % (name, "%.2f" % ref if ref is not None else "-", mine, ratio,
                                            "  (vs %s)" % ref_name if ref_name else ""))
    print("\n%-52s %-30s %s" % ("goal", "measured", "met"))
    for g in results["goals"]:
        met = {True: "yes", False: "NO", None: "-"}[g["met"]]
        print("%-52s %-30s %s" % (g["goal"], g["measured"], met))
    print("\nresults: %s" % os.path.relpath(out, REPO))


if __name__ == "__main__":
    main()
