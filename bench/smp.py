#!/usr/bin/python3
"""bench/smp.py: 2-hart scaling, tern against QEMU (MTTCG), in one run.

The same CPU-bound job, /bench/par (tests/guest/bench/par.c: CRC-32 chained
over 48 chunks of a 768 KiB buffer, PASSES times), runs with 1 thread on a
1-hart guest and with 2 threads on a 2-hart guest; the total work is the same,
so speedup = t1 / t2 (2.0 is perfect scaling on a host with 2 free cores).
QEMU runs with -accel tcg,thread=multi (one host thread per vCPU). Every
sample is a fresh boot; runs alternate tern / QEMU and 1 / 2 harts. The time
is the guest's own (CLOCK_MONOTONIC, which both VMMs keep in step with the
host); "host cores" is the VMM process's CPU time over the job's wall time.
Each boot first runs a short checked job (the parallel result recomputed on
one thread), and every timed job must give the same result on both VMMs.

Prints medians, speedups, tern/QEMU ratios and every sample and, unless
--no-docs or --vmm, writes docs/BENCHMARKS.md between the bench-smp markers.

usage: bench/smp.py [--runs N] [--passes P] [--vmm tern|qemu] [--no-docs]
"""
import argparse
import datetime
import fcntl
import os
import re
import shlex
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as B  # noqa: E402
import docsection  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KIT = os.path.join(REPO, "build", "guest")
APPEND = "console=ttyS0 quiet"
MEM = "256M"
HARTS = (1, 2)
BOOT_TIMEOUT = 300.0
JOB_TIMEOUT = 600.0
GOAL = 1.8          # issue 16 §2: a 2-hart job at least 1.8x faster than 1 hart
PAR_RE = re.compile(r"PAR threads=(\d+) passes=(\d+) mib=([\d.]+) ms=([\d.]+) "
                    r"result=([0-9a-f]{16}) (\S+)")


def vmm_argv(vmm, exe, harts):
    kernel, initrd = os.path.join(KIT, "Image"), os.path.join(KIT, "initramfs.cpio.gz")
    if vmm == "tern":
        return [exe, "run", "--kernel", kernel, "--initrd", initrd, "--memory", MEM,
                "--cpus", str(harts), "--append", APPEND]
    return [exe, "-M", "virt", "-smp", str(harts), "-accel", "tcg,thread=multi", "-m", MEM,
            "-nographic", "-kernel", kernel, "-initrd", initrd, "-append", APPEND]


def par_job(p, cmd, deadline):
    """Runs one /bench/par command on the console; returns (match, wall s,
    host cores used by the VMM process meanwhile)."""
    tck = os.sysconf("SC_CLK_TCK")
    c0, w0 = B.proc_cpu_ticks(p.pid), time.monotonic()
    p.write((cmd + "\n").encode())
    while True:
        line = p.next_line(deadline, "PAR line for '%s'" % cmd)
        if line is None:
            raise B.RunFailed("guest output ended during '%s'" % cmd)
        text = line.decode("utf-8", "replace")
        m = PAR_RE.search(text)
        if m:
            wall = time.monotonic() - w0
            return m, wall, (B.proc_cpu_ticks(p.pid) - c0) / tck / wall
        if re.search(r"\bpar: |tbench: |not found", text):
            raise B.RunFailed("'%s' failed in the guest: %s" % (cmd, text.strip()))


def one_sample(vmm, exe, harts, passes):
    """Boots a guest with `harts` harts, checks /bench/par, times one job;
    returns (guest seconds, host cores, result hex)."""
    p = B.VMProc(vmm_argv(vmm, exe, harts), REPO)
    try:
        p.wait_ready(time.monotonic() + BOOT_TIMEOUT)
        deadline = time.monotonic() + JOB_TIMEOUT
        m, _, _ = par_job(p, "/bench/par %d 8" % harts, deadline)
        if m.group(6) != "ok":
            raise B.RunFailed("the checked warm-up job says %s: %s" % (m.group(6), m.group(0)))
        m, _, cores = par_job(p, "/bench/par -n %d %d" % (harts, passes), deadline)
        p.write(b"poweroff -f\n")
        p.wait_exit(time.monotonic() + B.STOP_GRACE)
        return float(m.group(4)) / 1e3, cores, m.group(5)
    except B.RunFailed as e:
        e.tail = p.tail_text()
        raise
    finally:
        p.close()


def med(xs):
    return statistics.median(xs) if xs else None


def fmt(x, f="%.2f"):
    return f % x if x is not None else "-"


def ratio(a, b):
    return a / b if a and b else None


def main():
    ap = argparse.ArgumentParser(description="2-hart scaling of a CPU-bound guest job, "
                                 "tern against QEMU (MTTCG).")
    ap.add_argument("--runs", type=int, default=3, help="samples per VMM and hart count (3)")
    ap.add_argument("--passes", type=int, default=400,
                    help="/bench/par passes over its 768 KiB buffer (400: 300 MiB of CRC-32)")
    ap.add_argument("--vmm", choices=("tern", "qemu"), help="run one VMM only (no docs)")
    ap.add_argument("--tern", default=os.environ.get("TERN_BIN", os.path.join(REPO, "build", "tern")))
    ap.add_argument("--qemu", default=os.environ.get("QEMU_BIN", "qemu-system-riscv64"))
    ap.add_argument("--no-docs", action="store_true", help="leave docs/BENCHMARKS.md alone")
    a = ap.parse_args()
    if a.runs < 1 or a.passes < 1:
        ap.error("--runs and --passes want a positive number")
    vmms = [a.vmm] if a.vmm else ["tern", "qemu"]
    qemu = shutil.which(a.qemu)
    if "qemu" in vmms and not qemu:
        ap.error("QEMU ('%s') not found: install qemu-system-misc or set --qemu" % a.qemu)
    if "tern" in vmms and not os.access(a.tern, os.X_OK):
        ap.error("tern binary '%s' is missing: run make (or set --tern)" % a.tern)
    try:
        manifest = open(os.path.join(KIT, "kit-manifest")).read()
    except OSError:
        manifest = ""
    if not re.search(r"^bench .*\bpar\b", manifest, re.M):
        ap.error("the guest kit in %s has no /bench/par: run guest/build-kit.sh" % KIT)

    # Benchmarks on this 2-core machine must never overlap (bench/run.sh's lock).
    lock = open("/tmp/tern-bench.lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        print("bench-smp: another benchmark holds /tmp/tern-bench.lock; waiting", flush=True)
        fcntl.flock(lock, fcntl.LOCK_EX)
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load0 = os.getloadavg()[0]
    if load0 > 0.5:
        print("WARNING: 1-min load average is %.2f; other work on this machine will skew "
              "the figures (2 free host cores are needed for a 2.0x speedup)" % load0)
    names = {"tern": "tern", "qemu": "QEMU"}
    t_all = time.monotonic()
    secs = {(v, h): [] for v in vmms for h in HARTS}
    cores = {(v, h): [] for v in vmms for h in HARTS}
    results, failures = set(), []
    with tempfile.TemporaryDirectory(prefix="tern-bench-smp.") as tmp:
        exe = {"qemu": qemu}
        if "tern" in vmms:
            # A private copy: a rebuild of build/tern mid-run cannot mix binaries.
            exe["tern"] = os.path.join(tmp, "tern")
            shutil.copy2(a.tern, exe["tern"])
        print("bench-smp: %d run(s) of /bench/par (%d passes, %.0f MiB) per VMM and hart count"
              % (a.runs, a.passes, a.passes * 0.75), flush=True)
        for r in range(a.runs):
            for v in vmms:
                for h in HARTS:
                    print("  %d/%d %-4s %d hart(s): " % (r + 1, a.runs, names[v], h), end="",
                          flush=True)
                    try:
                        s, c, res = one_sample(v, exe[v], h, a.passes)
                    except B.RunFailed as e:
                        print("FAILED: %s\n%s" % (e, getattr(e, "tail", "")))
                        failures.append("%s %d hart(s) run %d: %s" % (names[v], h, r + 1, e))
                        continue
                    secs[(v, h)].append(s)
                    cores[(v, h)].append(c)
                    results.add(res)
                    print("%.2f s, %.2f host cores, result %s" % (s, c, res), flush=True)
    elapsed = time.monotonic() - t_all
    load1 = os.getloadavg()[0]
    if len(results) > 1:
        failures.append("the job's result differs between runs: %s" % ", ".join(sorted(results)))

    t = {k: med(x) for k, x in secs.items()}
    speed = {v: ratio(t[(v, 1)], t[(v, 2)]) for v in vmms}
    table = ["| /bench/par, %d MiB of CRC-32 | 1 hart, 1 thread (s) | 2 harts, 2 threads (s) "
             "| speedup t1/t2 | host cores used (1 / 2 harts) | runs |" % round(a.passes * 0.75),
             "|---|---:|---:|---:|---:|---:|"]
    for v in vmms:
        table.append("| %s | %s | %s | %s | %s / %s | %d/%d |" % (
            names[v], fmt(t[(v, 1)]), fmt(t[(v, 2)]), fmt(speed[v]), fmt(med(cores[(v, 1)])),
            fmt(med(cores[(v, 2)])), len(secs[(v, 1)]), len(secs[(v, 2)])))
    notes = []
    if len(vmms) == 2:
        notes.append("tern/QEMU speed (QEMU's time / tern's; above 1: tern faster): "
                     "1 hart %s, 2 harts %s; tern's speedup / QEMU's: %s" % (
                         fmt(ratio(t[("qemu", 1)], t[("tern", 1)])),
                         fmt(ratio(t[("qemu", 2)], t[("tern", 2)])),
                         fmt(ratio(speed["tern"], speed["qemu"]))))
    if "tern" in vmms and speed["tern"]:
        notes.append("Goal (issue 16 §2): tern's 2-hart speedup >= %.1f: %s (%.2f)" % (
            GOAL, "met" if speed["tern"] >= GOAL else "not met", speed["tern"]))
    samples = ["- %s, %d hart(s): %s s; host cores %s" % (
        names[v], h, ", ".join("%.2f" % x for x in secs[(v, h)]) or "none",
        ", ".join("%.2f" % x for x in cores[(v, h)]) or "none") for v in vmms for h in HARTS]
    info = B.machine_info(argparse.Namespace(repo=REPO, qemu=a.qemu),
                          a.tern if "tern" in vmms else "")
    print("\nresults (started %s; %.0f s in all):" % (started, elapsed))
    print("\n".join(table))
    for n in notes:
        print(n)
    print("samples (guest seconds):")
    print("\n".join(samples))
    print("machine: %s; %s; %d CPUs; load average %.2f before, %.2f after"
          % (info["uname"], info["cpu"], info["nproc"], load0, load1))
    if failures:
        print("\nbench-smp: %d failure(s):" % len(failures))
        for f in failures:
            print("  " + f)
        print("bench-smp: docs/BENCHMARKS.md left unchanged")
        return 1
    if a.no_docs or a.vmm:
        return 0
    invocation = "bench/smp.py" + "".join(" " + shlex.quote(x) for x in sys.argv[1:])
    cmds = [shlex.join(vmm_argv(v, names[v] if v == "tern" else "qemu-system-riscv64", 2))
            .replace(REPO + "/", "") for v in vmms]
    section = f"""<!-- bench-smp:begin -->
## SMP: 2-hart scaling (latest run)

Generated by `{invocation}`, started {started}; {a.runs} run(s) per VMM and hart count,
{elapsed:.0f} s in all. The guest job is `/bench/par` (tests/guest/bench/par.c): CRC-32 chained
{a.passes} times over each of 48 chunks of a 768 KiB buffer, run with 1 thread on a 1-hart guest
(`/bench/par -n 1 {a.passes}`) and with 2 threads, one pinned per hart, on a 2-hart guest
(`/bench/par -n 2 {a.passes}`): the same total work, so speedup = t1 / t2 (2.0 at best on 2 free
host cores). Times are the guest's own; each sample is a fresh boot whose checked warm-up job
(`/bench/par 2 8` on 2 harts: the parallel result recomputed serially) passed, and every timed job
gave the same result. "Host cores" is the VMM process's CPU time over the job's wall time.

- Machine: {info["uname"]}; {info["cpu"]}; {info["nproc"]} CPUs; 1-min load average {load0:.2f} before, {load1:.2f} after
- tern: commit {info["commit"]} (sha256 {info["tern_sha"]}); QEMU: {info["qemu"]}, `-accel tcg,thread=multi`

""" + "\n".join(table) + "\n\n" + "\n".join("- " + n for n in notes) + """

Samples (guest seconds), per VMM and hart count:

""" + "\n".join(samples) + "\n\nCommands (2 harts):\n\n```\n" + "\n".join(cmds) + \
        "\n```\n<!-- bench-smp:end -->\n"
    print("wrote", docsection.replace_section("smp", section))
    return 0


if __name__ == "__main__":
    sys.exit(main())
