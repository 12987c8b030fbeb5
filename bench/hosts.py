#!/usr/bin/python3
"""bench/hosts.py: live migration between hosts, the seed's Xen experiment.

Three hosts as network namespaces on one bridge (tests/integration/netns.py),
each with a ternd, plus one etcd. A guest running /bench/dirty (32 MiB
rewritten as fast as it can, 256 MiB of RAM) migrates back and forth between
host 1 and host 2 through the agents' API while host 3 pings it every 10 ms.
For each run: the migration's total time (the VMM's and the API client's),
the VM's downtime and the longest gap in the ping replies. Medians are
printed and, unless --no-docs, written to docs/BENCHMARKS.md between the
bench-hosts markers, next to the seed's Xen figures (70 s, 2 s gap).

usage: bench/hosts.py [--runs N] [--no-docs]   (needs root: ip netns)
"""
import argparse
import datetime
import os
import statistics
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from netns import Cluster  # noqa: E402
import docsection


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-docs", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/hosts.py: needs root (network namespaces); skipped", file=sys.stderr)
        return 0
    rows = []
    with tempfile.TemporaryDirectory(prefix="tern-bench-hosts-") as tmp:
        c = Cluster(tmp, n=3)
        try:
            target = c.pingable_vm("benchvm", "h1", ["h1", "h2"], "52:54:00:77:00:02")
            where = "h1"
            for i in range(args.runs):
                to = "h2" if where == "h1" else "h1"
                r = c.migrate_with_ping("benchvm", where, to, target)
                where = to
                rows.append(r)
                print(f"run {i + 1}: {r['total_ms']} ms in the VMM, {r['client_s'] * 1000:.0f} ms for the client, "
                      f"downtime {r['downtime_ms']} ms, longest ping gap {r['gap_ms']:.0f} ms, "
                      f"{r['rarps']} RARP announces", flush=True)
        finally:
            c.close()
    med = {k: statistics.median(r[k] for r in rows) for k in ("total_ms", "client_s", "downtime_ms", "gap_ms")}
    print(f"median of {len(rows)}: migration {med['total_ms']:.0f} ms ({med['client_s']:.2f} s for the client), "
          f"downtime {med['downtime_ms']:.0f} ms, ping gap {med['gap_ms']:.0f} ms "
          f"(seed, Xen: 70 s, 2 s gap)")
    if args.no_docs:
        return 0
    lo_hi = {k: (min(r[k] for r in rows), max(r[k] for r in rows)) for k in ("total_ms", "downtime_ms", "gap_ms")}
    section = f"""<!-- bench-hosts:begin -->
## Live migration between hosts (bench/hosts.py)

{datetime.date.today().isoformat()}, `bench/hosts.py --runs {len(rows)}`: three hosts as network
namespaces on one bridge of this machine, a ternd on each, one etcd. A
256 MiB guest rewriting 32 MiB as fast as it can migrates between host 1
and host 2 through the agents' API while host 3 pings it every 10 ms.

| | tern (median of {len(rows)}; range) | seed (Xen, 3 hosts) |
|---|---|---|
| total migration time | {med['total_ms'] / 1000:.2f} s ({lo_hi['total_ms'][0] / 1000:.2f}-{lo_hi['total_ms'][1] / 1000:.2f}); {med['client_s']:.2f} s as the API client sees it | 70 s |
| VM downtime | {med['downtime_ms']:.0f} ms ({lo_hi['downtime_ms'][0]}-{lo_hi['downtime_ms'][1]}) | - |
| longest gap in the pings | {med['gap_ms']:.0f} ms ({lo_hi['gap_ms'][0]:.0f}-{lo_hi['gap_ms'][1]:.0f}) | 2 s |

The gap is longer than the downtime by the ping interval, the way back
through the bridges, and the time until the destination's announce (RARP,
50 ms after the switch-over) reaches them. The seed moved a whole Xen
domain over a real network; here the hosts share one machine's loopback
speed and its 2 cores, so the figures show the protocol's own cost.
<!-- bench-hosts:end -->
"""
    path = docsection.replace_section("hosts", section)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
