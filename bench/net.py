#!/usr/bin/python3
# net.py: guest-to-host TCP throughput over user networking (slirp), tern
# against QEMU in alternation, run by bench/net.sh. The guest sends a tmpfs file
# of zeros with busybox nc to 10.0.2.2; a receiver here counts the bytes and
# times them from the first byte to the last. Standard library only.
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


def run_once(vm_name, argv, cwd, mib):
    expect = mib << 20
    rx = Receiver(expect)
    # From a tmpfs file, not a dd pipe: a pipe between two emulated processes
    # costs the guest more than the network does.
    cmd = ("dd if=/dev/zero of=/tmp/netbench bs=64k count=%d 2>/dev/null; "
           "nc 10.0.2.2 %d < /tmp/netbench; poweroff -f\n" % (mib * 16, rx.port))
    p = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, start_new_session=True)
    out = bytearray()
    threading.Thread(target=pump, args=(p.stdout, out), daemon=True).start()
    try:
        deadline = time.monotonic() + BOOT_TIMEOUT
        while READY not in out:
            if p.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("%s: no ready line (exit %s); tail: %r"
                                   % (vm_name, p.poll(), bytes(out[-400:])))
            time.sleep(0.1)
        if b"TERN-NET-UP" not in out:
            raise RuntimeError("%s: guest DHCP failed; tail: %r" % (vm_name, bytes(out[-400:])))
        p.stdin.write(cmd.encode())
        p.stdin.flush()
        if not rx.done.wait(XFER_TIMEOUT):
            raise RuntimeError("%s: transfer did not finish in %.0f s (%d bytes)"
                               % (vm_name, XFER_TIMEOUT, rx.got))
        if rx.got != expect:
            raise RuntimeError("%s: received %d of %d bytes" % (vm_name, rx.got, expect))
        secs = rx.t_last - rx.t_first
        return expect / secs / 1e6, secs
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
        vms = [
            ("tern", [tern, "run", "--kernel", a.kernel, "--initrd", a.initrd, "--memory", MEM,
                      "--cpus", "1", "--net", "user", "--append", APPEND]),
            ("QEMU", [a.qemu, "-M", "virt", "-smp", "1", "-m", MEM, "-nographic",
                      "-kernel", a.kernel, "-initrd", a.initrd, "-append", APPEND,
                      "-netdev", "user,id=n0", "-device", "virtio-net-device,netdev=n0"]),
        ]
        print("net bench: guest -> host TCP, %d MiB per run, %d run(s) per VMM, alternating"
              % (a.mib, a.runs))
        res = {name: [] for name, _ in vms}
        failed = []
        for i in range(a.runs):
            for name, argv in vms:
                sys.stdout.write("  run %d/%d %-5s " % (i + 1, a.runs, name))
                sys.stdout.flush()
                try:
                    mbs, secs = run_once(name, argv, a.repo, a.mib)
                    res[name].append(mbs)
                    print("%.2f MB/s (%.2f s)" % (mbs, secs))
                except RuntimeError as e:
                    print("FAILED: %s" % e)
                    failed.append(str(e))
        print()
        print("| workload | tern median | QEMU median | tern/QEMU time (above 1: tern slower) |")
        print("|---|---:|---:|---:|")
        mt = statistics.median(res["tern"]) if res["tern"] else None
        mq = statistics.median(res["QEMU"]) if res["QEMU"] else None
        ratio = "%.2f" % (mq / mt) if mt and mq else "n/a"
        print("| net: guest->host TCP over user networking (MB/s, higher is better) | %s | %s | %s |"
              % ("%.2f" % mt if mt else "-", "%.2f" % mq if mq else "-", ratio))
        print("samples: tern %s; QEMU %s" % (", ".join("%.2f" % x for x in res["tern"]) or "-",
                                             ", ".join("%.2f" % x for x in res["QEMU"]) or "-"))
        for name, argv in vms:
            shown = [a.tern if x == tern else x for x in argv]
            print("%s: %s" % (name, shlex.join(shown)))
        print("guest: dd if=/dev/zero of=/tmp/netbench bs=64k count=%d; nc 10.0.2.2 PORT "
              "< /tmp/netbench (timed on the host, first to last byte; MB = 10^6 bytes)"
              % (a.mib * 16))
        return 1 if failed else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
