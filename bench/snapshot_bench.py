#!/usr/bin/python3
# snapshot_bench.py: save and restore times of a booted guest (MEM, default
# 256M; RUNS, default 3), on tern
# (tern snapshot / tern run --incoming) and on QEMU (migrate "exec:cat > F" /
# -incoming "exec:cat F"), each measured from the outside, medians of N runs.
# With --qemu the two VMMs alternate run by run and ratios are printed; QEMU's
# file is also fdatasync'd after its save and that time reported apart (tern's
# save includes its fdatasync, QEMU's cat does not). --docs writes the table
# to docs/BENCHMARKS.md between the bench-snapshot markers.
import datetime
import os
import platform
import re
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
IMAGE = os.path.join(REPO, "build", "guest", "Image")
INITRD = os.path.join(REPO, "build", "guest", "initramfs.cpio.gz")
RUNS = int(os.environ.get("RUNS", "3"))
MEM = os.environ.get("MEM", "256M")


Q = Qmp


def wait_line(proc, pattern, timeout=300):
    deadline = time.monotonic() + timeout
    buf = b""
    os.set_blocking(proc.stdout.fileno(), False)
    while time.monotonic() < deadline:
        try:
            chunk = proc.stdout.read()
        except (BlockingIOError, TypeError):
            chunk = None
        if chunk:
            buf += chunk
            if re.search(pattern, buf):
                return
        elif proc.poll() is not None:
            raise RuntimeError("VM exited")
        time.sleep(0.05)
    raise RuntimeError("timeout waiting for " + pattern.decode())


def tern_once(d):
    name = f"bench-{os.getpid()}"
    sock = f"/run/tern/{name}.qmp"
    snap = os.path.join(d, "tern.snap")
    p = subprocess.Popen([TERN, "run", "--kernel", IMAGE, "--initrd", INITRD, "--name", name,
                          "--memory", MEM], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    wait_line(p, rb"TERN-GUEST-READY")
    time.sleep(2)
    q = Q(sock)
    t0 = time.monotonic()
    q.cmd("stop")
    q.cmd("migrate", uri="file:" + snap)
    save = time.monotonic() - t0
    q.cmd("quit")
    p.wait()
    t0 = time.monotonic()
    r = subprocess.Popen([TERN, "run", "--incoming", "file:" + snap], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    q = Q(sock)
    st = q.cmd("query-status")["status"]
    restore = time.monotonic() - t0
    assert st == "running", st
    q.cmd("quit")
    err = r.communicate()[1].decode()
    inner = int(re.search(r"restored .* in (\d+) ms", err).group(1))
    return save, restore, inner / 1000, os.path.getsize(snap), os.stat(snap).st_blocks * 512


def qemu_once(d):
    sock = os.path.join(d, "q.qmp")
    f = os.path.join(d, "qemu.state")
    base = ["qemu-system-riscv64", "-M", "virt", "-m", MEM, "-nographic", "-kernel", IMAGE,
            "-initrd", INITRD, "-append", "console=ttyS0", "-qmp", f"unix:{sock},server,nowait"]
    p = subprocess.Popen(base, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    wait_line(p, rb"TERN-GUEST-READY")
    time.sleep(2)
    q = Q(sock)
    t0 = time.monotonic()
    q.cmd("stop")
    q.cmd("migrate", uri=f"exec:cat > {f}")
    while q.cmd("query-migrate")["status"] not in ("completed", "failed"):
        time.sleep(0.005)
    save = time.monotonic() - t0
    t0 = time.monotonic()       # what tern's save includes: the data on disk
    fd = os.open(f, os.O_RDONLY)
    os.fdatasync(fd)
    os.close(fd)
    sync = time.monotonic() - t0
    q.cmd("quit")
    p.wait()
    if os.path.exists(sock):
        os.unlink(sock)
    t0 = time.monotonic()
    r = subprocess.Popen(base + ["-incoming", f"exec:cat {f}"], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    q = Q(sock)
    while q.cmd("query-status")["status"] == "inmigrate":
        time.sleep(0.002)
    restore = time.monotonic() - t0
    q.cmd("quit")
    r.wait()
    return save, restore, os.path.getsize(f), os.stat(f).st_blocks * 512, sync


def med(xs):
    return statistics.median(xs)


def main():
    started = datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC")
    load0 = os.getloadavg()[0]
    t, qm = [], []
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR", "/tmp")) as d:
        for _ in range(RUNS):
            t.append(tern_once(d))
            if "--qemu" in sys.argv:
                qm.append(qemu_once(d))
    print(f"tern {MEM} guest, {RUNS} runs (medians):")
    print(f"  save (stop + migrate file:, incl. fdatasync): {med(x[0] for x in t):.3f} s")
    print(f"  restore (exec to QMP 'running'):              {med(x[1] for x in t):.3f} s")
    print(f"  restore (tern's own 'restored in'):           {med(x[2] for x in t):.3f} s")
    print(f"  file: {t[0][3] >> 20} MiB apparent, {med(x[4] for x in t) / 2**20:.0f} MiB on disk")
    if not qm:
        return
    print(f"qemu-system-riscv64 {MEM} guest, {RUNS} runs (medians):")
    print(f"  save (stop + migrate exec:cat > F):  {med(x[0] for x in qm):.3f} s "
          f"(+ {med(x[4] for x in qm):.3f} s to fdatasync the file afterwards)")
    print(f"  restore (-incoming exec:cat F to not inmigrate): {med(x[1] for x in qm):.3f} s")
    print(f"  file: {qm[0][2] >> 20} MiB apparent, {med(x[3] for x in qm) / 2**20:.0f} MiB on disk")
    ts, qs, qsync = med(x[0] for x in t), med(x[0] for x in qm), med(x[0] + x[4] for x in qm)
    tr, qr = med(x[1] for x in t), med(x[1] for x in qm)
    td, qd = med(x[4] for x in t), med(x[3] for x in qm)
    rows = [
        "| | tern | QEMU | tern/QEMU |", "|---|---:|---:|---:|",
        f"| save (s; tern includes fdatasync, QEMU's cat does not) | {ts:.3f} | {qs:.3f} | {ts / qs:.2f} |",
        f"| save, QEMU's file then fdatasync'd (s) | {ts:.3f} | {qsync:.3f} | {ts / qsync:.2f} |",
        f"| restore to running (s) | {tr:.3f} | {qr:.3f} | {tr / qr:.2f} |",
        f"| file allocated on disk (MiB, du) | {td / 2**20:.0f} | {qd / 2**20:.0f} | {td / qd:.2f} |",
    ]
    table = "\n".join(rows)
    print(table)
    if "--docs" not in sys.argv:
        return
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    qv = subprocess.run(["qemu-system-riscv64", "--version"], capture_output=True,
                        text=True).stdout.splitlines()[0]
    samples = "\n".join([
        "- tern save (ms): " + ", ".join(f"{x[0] * 1000:.0f}" for x in t),
        "- QEMU save (ms): " + ", ".join(f"{x[0] * 1000:.0f}" for x in qm),
        "- QEMU fdatasync after its save (ms): " + ", ".join(f"{x[4] * 1000:.0f}" for x in qm),
        "- tern restore (ms): " + ", ".join(f"{x[1] * 1000:.0f}" for x in t),
        "- QEMU restore (ms): " + ", ".join(f"{x[1] * 1000:.0f}" for x in qm),
    ])
    section = f"""<!-- bench-snapshot:begin -->
## Snapshot save and restore against QEMU (latest run)

Generated by `RUNS={RUNS} MEM={MEM} bench/snapshot_bench.py --qemu --docs`, started {started}; runs
alternate tern/QEMU. A {MEM} guest boots the kit and idles 2 s after its ready line; save is QMP `stop`
+ `migrate` (tern `file:PATH`, which writes, fdatasyncs and renames; QEMU `exec:cat > F`), restore
is `tern run --incoming file:` / `-incoming "exec:cat F"` until the VM runs, both timed from outside.
Medians:

- Machine: {platform.platform()}; {os.cpu_count()} CPUs; 1-min load average {load0:.2f} before, {os.getloadavg()[0]:.2f} after
- tern: commit {commit}; QEMU: {qv}

{table}

Samples, in run order:

{samples}
<!-- bench-snapshot:end -->
"""
    docsection.replace_section("snapshot", section)


if __name__ == "__main__":
    main()
