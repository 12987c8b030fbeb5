#!/usr/bin/python3
"""bench/migrate.py: live migration, tern against QEMU, in one run.

For each case a guest runs /bench/dirty (it rewrites a hot set of pages as
fast as it can), then migrates over loopback TCP to a second VMM of the same
kind started with an incoming address. Both sides are driven over QMP;
total time and downtime are the VMMs' own query-migrate figures. QEMU gets
max-bandwidth set high so neither side is throttled; both use a 300 ms
downtime limit. Cases alternate tern/QEMU; medians and ratios are printed
and, unless --no-docs, written to docs/BENCHMARKS.md between the
bench-migrate markers.

Post-copy (the "postcopy" case) switches over at once: tern with mode
postcopy, QEMU with the postcopy-ram capability on both sides and
migrate-start-postcopy right after migrate. tern's destination also reports
how many page faults waited on the network and for how long.

The "-byte" cases run /bench/touch instead, which writes one byte per 4 KiB
page over the hot set as fast as it can (the page-granular writer). The
plain cases' writer changes two words of each page (its first and last);
the "-full" cases rewrite all 512 words of every page (/bench/dirty ...
full), so nothing of a page stays as it was.

XBZRLE (pages sent again as deltas) is each VMM's default unless
--xbzrle on|off sets it for both: tern's default is on, QEMU's off (with
on, QEMU gets its default 64 MiB cache, as tern does).

usage: bench/migrate.py [--runs N] [--only CASE[,CASE...]] [--no-docs]
                        [--vmm tern|qemu] [--xbzrle on|off]
"""
import argparse
import datetime
import os
import platform
import re
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmp import Qmp  # noqa: E402
import docsection

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TERN = os.path.join(REPO, "build", "tern")
KIT = os.path.join(REPO, "build", "guest")
QEMU = "qemu-system-riscv64"
CASES = {
    "small": {"mem": "256M", "total": 64, "hot": 32, "what": "256 MiB guest, 32 MiB hot set"},
    "large": {"mem": "1G", "total": 320, "hot": 256, "what": "1 GiB guest, 256 MiB hot set"},
    "postcopy": {"mem": "256M", "total": 64, "hot": 32, "postcopy": True,
                 "what": "post-copy: 256 MiB guest, 32 MiB hot set"},
    # One byte written per 4 KiB page, as fast as the guest can (/bench/touch).
    "small-byte": {"mem": "256M", "total": 64, "hot": 32, "prog": "touch",
                   "what": "256 MiB guest, 32 MiB hot set, one byte per page"},
    "large-byte": {"mem": "1G", "total": 320, "hot": 256, "prog": "touch",
                   "what": "1 GiB guest, 256 MiB hot set, one byte per page"},
    # Every word of every page rewritten (/bench/dirty ... full): the "small"
    # and "large" writer changes only a page's first and last words.
    "small-full": {"mem": "256M", "total": 64, "hot": 32, "args": "0 full",
                   "what": "256 MiB guest, 32 MiB hot set, all of each page"},
    "large-full": {"mem": "1G", "total": 320, "hot": 256, "args": "0 full",
                   "what": "1 GiB guest, 256 MiB hot set, all of each page"},
}


class Console:
    def __init__(self, argv):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
        self.buf = b""

    def wait(self, pat, timeout=120):
        rx = re.compile(pat.encode())
        deadline = time.monotonic() + timeout
        while not rx.search(self.buf):
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {pat}: {self.buf[-400:]!r}")
            r, _, _ = select.select([self.p.stdout], [], [], 0.5)
            if r:
                d = os.read(self.p.stdout.fileno(), 65536)
                if not d:
                    raise RuntimeError(f"VMM exited waiting for {pat}: {self.buf[-400:]!r}")
                self.buf += d

    def print_lines(self, until, timeout, pattern, prefix):
        """Reads until `until` shows up (or `timeout` s pass), then prints
        every line matching `pattern` with `prefix`."""
        try:
            self.wait(until, timeout)
        except RuntimeError:
            pass
        for line in re.findall(pattern, self.buf):
            print(prefix, line.decode(), flush=True)

    def send(self, s):
        self.p.stdin.write(s.encode())
        self.p.stdin.flush()

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()


def rss_mib(pid):
    """Resident memory of a process in MiB (from /proc/PID/smaps_rollup)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            return int(re.search(r"^Rss:\s+(\d+) kB", f.read(), re.M).group(1)) >> 10
    except (OSError, AttributeError):
        return None


def corrupt_note(t, q):
    """Runs whose guest found a lost write after the migration."""
    ct = sum(x["corrupt"] is not None for x in t)
    cq = sum(x["corrupt"] is not None for x in q)
    return (f" ({ct} tern, {cq} QEMU lost a write)" if ct or cq else "")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def argv_for(vmm, case, tmp, tag, incoming=None):
    base = ["--kernel", f"{KIT}/Image", "--initrd", f"{KIT}/initramfs.cpio.gz"]
    append = "console=ttyS0 quiet"
    sock = os.path.join(tmp, f"{vmm}-{tag}.qmp")
    if vmm == "tern":
        a = [TERN, "run", *base, "--memory", case["mem"], "--append", append,
             "--name", f"bmig-{os.getpid()}-{tag}", "--qmp", sock,
             "--migrate-key", os.path.join(tmp, "key")]
        if incoming:
            a = [TERN, "run", "--incoming", incoming, "--name", f"bmig-{os.getpid()}-{tag}",
                 "--qmp", sock, "--migrate-key", os.path.join(tmp, "key")]
    else:
        a = [QEMU, "-M", "virt", "-smp", "1", "-m", case["mem"], "-nographic",
             "-kernel", f"{KIT}/Image", "-initrd", f"{KIT}/initramfs.cpio.gz", "-append", append,
             "-qmp", f"unix:{sock},server=on,wait=off"]
        if incoming:
            a += ["-incoming", incoming]
    return a, sock


def one_run(vmm, case, tmp, n, xbzrle=None):
    port = free_port()
    src_argv, src_sock = argv_for(vmm, case, tmp, f"s{n}")
    dst_argv, dst_sock = argv_for(vmm, case, tmp, f"d{n}", incoming=f"tcp:127.0.0.1:{port}")
    src = Console(src_argv)
    dst = None
    try:
        src.wait(r"TERN-GUEST-READY", 240)
        src.send(f"/bench/{case.get('prog', 'dirty')} {case['total']} {case['hot']} "
                 f"{case.get('args', '')} &\n")
        src.wait(r"DIRTY tick=2 ", 240)
        rates = re.findall(rb"rate=(\d+) pages/s", src.buf)
        guest_rate = int(rates[-1]) if rates else None
        dst = Console(dst_argv)
        post = case.get("postcopy", False)
        if vmm == "qemu":
            qd = Qmp(dst_sock)          # wait until the destination listens
            if post:
                qd.cmd("migrate-set-capabilities",
                       capabilities=[{"capability": "postcopy-ram", "state": True}])
        else:
            time.sleep(0.3)
        q = Qmp(src_sock)
        if vmm == "qemu":
            q.cmd("migrate-set-parameters", **{"max-bandwidth": 10 * 1024 ** 3, "downtime-limit": 300})
            if post:
                q.cmd("migrate-set-capabilities",
                      capabilities=[{"capability": "postcopy-ram", "state": True}])
        else:
            q.cmd("migrate-set-parameters", **{"downtime-limit": 300,
                                               "mode": "postcopy" if post else "precopy"})
        if xbzrle is not None:
            q.cmd("migrate-set-capabilities",
                  capabilities=[{"capability": "xbzrle", "state": xbzrle == "on"}])
        perf = None
        if os.environ.get("BENCH_MIG_PERF"):
            # Profile both VMMs for the migration only (see docs/MIGRATION.md).
            # System-wide (threads started later are included); report with
            # `perf report --pid SRC,DST` from the .pids file.
            out = f"{os.environ['BENCH_MIG_PERF']}-{vmm}-{n}"
            with open(out + ".pids", "w") as f:
                f.write(f"{src.p.pid},{dst.p.pid}\n")
            perf = subprocess.Popen(["perf", "record", "-a", "-g", "-q", "-o", out + ".data"],
                                    stderr=subprocess.DEVNULL)
            time.sleep(0.5)
        q.cmd("migrate", uri=f"tcp:127.0.0.1:{port}")
        if post and vmm == "qemu":
            q.cmd("migrate-start-postcopy")
        deadline = time.monotonic() + 300
        while True:
            info = q.cmd("query-migrate")
            if info.get("status") in ("completed", "failed", "cancelled"):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("migration did not finish in 300 s")
            time.sleep(0.05)
        if perf:
            perf.send_signal(2)
            perf.wait()
        if info["status"] != "completed":
            raise RuntimeError(f"{vmm}: migration {info['status']}: {info.get('error-desc')}")
        if os.environ.get("TERN_MIG_TRACE") and vmm == "tern":
            src.print_lines(r"\x00", 0.3, rb"tern: migration round[^\r\n]*", "   ")
            print("    tern: downtime breakdown (ms):", info.get("x-downtime-breakdown"), flush=True)
            if "xbzrle-cache" in info:
                print("    tern: xbzrle:", info["xbzrle-cache"], flush=True)
            dst.print_lines(r"DIRTY tick=", 30, rb"tern: (?:switched|device)[^\r\n]*", "    dst:")
        dst.wait(r"DIRTY tick=\d+ ", 120)
        first = int(re.search(rb"DIRTY tick=(\d+) ", dst.buf).group(1))
        dst.wait(rf"DIRTY tick={first + 2} ", 120)
        # A guest that finds a corrupt page is reported (the migration lost
        # a write): its times stay in the samples, marked, not in the medians.
        bad = re.search(rb"DIRTY tick=\d+ pages_dirtied=\d+ verify=FAIL:(\d+)", dst.buf)
        r = {"total": info["total-time"], "downtime": info["downtime"],
             "rounds": info.get("x-rounds"), "mb": info["ram"]["transferred"] / 1e6,
             "dst_rss": rss_mib(dst.p.pid), "guest_rate": guest_rate,
             "corrupt": int(bad.group(1)) if bad else None}
        if post and vmm == "tern":
            pc = Qmp(dst_sock).cmd("query-migrate").get("x-postcopy", {})
            r["faults"] = pc.get("faults")
            r["wait_median_us"] = pc.get("fault-wait-median-us")
        return r
    finally:
        src.kill()
        if dst:
            dst.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_MIG_RUNS", "3")))
    ap.add_argument("--only", help="comma-separated cases: " + ", ".join(CASES))
    ap.add_argument("--no-docs", action="store_true")
    ap.add_argument("--vmm", choices=("tern", "qemu"), help="run one VMM only (for profiling; implies --no-docs)")
    ap.add_argument("--xbzrle", choices=("on", "off"),
                    help="set XBZRLE on both VMMs (default: each VMM's own; implies --no-docs)")
    a = ap.parse_args()
    cases = a.only.split(",") if a.only else list(CASES)
    for c in cases:
        if c not in CASES:
            ap.error(f"--only: unknown case {c!r} (known: {', '.join(CASES)})")
    started = datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC")
    load0 = os.getloadavg()[0]
    t0 = time.monotonic()
    res = {}
    failures = []
    global TERN
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "key"), "wb") as f:
            f.write(os.urandom(32))
        os.chmod(os.path.join(tmp, "key"), 0o600)   # tern refuses a key others can read
        # Run a copy, so a rebuild during the run cannot mix two binaries.
        shutil.copy2(TERN, os.path.join(tmp, "tern"))
        TERN = os.path.join(tmp, "tern")
        for c in cases:
            for n in range(a.runs):
                for vmm in ((a.vmm,) if a.vmm else ("tern", "qemu")):
                    try:
                        r = one_run(vmm, CASES[c], tmp, f"{c}{n}", a.xbzrle)
                    except RuntimeError as e:
                        # A VMM that fails a run is reported, not hidden.
                        failures.append(f"{c} {vmm} run {n + 1}: {str(e)[:200]}")
                        print(f"  {c} {n + 1}/{a.runs} {vmm:5} FAILED: {str(e)[:200]}", flush=True)
                        continue
                    res.setdefault((c, vmm), []).append(r)
                    extra = (f", {r['faults']} faults waited {r['wait_median_us']} us (median)"
                             if r.get("faults") is not None else "")
                    print(f"  {c} {n + 1}/{a.runs} {vmm:5} total {r['total']} ms, downtime "
                          f"{r['downtime']} ms, {r['mb']:.0f} MB sent, {r['rounds']} rounds, destination RSS {r['dst_rss']} MiB, "
                          f"guest wrote {r['guest_rate']} pages/s before{extra}" +
                          (f"; THE GUEST FOUND PAGE {r['corrupt']} CORRUPT" if r["corrupt"] is not None else ""),
                          flush=True)
    rows = ["| case | tern total (ms) | QEMU total (ms) | total tern/QEMU | tern downtime (ms) "
            "| QEMU downtime (ms) | downtime tern/QEMU | runs |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    samples = []
    for c in cases:
        t, q = res.get((c, "tern"), []), res.get((c, "qemu"), [])
        if not t or not q:
            rows.append(f"| {CASES[c]['what']} | no successful run on " +
                        ("tern" if not t else "QEMU") + " | | | | | | |")
            continue
        mt, mq = statistics.median(x["total"] for x in t), statistics.median(x["total"] for x in q)
        dt, dq = statistics.median(x["downtime"] for x in t), statistics.median(x["downtime"] for x in q)
        rows.append(f"| {CASES[c]['what']} | {mt:.0f} | {mq:.0f} | {mt / mq:.2f} | {dt:.0f} | {dq:.0f} "
                    f"| {dt / dq if dq else float('nan'):.2f} | {len(t)}/{len(q)}{corrupt_note(t, q)} |")
        for vmm, lst in (("tern", t), ("QEMU", q)):
            samples.append(f"- {c} {vmm}: total " + ", ".join(str(x["total"]) for x in lst) +
                           " ms; downtime " + ", ".join(str(x["downtime"]) for x in lst) + " ms" +
                           ("; faults that waited " + ", ".join(str(x["faults"]) for x in lst) +
                            "; median wait " + ", ".join(str(x["wait_median_us"]) for x in lst) + " us"
                            if lst[0].get("faults") is not None else "") +
                           ("; runs whose guest found a corrupt page: " +
                            ", ".join(str(i + 1) for i, x in enumerate(lst) if x["corrupt"] is not None)
                            if any(x["corrupt"] is not None for x in lst) else ""))
    table = "\n".join(rows)
    print(table)
    for f in failures:
        print("failed:", f)
    if a.no_docs or a.vmm or a.xbzrle:
        return
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    qv = subprocess.run([QEMU, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    section = f"""<!-- bench-migrate:begin -->
## Live migration (latest run)

Generated by `bench/migrate.py`, started {started}; {a.runs} run(s) per VMM and case, {time.monotonic() - t0:.0f} s in all.
The guest runs `/bench/dirty TOTAL HOT` (fills TOTAL MiB, rewrites the HOT MiB as fast as it can: the
first and last words of each page; in the "all of each page" cases `/bench/dirty TOTAL HOT 0 full`,
all 512 words; in the "one byte per page" cases `/bench/touch TOTAL HOT`, one byte per 4 KiB page) and
migrates over loopback TCP; total time and downtime are each VMM's own `query-migrate` figures. QEMU
gets `max-bandwidth` 10 GiB/s; both use a 300 ms downtime limit. After each migration the guest must
go on verifying every page on the destination: a run whose guest finds a corrupt page is counted in the
medians but marked ("lost a write") in the runs column and the samples.

- Machine: {platform.platform()}; {os.cpu_count()} CPUs; 1-min load average {load0:.2f} before, {os.getloadavg()[0]:.2f} after
- tern: commit {commit}; QEMU: {qv}

{table}

Samples, in run order:

""" + "\n".join(samples) + ("\n\nFailed runs (left out of the medians):\n\n" +
                            "\n".join("- " + f for f in failures) if failures else "") + \
        "\n<!-- bench-migrate:end -->\n"
    docsection.replace_section("migrate", section)


if __name__ == "__main__":
    sys.exit(main())
