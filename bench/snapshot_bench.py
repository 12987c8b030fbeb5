#!/usr/bin/python3
# snapshot_bench.py: save and restore times of a booted guest (MEM, default
# 256M; RUNS, default 3), on tern
# (tern snapshot / tern run --incoming) and on QEMU (migrate "exec:cat > F" /
# -incoming "exec:cat F"), each measured from the outside, medians of N runs.
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmp import Qmp  # noqa: E402

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
    return save, restore, os.path.getsize(f)


def main():
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR", "/tmp")) as d:
        t = [tern_once(d) for _ in range(RUNS)]
        print(f"tern {MEM} guest, {RUNS} runs (medians):")
        print(f"  save (stop + migrate file:, incl. fdatasync): {statistics.median(x[0] for x in t):.3f} s")
        print(f"  restore (exec to QMP 'running'):              {statistics.median(x[1] for x in t):.3f} s")
        print(f"  restore (tern's own 'restored in'):           {statistics.median(x[2] for x in t):.3f} s")
        print(f"  file: {t[0][3] >> 20} MiB apparent, {t[0][4] >> 20} MiB on disk")
        if "--qemu" in sys.argv:
            qm = [qemu_once(d) for _ in range(RUNS)]
            print(f"qemu-system-riscv64 {MEM} guest, {RUNS} runs (medians):")
            print(f"  save (stop + migrate exec:cat > F):  {statistics.median(x[0] for x in qm):.3f} s")
            print(f"  restore (-incoming exec:cat F to not inmigrate): {statistics.median(x[1] for x in qm):.3f} s")
            print(f"  file: {qm[0][2] >> 20} MiB")


if __name__ == "__main__":
    main()
