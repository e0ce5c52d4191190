#!/usr/bin/env python3
"""What the job container's isolation costs the engine: the engine floor's trivial job
(bench.py: create, attach, start, stdin, wait, remove) one at a time, plain and with the
settings worker-agent gives every job container by default (src/jobs/docker_job_runner.cc:
memory and CPU limits, pids limit, all capabilities dropped, no-new-privileges, read-only
root, user 65534, tmpfs /tmp and /workspace, no log driver), rounds interleaved; medians.

    bench/isolation.py [--rounds 6] [--jobs 8]
"""

import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

TMPFS = "rw,nosuid,nodev,exec,size=64m,uid=65534,gid=65534"
MEMORY = 256 * 1024 * 1024
VARIANTS = {
    "plain (the engine floor)": None,
    "worker-agent's isolation": {
        "User": "65534:65534", "WorkingDir": "/workspace",
        "HostConfig": {"Memory": MEMORY, "MemorySwap": MEMORY, "NanoCpus": 1_000_000_000,
                       "PidsLimit": 256, "CapDrop": ["ALL"],
                       "SecurityOpt": ["no-new-privileges"], "ReadonlyRootfs": True,
                       "LogConfig": {"Type": "none"},
                       "Tmpfs": {"/tmp": TMPFS, "/workspace": TMPFS}}},
}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--jobs", type=int, default=8, help="jobs per variant per round")
    args = ap.parse_args()
    times = {name: [] for name in VARIANTS}
    for _ in range(args.rounds):
        for name, extra in VARIANTS.items():
            times[name] += bench.engine_sequential(args.jobs, extra)
    base = statistics.median(times["plain (the engine floor)"])
    for name, t in times.items():
        m = statistics.median(t)
        print("%-28s %7.1f ms per job  %.3fx  (n=%d)" % (name, m * 1000, m / base, len(t)))


if __name__ == "__main__":
    main()
