#!/usr/bin/env python3
"""make bench, part two: what the job journal costs and what it holds, measured side by side
in one run on one machine.

1. Submit throughput: two workers of the same binary, one with the journal and one
   without, in alternating rounds; wrk submits jobs (each with its own job_id) for a few
   seconds over 8 and over 64 keep-alive connections. Both workers' engine socket leads
   nowhere, so every job is accepted and waits in the queue: no engine work competes, and
   the figure is the submission path's own (parse, store, and the journal's commit before
   the 202). The two workers of a round run back to back, first one, then the other, in
   turn; the ratio reported is the median of the rounds' own ratios.
2. /health p99 while wrk submits over 8 connections, on each worker.
3. A worker holding 100,000 ended records: how long it takes from exec to answering
   /health (the journal read back), the journal's size per record, and how much of it
   retention gives back (max_finished_jobs lowered by a reload, then the file measured).

Only loopback and the local Docker socket are used. Writes bench/results/journal-*.json."""

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


class Worker:
    """worker-agent on a config of its own, in a directory of its own."""

    def __init__(self, binary, config):
        self.dir = tempfile.mkdtemp(prefix="wa-bench-journal-")
        self.config = dict({"worker_id": "bench-" + uuid.uuid4().hex[:6], "listen": "127.0.0.1",
                            "port": 0, "max_concurrent_jobs": 4, "max_queued_jobs": 1000000,
                            "max_finished_jobs": 1000000, "finished_job_retention_seconds": 0,
                            "jobs_path": self.dir, "pull_policy": "never",
                            "stop_action": "keep"}, **config)
        self.binary = binary
        self.path = os.path.join(self.dir, "worker-agent.yaml")
        self.write_config()
        self.proc = None
        self.port = None

    def write_config(self):
        with open(self.path, "w") as f:
            for k, v in self.config.items():
                f.write("%s: %s\n" % (k, json.dumps(v)))

    def start(self, timeout=120, wait_engine=True):
        """Starts it; returns the seconds from exec to /health answering 200."""
        started = time.monotonic()
        self.proc = subprocess.Popen([self.binary, "--config", self.path], stderr=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL)
        self.port = None
        while time.monotonic() - started < timeout:
            line = self.proc.stderr.readline().decode()
            m = re.search(r"listening on \S+:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
            if not line and self.proc.poll() is not None:
                raise RuntimeError("worker-agent exited")
        threading.Thread(target=lambda: self.proc.stderr.read(), daemon=True).start()
        while time.monotonic() - started < timeout:
            try:
                status, _ = self.request("GET", "/health")
                if status == 200:
                    serving = time.monotonic() - started
                    break
            except OSError:
                pass
            time.sleep(0.005)
        else:
            raise RuntimeError("worker-agent did not serve")
        # Then until it sees the engine (jobs would only wait before).
        while wait_engine and time.monotonic() - started < timeout:
            if self.request("GET", "/health?strict=1")[0] == 200:
                break
            time.sleep(0.05)
        return serving

    def request(self, method, path, body=None, conn=None):
        own = conn is None
        conn = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body=body,
                         headers={"Content-Type": "application/json"} if body else {})
            r = conn.getresponse()
            data = r.read()
            return r.status, json.loads(data) if data else None
        finally:
            if own:
                conn.close()

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(60)

    def journal_bytes(self):
        total = 0
        for name in os.listdir(self.dir):
            if name.startswith("journal-") and not name.endswith(".lock"):
                total += os.path.getsize(os.path.join(self.dir, name))
        return total

    def remove(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def submit_many(worker, n, clients, prefix):
    """Submits n jobs from clients keep-alive connections; returns submissions a second."""
    body = {"protocol_version": 1, "task": {"type": "bench"},
            "runtime": {"mode": "image", "image": "worker-agent-bench-missing:0"}}
    counter = iter(range(n))
    lock = threading.Lock()
    errors = []

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", worker.port, timeout=60)
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            status, reply = worker.request("POST", "/jobs",
                                           json.dumps(dict(body, job_id="%s-%07d" % (prefix, i))),
                                           conn)
            if status != 202:
                errors.append((status, reply))
                break
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    if errors:
        raise RuntimeError("submissions refused: %s" % errors[:3])
    return n / elapsed


def wait_idle(worker, timeout=900):
    deadline = time.time() + timeout
    while time.time() < deadline:
        _, health = worker.request("GET", "/health")
        if health["queued_jobs"] == 0 and health["running_jobs"] == 0:
            return
        time.sleep(0.5)
    raise RuntimeError("jobs did not end")


SUBMIT_LUA = """
counter = 0
request = function()
  counter = counter + 1
  local body = '{"protocol_version":1,"job_id":"' .. prefix .. counter ..
    '","task":{"type":"bench"},"runtime":{"mode":"image","image":"busybox:1"}}'
  return wrk.format("POST", "/jobs", {["Content-Type"] = "application/json"}, body)
end
"""


def wrk_submits(port, seconds, connections, prefix):
    """Submits for seconds over connections; returns accepted submissions a second."""
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write('prefix = "%s-"\n' % prefix + SUBMIT_LUA)
    script.close()
    try:
        out = subprocess.run(["wrk", "-t1", "-c%d" % connections, "-d%ds" % seconds, "-s", script.name,
                              "http://127.0.0.1:%d/jobs" % port],
                             capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script.name)
    if "Non-2xx" in out:
        raise RuntimeError("submissions refused:\n" + out)
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def wrk_p99(port, path, seconds):
    out = subprocess.run(["wrk", "-t1", "-c16", "-d%ds" % seconds, "--latency",
                          "http://127.0.0.1:%d%s" % (port, path)],
                         capture_output=True, text=True, check=True).stdout
    m = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", default=os.path.join(REPO, "build/src/worker-agent"))
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--submits", type=int, default=3000, help="jobs submitted per round")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--records", type=int, default=100000)
    ap.add_argument("--wrk-seconds", type=int, default=5)
    args = ap.parse_args()
    results = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpus": os.cpu_count(),
               "binary": args.binary, "rounds": args.rounds}

    # 1 and 2: the same binary with and without the journal, in alternating rounds, its
    # engine out of reach so that the jobs wait in the queue.
    # Each round on new workers: the jobs of a round stay queued, and a quiet machine
    # queues over a million in three rounds (max_queued_jobs), on a journal that grows.
    nowhere = {"docker_host": "unix:///nonexistent/worker-agent-bench.sock"}
    names = ("journal", "no_journal")
    rates = {(name, c): [] for name in names for c in (8, 64)}
    health_p99 = {name: [] for name in names}
    workers = {}
    try:
        for r in range(args.rounds):
            for w in workers.values():
                w.remove()
            workers = {name: Worker(args.binary, dict(nowhere, journal=name == "journal"))
                       for name in names}
            for w in workers.values():
                w.start(wait_engine=False)
            # Which goes first alternates, so that a machine slowing down or speeding up
            # within a round favours neither.
            order = list(workers.items()) if r % 2 == 0 else list(reversed(list(workers.items())))
            for name, w in order:
                for c in (8, 64):
                    rates[(name, c)].append(wrk_submits(w.port, args.wrk_seconds, c, "tp%d-%d" % (r, c)))
                # /health while wrk submits over 8 connections.
                loader = subprocess.Popen(
                    [sys.executable, "-c", "import journal, sys; journal.wrk_submits(%d, %d, 8, 'load%d')"
                     % (w.port, args.wrk_seconds + 2, r)], cwd=HERE)
                time.sleep(1)
                health_p99[name].append(wrk_p99(w.port, "/health", args.wrk_seconds))
                loader.wait()
            print("round %d/%d: submits/s over 8: journal %.0f, without %.0f; over 64: %.0f, %.0f" %
                  (r + 1, args.rounds, rates[("journal", 8)][-1], rates[("no_journal", 8)][-1],
                   rates[("journal", 64)][-1], rates[("no_journal", 64)][-1]), file=sys.stderr)
    finally:
        for w in workers.values():
            w.remove()
    results["submit"] = {"%s_%d" % key: {"per_s": statistics.median(v), "rounds": v}
                         for key, v in rates.items()}
    results["health_p99_ms_under_submits"] = {name: {"p99_ms": statistics.median(v), "rounds": v}
                                              for name, v in health_p99.items()}
    # The ratio is the median of each round's own (the two workers of a round run back to
    # back): on a machine whose speed drifts by 30% within minutes, a ratio of medians
    # taken over different rounds would mostly measure the drift.
    results["submit_ratio"] = {
        "%d" % c: statistics.median(j / n for j, n in zip(rates[("journal", c)], rates[("no_journal", c)]))
        for c in (8, 64)}
    results["submit_ratio_rounds"] = {
        "%d" % c: [j / n for j, n in zip(rates[("journal", c)], rates[("no_journal", c)])]
        for c in (8, 64)}

    # 3: 100,000 ended records, a restart, and retention's compaction.
    w = Worker(args.binary, {"journal": True})
    try:
        w.start()
        fill_started = time.monotonic()
        submit_many(w, args.records, args.clients, "rec")
        wait_idle(w, timeout=3600)
        fill_s = time.monotonic() - fill_started
        w.stop()  # SIGTERM: the journal flushed
        size = w.journal_bytes()
        startups = []
        for _ in range(args.rounds):
            startups.append(w.start())
            w.stop()
        serving = w.start()
        _, health = w.request("GET", "/health")
        _, listing = w.request("GET", "/jobs?state=failed&limit=1")
        held = health["jobs"]["accepted_total"]  # since this start: 0
        # Retention keeps 1,000: a reload drops the rest, the journal gives the space back.
        w.config["max_finished_jobs"] = 1000
        w.write_config()
        w.proc.send_signal(signal.SIGHUP)
        time.sleep(3)
        # The freed pages go back as writes come: a few jobs' worth of them.
        submit_many(w, 200, 4, "after")
        wait_idle(w)
        time.sleep(2)
        w.stop()
        compacted = w.journal_bytes()
        results["records"] = {"records": args.records, "fill_s": fill_s,
                              "journal_bytes": size, "bytes_per_record": size / args.records,
                              "start_to_serving_s": {"median": statistics.median(startups + [serving]),
                                                     "runs": startups + [serving]},
                              "journal_bytes_after_retention_1000": compacted,
                              "accepted_since_start": held, "listed": listing["count"]}
    finally:
        w.remove()

    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    out = os.path.join(HERE, "results", "journal-%s.json" % time.strftime("%Y%m%d-%H%M%S"))
    with open(out, "w") as f:
        json.dump(results, f, indent=2)
    s, h, rec = results["submit"], results["health_p99_ms_under_submits"], results["records"]
    print("\n%-52s %12s %12s %8s" % ("journal", "without", "with", "ratio"))
    print("(submits: medians of the rounds; the ratio is the median of each round's own)")
    for c in (8, 64):
        print("%-52s %12.0f %12.0f %7.2fx" % ("submits/s over %d connections" % c,
                                              s["no_journal_%d" % c]["per_s"], s["journal_%d" % c]["per_s"],
                                              results["submit_ratio"]["%d" % c]))
    print("%-52s %12.2f %12.2f %7.2fx" % ("/health p99 ms while submits come over 8",
                                          h["no_journal"]["p99_ms"], h["journal"]["p99_ms"],
                                          h["journal"]["p99_ms"] / h["no_journal"]["p99_ms"]))
    print("%-52s %25.2f" % ("start to serving with %d records, s" % args.records,
                            rec["start_to_serving_s"]["median"]))
    print("%-52s %25.0f" % ("journal bytes per record", rec["bytes_per_record"]))
    print("%-52s %25.0f" % ("journal bytes after retention keeps 1,000", rec["journal_bytes_after_retention_1000"]))
    print("\nresults: %s" % os.path.relpath(out, REPO))


if __name__ == "__main__":
    main()
