#!/usr/bin/env python3
"""Where a server's CPU goes under wrk: worker-agent's GET /health and GET /jobs/{id} (a
finished busybox job) against nginx (one worker process) serving files of the same
bytes, rounds interleaved; medians.

For each 5-second wrk run (one thread, 64 connections, as bench.py) it reads the
server process's user and system CPU time from /proc/PID/stat before and after, and
reports CPU microseconds per request, the kernel's share of it, the share of a core
the server used, requests/s, p50 and p99. With --strace, one more run per server
under `strace -c` counts the system calls per request (strace slows the server, so
those runs give counts only).

A server that uses close to a whole core is what limits the requests/s, and with 64
connections each waiting for its answer the mean latency is 64 / (requests/s):
the CPU per request is what the server can still change, and its kernel share is
the part that belongs to the loopback TCP stack rather than to the server's code.

    bench/cpu.py [BINARY ...] [--rounds 3] [--seconds 5] [--strace]
"""

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
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """(user, system) CPU seconds of process PID so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) * TICK_S, int(fields[12]) * TICK_S  # utime, stime


def measured_run(pid, url, seconds):
    user0, sys0 = cpu_seconds(pid)
    run = bench.wrk(url, seconds)
    user1, sys1 = cpu_seconds(pid)
    user, system = user1 - user0, sys1 - sys0
    n = run["requests"]
    return dict(run, us_per_request=(user + system) / n * 1e6, user_us_per_request=user / n * 1e6,
                kernel_share=system / (user + system), cores=(user + system) / seconds)


def syscalls_per_request(pid, url):
    """strace -c on PID during a 2-second wrk run: {syscall: calls per request}."""
    st = subprocess.Popen(["strace", "-c", "-f", "-p", str(pid)], stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)  # attached
    run = bench.wrk(url, 2)
    st.send_signal(signal.SIGINT)
    table = st.communicate()[1]
    calls = {}
    for line in table.splitlines():
        m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$", line)
        if m and m.group(2) != "total":
            calls[m.group(2)] = int(m.group(1)) / run["requests"]
    return {k: v for k, v in sorted(calls.items(), key=lambda kv: -kv[1]) if v >= 0.01}


def nginx_worker_pid(master_pid):
    for _ in range(50):
        with open("/proc/%d/task/%d/children" % (master_pid, master_pid)) as f:
            children = f.read().split()
        if children:
            return int(children[0])
        time.sleep(0.05)
    raise RuntimeError("nginx started no worker process")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binaries", nargs="*", metavar="BINARY",
                    default=[os.path.join(bench.REPO, "build/src/worker-agent")],
                    help="one or more worker-agent binaries, measured side by side")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--strace", action="store_true", help="also count system calls per request")
    args = ap.parse_args()

    workers, nginx, nroot = [], None, None
    try:
        for binary in args.binaries:
            workers.append(bench.start_worker_agent(binary, {
                "worker_id": "bench-" + uuid.uuid4().hex[:6], "listen": "127.0.0.1", "port": 0,
                "shutdown_drain_seconds": 0, "jobs_path": tempfile.gettempdir()}))
        # Each worker runs the same job; the first one's answers are nginx's files.
        job_paths = ["/jobs/" + wa.run_job() for _, wa in workers]
        paths = {"GET /health": ("health.json", ["/health"] * len(workers)),
                 "GET /jobs/{id}": ("job.json", job_paths)}
        bodies = {}
        conn = http.client.HTTPConnection("127.0.0.1", workers[0][1].port)
        for file, targets in paths.values():
            conn.request("GET", targets[0])
            bodies[file] = conn.getresponse().read()
        conn.close()
        nginx, nport, nroot = bench.start_nginx(bodies)
        labels = ["worker-agent"] if len(workers) == 1 else args.binaries
        servers = {}
        for name, (file, targets) in paths.items():
            for label, (proc, wa), target in zip(labels, workers, targets):
                servers[name, label] = (proc.pid, "http://127.0.0.1:%d%s" % (wa.port, target))
            servers[name, "nginx"] = (nginx_worker_pid(nginx.pid),
                                      "http://127.0.0.1:%d/%s" % (nport, file))
        runs = {key: [] for key in servers}
        for _ in range(args.rounds):
            for key, (pid, url) in servers.items():
                runs[key].append(measured_run(pid, url, args.seconds))
        calls = {key: syscalls_per_request(pid, url) for key, (pid, url) in servers.items()} \
            if args.strace else {}
    finally:
        for proc, _ in workers:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        if nginx:
            nginx.send_signal(signal.SIGQUIT)
            nginx.wait(10)
            shutil.rmtree(nroot, ignore_errors=True)

    print("wrk 1 thread, 64 connections, %d s x %d rounds; medians" % (args.seconds, args.rounds))
    print("%-30s %9s %8s %8s %10s %8s %8s %8s" % ("server", "req/s", "p50 ms", "p99 ms", "us/request",
                                                   "user us", "kernel", "cores"))
    med = {}
    for (name, server), rs in runs.items():
        med[name, server] = m = {k: statistics.median(r[k] for r in rs) for k in (
            "rps", "p50_ms", "p99_ms", "us_per_request", "user_us_per_request", "kernel_share",
            "cores")}
        print("%-30s %9.0f %8.2f %8.2f %10.2f %8.2f %7.0f%% %8.2f" % (
            "%s, %s" % (name, server), m["rps"], m["p50_ms"], m["p99_ms"], m["us_per_request"],
            m["user_us_per_request"], m["kernel_share"] * 100, m["cores"]))
        for r in rs:
            print("  run: %.0f req/s, p50 %.2f, p99 %.2f ms, %.2f us/request, kernel %.0f%%" % (
                r["rps"], r["p50_ms"], r["p99_ms"], r["us_per_request"], r["kernel_share"] * 100))
    for name, (file, _) in paths.items():
        for label in labels:
            print("%s (%d B): %s / nginx CPU per request %.2fx, req/s %.2fx" % (
                name, len(bodies[file]), label,
                med[name, label]["us_per_request"] / med[name, "nginx"]["us_per_request"],
                med[name, label]["rps"] / med[name, "nginx"]["rps"]))
    for (name, server), c in calls.items():
        print("%s, %s: system calls per request: %s" % (
            name, server, ", ".join("%s %.2f" % kv for kv in c.items())))
    out = os.path.join(bench.HERE, "results", time.strftime("cpu-%Y%m%d-%H%M.json"))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump({"seconds": args.seconds, "rounds": args.rounds,
                   "body_bytes": {file: len(body) for file, body in bodies.items()},
                   "servers": [{"path": name, "server": server, "median": med[name, server],
                                "runs": runs[name, server],
                                "syscalls_per_request": calls.get((name, server))}
                               for name, server in runs]}, f, indent=1)
    print("written to", os.path.relpath(out, bench.REPO))


if __name__ == "__main__":
    main()
