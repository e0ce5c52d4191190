#!/usr/bin/env python3
"""Instructions per HTTP request, counted by callgrind: repeatable where wall-clock
figures on this shared machine are not. Each BINARY is started under
`valgrind --tool=callgrind` (sampler at one sample a minute, so that the window holds
requests and little else), runs one busybox job, then for each path: a warm-up, a
callgrind dump that zeroes the counters, REQUESTS keep-alive requests, a second dump;
the second dump's total divided by REQUESTS is the figure. Binaries are measured one
after the other, ROUNDS times interleaved; the table shows medians, and the top functions
by own cost from the last round.

    bench/instructions.py old/worker-agent build/src/worker-agent
"""

import argparse
import glob
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def dump(pid, out_dir):
    """Dumps and zeroes the counters; returns the new dump file."""
    before = set(glob.glob(os.path.join(out_dir, "cg.*")))
    subprocess.run(["callgrind_control", "--dump", str(pid)], check=True,
                   stdout=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline:
        new = set(glob.glob(os.path.join(out_dir, "cg.*"))) - before
        if new:
            path = new.pop()
            time.sleep(0.2)  # written in one go, but let it be closed
            return path
        time.sleep(0.05)
    raise RuntimeError("callgrind_control --dump wrote nothing")


def total_ir(path):
    with open(path) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
    raise RuntimeError("no total in " + path)


def top_functions(path, n):
    out = subprocess.run(["callgrind_annotate", "--inclusive=no", "--threshold=100", path],
                         capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        m = re.match(r"^\s*([\d,]+) \(\s*([\d.]+)%\)\s+(.*)$", line)
        if m and float(m.group(2)) < 100.0:  # not the frames the dump was taken under
            rows.append((int(m.group(1).replace(",", "")), m.group(2), m.group(3)))
    return rows[:n]


def measure(binary, paths, requests, warmup, top):
    out_dir = tempfile.mkdtemp(prefix="wa-cg-")
    wrapper = ["valgrind", "--tool=callgrind", "--callgrind-out-file=%s/cg.%%p" % out_dir]
    proc, wa = bench.start_worker_agent(binary, {
        "worker_id": "cg-" + os.urandom(3).hex(), "listen": "127.0.0.1", "port": 0,
        "shutdown_drain_seconds": 0, "sample_interval_ms": 60000,
        "jobs_path": tempfile.mkdtemp(prefix="wa-cg-jobs-")}, wrapper=wrapper,
        start_timeout_s=120)
    try:
        job_id = wa.run_job(poll_s=0.05)
        result = {}
        for name, path in paths:
            path = path.replace("{id}", job_id)
            for _ in range(warmup):
                wa.request("GET", path)
            dump(proc.pid, out_dir)
            for _ in range(requests):
                status, _ = wa.request("GET", path)
                if status != 200:
                    raise RuntimeError("%s answered %d" % (path, status))
            window = dump(proc.pid, out_dir)
            result[name] = {"instructions_per_request": total_ir(window) / requests,
                            "top": top_functions(window, top)}
        return result
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binaries", nargs="+")
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--top", type=int, default=8)
    args = ap.parse_args()
    paths = [("GET /health", "/health"), ("GET /jobs/{id}", "/jobs/{id}")]
    runs = {b: [] for b in args.binaries}
    for _ in range(args.rounds):
        for b in args.binaries:
            runs[b].append(measure(b, paths, args.requests, args.warmup, args.top))
    summary = {}
    print("%-26s" % "instructions per request" + "".join("%16s" % name for name, _ in paths))
    for b, rounds in runs.items():
        row = {name: statistics.median(r[name]["instructions_per_request"] for r in rounds)
               for name, _ in paths}
        summary[b] = {"median": row, "rounds": rounds}
        print("%-26s" % b[-26:] + "".join("%16.0f" % row[name] for name, _ in paths))
    for b, rounds in runs.items():
        for name, _ in paths:
            print("\n%s, %s: own cost per request (last round)" % (b, name))
            for ir, share, fn in rounds[-1][name]["top"]:
                print("  %8.0f  %5s%%  %s" % (ir / args.requests, share, fn[:110]))
    out = os.path.join(bench.HERE, "results", time.strftime("instructions-%Y%m%d-%H%M.json"))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump({"requests": args.requests, "binaries": summary}, f, indent=1)
    print("\nwritten to", out)


if __name__ == "__main__":
    main()
