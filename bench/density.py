#!/usr/bin/python3
"""bench/density.py: host memory of N idle guests, tern clones against QEMU.

tern: one 256 MiB guest boots the kit, idles 2 s after its ready line and is
saved (QMP stop + migrate file:); then N clones are restored from that one
file (tern run --incoming file:SNAP --name ...), each running the same idle
userland. QEMU: N qemu-system-riscv64 VMs boot the same kernel, initramfs
and command line. After every guest is up and SETTLE seconds have passed,
the total PSS of the VMM processes (/proc/PID/smaps_rollup) is summed: PSS
splits a page shared by k processes k ways, so pages the clones share with
each other (the snapshot file's page cache) count once in the total.

usage: bench/density.py [--n N] [--mem 256M] [--settle S] [--only tern|qemu] [--docs]
(N defaults to $BENCH_DENSITY_N or 10; --docs writes docs/BENCHMARKS.md
between the bench-density markers)
"""
import argparse
import datetime
import os
import platform
import re
import select
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmp import Qmp  # noqa: E402
import docsection

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TERN = os.path.join(REPO, "build", "tern")
IMAGE = os.path.join(REPO, "build", "guest", "Image")
INITRD = os.path.join(REPO, "build", "guest", "initramfs.cpio.gz")
QEMU = "qemu-system-riscv64"
APPEND = "console=ttyS0 quiet"


def pss_kib(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        return int(re.search(r"^Pss:\s+(\d+) kB", f.read(), re.M).group(1))


def wait_ready(procs, timeout):
    """Wait until every process has printed the guest's ready line."""
    bufs = {p.stdout.fileno(): b"" for p in procs}
    left = set(bufs)
    deadline = time.monotonic() + timeout
    while left:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(left)} guest(s) not ready after {timeout} s")
        r, _, _ = select.select(list(left), [], [], 0.5)
        for fd in r:
            d = os.read(fd, 65536)
            if not d:
                raise RuntimeError("a VMM exited before its guest was ready: " + bufs[fd][-300:].decode("replace"))
            bufs[fd] += d
            if b"TERN-GUEST-READY" in bufs[fd]:
                left.discard(fd)


def kill_all(procs):
    for p in procs:
        if p.poll() is None:
            p.kill()
    for p in procs:
        p.wait()


def tern_density(n, mem, settle, d):
    tag = f"dens-{os.getpid()}"
    snap = os.path.join(d, "base.snap")
    sock = os.path.join(d, "base.qmp")
    base = subprocess.Popen([TERN, "run", "--kernel", IMAGE, "--initrd", INITRD, "--memory", mem,
                             "--append", APPEND, "--name", f"{tag}-base", "--qmp", sock],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_ready([base], 300)
        time.sleep(2)
        q = Qmp(sock)
        q.cmd("stop")
        q.cmd("migrate", uri="file:" + snap)
        q.cmd("quit")
        base.wait(30)
    finally:
        kill_all([base])
    clones = []
    try:
        t0 = time.monotonic()
        for i in range(n):
            s = os.path.join(d, f"c{i}.qmp")
            clones.append((subprocess.Popen([TERN, "run", "--incoming", "file:" + snap,
                                             "--name", f"{tag}-{i}", "--qmp", s],
                                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL), s))
        for p, s in clones:
            st = Qmp(s).cmd("query-status")["status"]
            if st != "running":
                raise RuntimeError(f"clone is {st}, not running")
        up = time.monotonic() - t0
        time.sleep(settle)
        return sum(pss_kib(p.pid) for p, _ in clones), up, os.stat(snap).st_blocks * 512
    finally:
        kill_all([p for p, _ in clones])


def qemu_density(n, mem, settle):
    vms = []
    try:
        t0 = time.monotonic()
        for _ in range(n):
            vms.append(subprocess.Popen([QEMU, "-M", "virt", "-smp", "1", "-m", mem, "-nographic",
                                         "-kernel", IMAGE, "-initrd", INITRD, "-append", APPEND],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT))
        wait_ready(vms, 600)
        up = time.monotonic() - t0
        time.sleep(settle)
        return sum(pss_kib(p.pid) for p in vms), up
    finally:
        kill_all(vms)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=int(os.environ.get("BENCH_DENSITY_N", "10")))
    ap.add_argument("--mem", default="256M")
    ap.add_argument("--settle", type=float, default=5.0)
    ap.add_argument("--only", choices=("tern", "qemu"))
    ap.add_argument("--docs", action="store_true")
    a = ap.parse_args()
    if a.n < 1:
        ap.error("--n must be at least 1")
    started = datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC")
    load0 = os.getloadavg()[0]
    t_pss = q_pss = None
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR", "/tmp")) as d:
        if a.only != "qemu":
            t_pss, t_up, snap_disk = tern_density(a.n, a.mem, a.settle, d)
            print(f"tern: {a.n} clones of one {a.mem} snapshot ({snap_disk >> 20} MiB on disk) up in "
                  f"{t_up:.1f} s; total PSS {t_pss / 1024:.0f} MiB ({t_pss / 1024 / a.n:.1f} MiB each)",
                  flush=True)
        if a.only != "tern":
            q_pss, q_up = qemu_density(a.n, a.mem, a.settle)
            print(f"QEMU: {a.n} VMs booted in {q_up:.1f} s; total PSS {q_pss / 1024:.0f} MiB "
                  f"({q_pss / 1024 / a.n:.1f} MiB each)", flush=True)
    if t_pss and q_pss:
        print(f"tern/QEMU PSS: {t_pss / q_pss:.2f}")
    if not a.docs or not (t_pss and q_pss):
        return
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    qv = subprocess.run([QEMU, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    section = f"""<!-- bench-density:begin -->
## Density: idle guests per host (latest run)

Generated by `bench/density.py --n {a.n}`, started {started}. {a.n} idle {a.mem} guests (the kit's
busybox userland), total PSS of the VMM processes {a.settle:.0f} s after the last one is up:
tern clones restored from one snapshot, QEMU VMs booted alike.

- Machine: {platform.platform()}; {os.cpu_count()} CPUs; 1-min load average {load0:.2f} before, {os.getloadavg()[0]:.2f} after
- tern: commit {commit}; QEMU: {qv}

| | total PSS (MiB) | per guest (MiB) |
|---|---:|---:|
| tern, {a.n} clones of one snapshot | {t_pss / 1024:.0f} | {t_pss / 1024 / a.n:.1f} |
| QEMU, {a.n} booted VMs | {q_pss / 1024:.0f} | {q_pss / 1024 / a.n:.1f} |
| tern/QEMU | {t_pss / q_pss:.2f} | |
<!-- bench-density:end -->
"""
    docsection.replace_section("density", section)


if __name__ == "__main__":
    sys.exit(main())
