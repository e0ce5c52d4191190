#!/usr/bin/env python3
"""Idle RSS by mapping: each worker-agent variant started idle (engine reachable, no job),
its /proc/PID/smaps summed per mapped file (Rss, Pss, Anonymous in KiB), rounds
interleaved so that every variant is measured under the same conditions. A variant is
BINARY or ENV=VALUE,...:BINARY (environment added for that start), e.g.

    bench/rss.py old/worker-agent GNUTLS_NO_IMPLICIT_INIT=1:build/src/worker-agent

Also measures two C programs built here, the floor of any libcurl program on this system:
one that only links libcurl (no call), one that calls curl_global_init and
curl_multi_init, and that one initialising OpenSSL and GnuTLS as worker-agent does
(--no-floor skips them)."""

import argparse
import collections
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

FLOOR_C = r"""
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "plain") == 0) {
    /* what worker-agent does first (src/docker/curl_multi.cc) */
    OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS |
                        OPENSSL_INIT_NO_ADD_ALL_CIPHERS | OPENSSL_INIT_NO_ADD_ALL_DIGESTS, NULL);
  }
  if (argc > 1) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    curl_multi_init();
    curl_easy_init();
  }
  printf("ready\n");
  fflush(stdout);
  pause();
}
"""


def smaps(pid):
    rss, pss, anon = collections.Counter(), collections.Counter(), collections.Counter()
    name = None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            p = line.split()
            if re.match(r"^[0-9a-f]+-[0-9a-f]+$", p[0]):
                name = os.path.basename(p[5]) if len(p) > 5 else "[anon]"
                name = re.sub(r"\.so\.[0-9.]+$", ".so", name)
            elif p[0] == "Rss:":
                rss[name] += int(p[1])
            elif p[0] == "Pss:":
                pss[name] += int(p[1])
            elif p[0] == "Anonymous:":
                anon[name] += int(p[1])
    return {k: {"rss": rss[k], "pss": pss[k], "anon": anon[k]} for k in rss}


def variant_parts(spec):
    env, binary = {}, spec
    if ":" in spec and "=" in spec.split(":", 1)[0]:
        settings, binary = spec.split(":", 1)
        env = dict(kv.split("=", 1) for kv in settings.split(","))
    return env, binary


def measure_worker(spec):
    env, binary = variant_parts(spec)
    base = {k: v for k, v in os.environ.items() if k != "GNUTLS_NO_IMPLICIT_INIT"}
    proc, _ = bench.start_worker_agent(binary, {
        "worker_id": "rss-" + os.urandom(3).hex(), "listen": "127.0.0.1", "port": 0,
        "shutdown_drain_seconds": 0, "jobs_path": tempfile.mkdtemp(prefix="wa-rss-")},
        env=dict(base, **env))
    try:
        time.sleep(2.0)  # past the first ping, /version, /info and the start-up sweep
        return smaps(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def measure_floor(binary, args):
    proc = subprocess.Popen([binary] + args, stdout=subprocess.PIPE)
    proc.stdout.readline()
    try:
        return smaps(proc.pid)
    finally:
        proc.kill()
        proc.wait()


def total(m, key="rss"):
    return sum(v[key] for v in m.values())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("variants", nargs="+")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--top", type=int, default=14)
    ap.add_argument("--no-floor", action="store_true")
    ap.add_argument("--json")
    args = ap.parse_args()
    runs = collections.OrderedDict((v, []) for v in args.variants)
    if not args.no_floor:
        tmp = tempfile.mkdtemp(prefix="wa-rss-floor-")
        src = os.path.join(tmp, "floor.c")
        with open(src, "w") as f:
            f.write(FLOOR_C)
        floor = os.path.join(tmp, "floor")
        subprocess.run(["cc", "-O2", src, "-o", floor, "-lcurl", "-lcrypto"], check=True)
    for _ in range(args.rounds):
        for v in args.variants:
            runs[v].append(measure_worker(v))
        if not args.no_floor:
            runs.setdefault("C: links libcurl", []).append(measure_floor(floor, []))
            runs.setdefault("C: curl_global_init + curl_multi_init", []).append(
                measure_floor(floor, ["init"]))
            runs.setdefault("C: the same, OpenSSL and GnuTLS initialised as worker-agent does",
                            []).append(measure_floor("/usr/bin/env",
                                                     ["GNUTLS_NO_IMPLICIT_INIT=1", floor, "plain"]))
    summary = {}
    for v, ms in runs.items():
        last = ms[-1]
        summary[v] = {"rss_kib_median": statistics.median(total(m) for m in ms),
                      "pss_kib_median": statistics.median(total(m, "pss") for m in ms),
                      "anon_kib_median": statistics.median(total(m, "anon") for m in ms),
                      "by_mapping_last_round": last}
    names = sorted({k for s in summary.values() for k in s["by_mapping_last_round"]},
                   key=lambda k: -max(s["by_mapping_last_round"].get(k, {"rss": 0})["rss"]
                                      for s in summary.values()))
    cols = list(summary)
    print("Rss KiB by mapping (last round); columns:")
    for i, c in enumerate(cols):
        print("  [%d] %s" % (i, c))
    print("%-28s" % "mapping" + "".join("%9s" % ("[%d]" % i) for i in range(len(cols))))
    for n in names[:args.top]:
        print("%-28s" % n + "".join("%9d" % summary[c]["by_mapping_last_round"].get(n, {"rss": 0})["rss"]
                                     for c in cols))
    print("%-28s" % "total Rss (median)" + "".join("%9d" % summary[c]["rss_kib_median"] for c in cols))
    print("%-28s" % "total Pss (median)" + "".join("%9d" % summary[c]["pss_kib_median"] for c in cols))
    print("%-28s" % "Anonymous (median)" + "".join("%9d" % summary[c]["anon_kib_median"] for c in cols))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rounds": args.rounds, "variants": summary}, f, indent=1)


if __name__ == "__main__":
    main()
