#!/usr/bin/python3
# cluster.py: `tern cluster up` of a 4-machine project (one database first,
# then three machines in parallel, each behind a console gate) from start to
# all-ready, against the sum of the same machines' own boot times (each
# booted alone, one after another: what a fixed-order script would take).
# Usage: bench/cluster.py [--runs N]   Env: TERN_BIN
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TERN = Path(os.environ.get("TERN_BIN", REPO / "build" / "tern"))
KIT = REPO / "build" / "guest"
GATE = "TERN-GUEST-READY"


def project(name, machines):
    """machines: [(name, priority, depends)]"""
    body = ""
    for m, prio, dep in machines:
        body += (f'  <machine name="{m}" template="kit" priority="{prio}">\n'
                 f'    <append>console=ttyS0 quiet</append>\n'
                 + (f'    <depends on="{dep}"/>\n' if dep else "")
                 + f'    <ready console="{GATE}" timeout="300"/>\n  </machine>\n')
    return f"""<?xml version="1.0"?>
<!DOCTYPE project SYSTEM "tern-cluster.dtd">
<project name="{name}">
  <template name="kit" memory="128M">
    <kernel path="{KIT / 'Image'}"/>
    <initrd path="{KIT / 'initramfs.cpio.gz'}"/>
  </template>
{body}</project>
"""


def cluster(work, env, name, machines):
    """Brings the project up and down; returns (up seconds, {machine: boot s})."""
    f = work / f"{name}.xml"
    f.write_text(project(name, machines))
    folder = work / name
    t0 = time.monotonic()
    r = subprocess.run([str(TERN), "cluster", "up", str(f), "--dir", str(folder)], env=env,
                       capture_output=True, text=True, timeout=900)
    up = time.monotonic() - t0
    try:
        if r.returncode != 0:
            sys.exit(f"bench/cluster: up failed:\n{r.stdout}\n{r.stderr}")
        st = json.loads(subprocess.run([str(TERN), "cluster", "status", name, "--json"], env=env,
                                       capture_output=True, text=True, check=True).stdout)
        boots = {m["name"]: m["ready_at"] - m["started_at"] for m in st["machines"]}
    finally:
        subprocess.run([str(TERN), "cluster", "down", name, "--timeout", "3", "--purge"], env=env,
                       capture_output=True, timeout=300)
    return up, boots


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=1)
    a = ap.parse_args()
    if not TERN.is_file() or not (KIT / "Image").is_file():
        sys.exit("bench/cluster: build tern and the guest kit first (make all guest)")
    work = Path(tempfile.mkdtemp(prefix="tern-bench-cluster-"))
    env = dict(os.environ, TERN_CLUSTERS_DIR=str(work / "reg"))
    four = [("db", 10, None), ("web1", 20, "db"), ("web2", 20, "db"), ("web3", 20, "db")]
    tag = f"b{os.getpid()}"
    ups, sums = [], []
    try:
        for run in range(a.runs):
            # Each machine alone, one after another.
            alone = {}
            for m, _, _ in four:
                _, boots = cluster(work, env, f"{tag}s{run}{m}", [(m, 99, None)])
                alone[m] = boots[m]
            up, boots = cluster(work, env, f"{tag}c{run}", four)
            ups.append(up)
            sums.append(sum(alone.values()))
            print(f"run {run + 1}: up to all-ready {up:.1f} s; own boot times "
                  + ", ".join(f"{m} {alone[m]:.1f}" for m in alone)
                  + f" (sum {sums[-1]:.1f} s); in the cluster "
                  + ", ".join(f"{m} {boots[m]:.1f}" for m in boots), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    up, total = statistics.median(ups), statistics.median(sums)
    print(f"BENCH cluster-up 4 machines (1 + 3 parallel, console gates): {up:.1f} s to all-ready "
          f"vs {total:.1f} s sum of own boots; ratio {up / total:.2f} ({os.cpu_count()} host cores)")


if __name__ == "__main__":
    main()
