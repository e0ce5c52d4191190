#!/usr/bin/env python3
"""The command blocks of a Markdown guide (docs/OPERATIONS.md), for the tests that run
them. A fenced block's info string names its language and, after it, what the tests do
with it:

  ```sh test=NAME          run as written, in a booted systemd container, by
                           tests/package/install-test.sh at the step that names NAME
  ```sh                    syntax-checked here (bash -n, shellcheck)
  ```yaml promtool=config  a prometheus.yml: promtool check config, beside the rules
  ```yaml promtool=rules   a Prometheus rule file: promtool check rules
  ```yaml                  a piece of the worker's configuration: worker-agent
                           --check-config on it (WORKER_AGENT_BIN, default build/src/...)

Usage:
  doc_blocks.py FILE names        the test=NAME names, in the file's order
  doc_blocks.py FILE show NAME    the commands of the sh block test=NAME
  doc_blocks.py FILE check        the checks above for every block but test=NAME ones,
                                  which are syntax-checked too
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

# A fence may be indented (a block inside a list item): its lines lose that indent.
FENCE = re.compile(r"^([ \t]*)```(\S+)[ \t]*([^\n]*)\n(.*?)^\1```[ \t]*$", re.S | re.M)
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))


def blocks(path):
    """(language, {key: value} of the info string, body, line number) of every block."""
    with open(path) as f:
        text = f.read()
    out = []
    for m in FENCE.finditer(text):
        indent = m.group(1)
        tags = dict(item.split("=", 1) for item in m.group(3).split() if "=" in item)
        line = text.count("\n", 0, m.start()) + 1
        body = "".join(l[len(indent):] if l.startswith(indent) else l
                       for l in m.group(4).splitlines(keepends=True))
        out.append((m.group(2), tags, body, line))
    return out


def names(path):
    found = [tags["test"] for lang, tags, _, _ in blocks(path) if lang == "sh" and "test" in tags]
    dupes = {n for n in found if found.count(n) > 1}
    if dupes:
        sys.exit("%s: test names used twice: %s" % (path, ", ".join(sorted(dupes))))
    return found


def show(path, name):
    for lang, tags, body, _ in blocks(path):
        if lang == "sh" and tags.get("test") == name:
            return body
    sys.exit("%s: no sh block test=%s" % (path, name))


def run(argv, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, **kwargs)


def check(path):
    problems = []
    counts = {}
    shellcheck = shutil.which("shellcheck")
    promtool = shutil.which("promtool")
    worker = os.environ.get("WORKER_AGENT_BIN", os.path.join(REPO, "build/src/worker-agent"))
    prometheus = {}
    for lang, tags, body, line in blocks(path):
        where = "%s:%d" % (path, line)
        if lang == "sh":
            r = run(["bash", "-n"], input=body)
            if r.returncode != 0:
                problems.append("%s: bash -n: %s" % (where, r.stderr.strip()))
            if shellcheck:
                r = run([shellcheck, "--shell=bash", "--severity=style", "-"], input=body)
                if r.returncode != 0:
                    problems.append("%s: shellcheck:\n%s" % (where, r.stdout.strip()))
            counts["sh"] = counts.get("sh", 0) + 1
        elif lang == "yaml" and "promtool" in tags:
            prometheus[tags["promtool"]] = (body, where)
        elif lang == "yaml":
            with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
                f.write(body)
                f.flush()
                r = run([worker, "--config", f.name, "--check-config"], env=dict(os.environ))
            if r.returncode != 0:
                problems.append("%s: worker-agent --check-config: %s" % (where, r.stderr.strip()))
            counts["yaml"] = counts.get("yaml", 0) + 1
    if prometheus:
        if not promtool:
            problems.append("promtool is missing (make deps installs prometheus)")
        else:
            problems += check_prometheus(promtool, prometheus)
            counts["prometheus"] = len(prometheus)
    if not shellcheck:
        problems.append("shellcheck is missing (make deps)")
    return problems, counts


def check_prometheus(promtool, files):
    """The rules and the configuration as they would sit in /etc/prometheus: the
    configuration names the rule file and a token file beside it (relative paths)."""
    problems = []
    with tempfile.TemporaryDirectory() as d:
        config = files.get("config")
        rules = files.get("rules")
        if rules:
            body, where = rules
            with open(os.path.join(d, "worker-agent-alerts.yml"), "w") as f:
                f.write(body)
            r = run([promtool, "check", "rules", os.path.join(d, "worker-agent-alerts.yml")])
            if r.returncode != 0:
                problems.append("%s: promtool check rules:\n%s%s" % (where, r.stdout, r.stderr))
        if config:
            body, where = config
            with open(os.path.join(d, "worker-agent.token"), "w") as f:
                f.write("0123456789abcdef0123456789abcdef\n")
            with open(os.path.join(d, "prometheus.yml"), "w") as f:
                f.write(body)
            r = run([promtool, "check", "config", os.path.join(d, "prometheus.yml")])
            if r.returncode != 0:
                problems.append("%s: promtool check config:\n%s%s" % (where, r.stdout, r.stderr))
    return problems


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    path, command = sys.argv[1], sys.argv[2]
    if command == "names":
        print("\n".join(names(path)))
    elif command == "show" and len(sys.argv) == 4:
        sys.stdout.write(show(path, sys.argv[3]))
    elif command == "check":
        names(path)
        problems, counts = check(path)
        for p in problems:
            print("FAIL: " + p)
        if problems:
            sys.exit(1)
        print("%s: %d shell blocks (%d run by the package test), %d configuration pieces, "
              "%d Prometheus files: all check" % (
                  path, counts.get("sh", 0), len(names(path)), counts.get("yaml", 0),
                  counts.get("prometheus", 0)))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
