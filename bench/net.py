#!/usr/bin/python3
# net.py: guest-to-host TCP throughput over user networking (slirp), tern
# against QEMU in alternation, run by bench/net.sh. Per boot, a tmpfs file of
# zeros goes to the host twice: busybox nc to a receiver here on 10.0.2.2, then
# a GET from busybox httpd through hostfwd. Each is timed from the first byte to
# the last. Standard library only.
import argparse
import os
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import shutil
import threading
import time
import urllib.request

READY = b"TERN-GUEST-READY"
APPEND = "console=ttyS0 quiet tern.net=dhcp"
MEM = "256M"
BOOT_TIMEOUT = 300.0
XFER_TIMEOUT = 600.0


class Receiver:
    """One TCP connection on 127.0.0.1: bytes and first-to-last-byte time."""

    def __init__(self, expect):
        self.expect = expect
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(1)
        self.port = self.srv.getsockname()[1]
        self.got = 0
        self.t_first = self.t_last = None
        self.done = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        try:
            conn, _ = self.srv.accept()
            with conn:
                while self.got < self.expect:
                    b = conn.recv(1 << 20)
                    if not b:
                        break
                    now = time.monotonic()
                    if self.t_first is None:
                        self.t_first = now
                    self.got += len(b)
                    self.t_last = now
        except OSError:
            pass
        finally:
            self.srv.close()
            self.done.set()


def wait_for(p, out, what, timeout):
    deadline = time.monotonic() + timeout
    while what not in out:
        if p.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("no %r (exit %s); tail: %r" % (what, p.poll(), bytes(out[-400:])))
        time.sleep(0.1)


def http_get(port, expect):
    """GET the guest's file through hostfwd: (bytes, first-to-last-byte s)."""
    t_first = None
    got = 0
    with urllib.request.urlopen("http://127.0.0.1:%d/netbench" % port, timeout=XFER_TIMEOUT) as r:
        while True:
            b = r.read(1 << 20)
            if not b:
                break
            if t_first is None:
                t_first = time.monotonic()
            got += len(b)
    if got != expect:
        raise RuntimeError("hostfwd GET: %d of %d bytes" % (got, expect))
    return time.monotonic() - t_first


def run_once(vm_name, argv, cwd, mib, fwd_port):
    """One boot, two transfers of `mib` MiB from the guest to the host:
    busybox nc to 10.0.2.2 (1 KiB writes), then a GET from busybox httpd
    through hostfwd (sendfile). Returns {row: (MB/s, seconds)}."""
    expect = mib << 20
    rx = Receiver(expect)
    p = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, start_new_session=True)
    out = bytearray()
    threading.Thread(target=pump, args=(p.stdout, out), daemon=True).start()
    res = {}
    try:
        wait_for(p, out, READY, BOOT_TIMEOUT)
        if b"TERN-NET-UP" not in out:
            raise RuntimeError("guest DHCP failed; tail: %r" % bytes(out[-400:]))
        # From a tmpfs file, not a dd pipe: a pipe between two emulated
        # processes costs the guest more than the network does.
        p.stdin.write(("mkdir -p /tmp/w && dd if=/dev/zero of=/tmp/w/netbench bs=64k count=%d "
                       "2>/dev/null; nc 10.0.2.2 %d < /tmp/w/netbench; httpd -p 80 -h /tmp/w; "
                       "echo NET-BENCH-""HTTPD\n" % (mib * 16, rx.port)).encode())
        p.stdin.flush()
        if not rx.done.wait(XFER_TIMEOUT) or rx.got != expect:
            raise RuntimeError("nc: received %d of %d bytes" % (rx.got, expect))
        secs = rx.t_last - rx.t_first
        res["nc"] = (expect / secs / 1e6, secs)
        wait_for(p, out, b"NET-BENCH-HTTPD", 60)
        for attempt in range(30):       # httpd may still be starting up
            try:
                secs = http_get(fwd_port, expect)
                break
            except ConnectionError:
                if attempt == 29:
                    raise
                time.sleep(1)
        res["http"] = (expect / secs / 1e6, secs)
        p.stdin.write(b"poweroff -f\n")
        p.stdin.flush()
        return res
    finally:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)


def pump(f, out):
    """Console output into `out` as it comes."""
    while True:
        try:
            b = os.read(f.fileno(), 65536)
        except OSError:
            return
        if not b:
            return
        out += b


def main():
    ap = argparse.ArgumentParser(description="tern vs QEMU: guest-to-host TCP over user networking")
    ap.add_argument("--repo", required=True)
    ap.add_argument("--tern", required=True)
    ap.add_argument("--qemu", required=True)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mib", type=int, default=16)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="tern-netbench.")
    try:
        tern = os.path.join(tmp, "tern")
        shutil.copy2(a.tern, tern)     # a rebuild mid-run must not mix binaries
        fwd = free_port()
        user = "user,hostfwd=tcp:127.0.0.1:%d-:80" % fwd
        vms = [
            ("tern", [tern, "run", "--kernel", a.kernel, "--initrd", a.initrd, "--memory", MEM,
                      "--cpus", "1", "--net", user, "--append", APPEND]),
            ("QEMU", [a.qemu, "-M", "virt", "-smp", "1", "-m", MEM, "-nographic",
                      "-kernel", a.kernel, "-initrd", a.initrd, "-append", APPEND,
                      "-netdev", user + ",id=n0", "-device", "virtio-net-device,netdev=n0"]),
        ]
        rows = [("nc", "net: guest nc -> host 10.0.2.2 (MB/s)"),
                ("http", "net: host GET from guest httpd via hostfwd (MB/s)")]
        print("net bench: guest -> host TCP over user networking, %d MiB per transfer, "
              "%d run(s) per VMM, alternating" % (a.mib, a.runs))
        res = {(r, name): [] for r, _ in rows for name, _ in vms}
        failed = []
        for i in range(a.runs):
            for name, argv in vms:
                sys.stdout.write("  run %d/%d %-5s " % (i + 1, a.runs, name))
                sys.stdout.flush()
                try:
                    got = run_once(name, argv, a.repo, a.mib, fwd)
                    for r, _ in rows:
                        res[(r, name)].append(got[r][0])
                    print(", ".join("%s %.2f MB/s (%.2f s)" % (r, got[r][0], got[r][1])
                                    for r, _ in rows))
                except (RuntimeError, OSError) as e:
                    print("FAILED: %s" % e)
                    failed.append("%s: %s" % (name, e))
        print()
        print("| workload (throughput: higher is better) | tern median | QEMU median "
              "| tern/QEMU time (above 1: tern slower) |")
        print("|---|---:|---:|---:|")
        for r, label in rows:
            t, q = res[(r, "tern")], res[(r, "QEMU")]
            mt = statistics.median(t) if t else None
            mq = statistics.median(q) if q else None
            ratio = "%.2f" % (mq / mt) if mt and mq else "n/a"
            print("| %s | %s | %s | %s |" % (label, "%.2f" % mt if mt else "-",
                                             "%.2f" % mq if mq else "-", ratio))
        for r, label in rows:
            print("samples %s: tern %s; QEMU %s" % (r, ", ".join("%.2f" % x for x in res[(r, "tern")]) or "-",
                                                    ", ".join("%.2f" % x for x in res[(r, "QEMU")]) or "-"))
        for name, argv in vms:
            shown = [a.tern if x == tern else x for x in argv]
            print("%s: %s" % (name, shlex.join(shown)))
        print("guest: dd if=/dev/zero of=/tmp/w/netbench bs=64k count=%d; nc 10.0.2.2 PORT "
              "< /tmp/w/netbench; then httpd -p 80 -h /tmp/w and a host GET through hostfwd "
              "(both timed on the host, first to last byte; MB = 10^6 bytes)" % (a.mib * 16))
        if os.getloadavg()[0] > 1.5:
            print("note: 1-min load average %.2f: other work on this machine skews the figures"
                  % os.getloadavg()[0])
        return 1 if failed else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    sys.exit(main())
