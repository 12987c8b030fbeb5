#!/usr/bin/python3
"""bench/memory.py: memory given back and memory not moved, tern against QEMU.

Cases (each VMM driven over QMP, the guest over its serial console):
- reclaim: a 512 MiB guest writes 300 MiB of non-zero data into tmpfs and
  deletes it; host RSS of the VMM process right after the write and 10 s
  after the delete. tern --balloon on against QEMU's
  virtio-balloon-device,free-page-reporting=on.
- free: a 1 GiB guest writes and deletes 800 MiB the same way, waits 6 s
  for free page reporting, is saved to a file (tern snapshot --leave-running;
  QEMU migrate "exec:cat > F"), then live-migrates over loopback TCP. The
  file's allocated size (du), the save time, the bytes the migration sent
  (query-migrate ram.transferred) and its total time, with and without the
  balloon on both VMMs.
- ksm: 4 idle 256 MiB guests (tern --mem-merge on; QEMU's mem-merge is on by
  default), the sum of their PSS before and after KSM ran for KSM_SECONDS
  (default 90; needs root: /sys/kernel/mm/ksm/run is set back afterwards).
- clones: CLONES (default 8) restores of one 256 MiB tern snapshot (taken
  with the balloon off, and with --balloon on after free page reporting ran)
  against as many QEMU guests booted alike, the sum of PSS once all are idle.

usage: bench/memory.py [--only reclaim,free,ksm,clones] [--no-docs]
Writes docs/BENCHMARKS.md between the bench-memory markers unless --no-docs.
"""
import argparse
import datetime
import fcntl
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from migrate import Console, free_port  # noqa: E402
from qmp import Qmp  # noqa: E402
import docsection

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KIT = os.path.join(REPO, "build", "guest")
QEMU = "qemu-system-riscv64"
MiB = 1 << 20
CLONES = int(os.environ.get("CLONES", "8"))
KSM_SECONDS = int(os.environ.get("KSM_SECONDS", "90"))
KSM = "/sys/kernel/mm/ksm"


class Vm:
    """One guest: tern or QEMU, with a QMP socket and a console."""

    def __init__(self, vmm, tmp, tag, mem, balloon=False, merge=False, incoming=None, tern=None):
        self.vmm, self.tag = vmm, tag
        self.sock = os.path.join(tmp, f"{vmm}-{tag}.qmp")
        base = ["--kernel", f"{KIT}/Image", "--initrd", f"{KIT}/initramfs.cpio.gz"]
        append = "console=ttyS0 quiet"
        if vmm == "tern":
            self.name = f"bmem-{os.getpid()}-{tag}"
            if incoming:
                argv = [tern, "run", "--incoming", incoming, "--name", self.name, "--qmp", self.sock]
            else:
                argv = [tern, "run", *base, "--memory", mem, "--append", append, "--name", self.name,
                        "--qmp", self.sock, "--balloon", "on" if balloon else "off"]
            argv += ["--migrate-key", os.path.join(tmp, "key")]
            if merge:
                argv += ["--mem-merge", "on"]
        else:
            argv = [QEMU, "-M", "virt", "-smp", "1", "-m", mem, "-nographic",
                    "-kernel", f"{KIT}/Image", "-initrd", f"{KIT}/initramfs.cpio.gz", "-append", append,
                    "-qmp", f"unix:{self.sock},server=on,wait=off"]
            if balloon:
                argv += ["-device", "virtio-balloon-device,free-page-reporting=on"]
            if incoming:
                argv += ["-incoming", incoming]
        self.con = Console(argv)
        self.q = None

    @property
    def pid(self):
        return self.con.p.pid

    def qmp(self):
        if not self.q:
            self.q = Qmp(self.sock)
        return self.q

    def boot(self):
        self.con.wait(r"TERN-GUEST-READY", 300)
        self.run("dmesg -n 1")

    def run(self, cmd, timeout=300):
        """A shell command on the console; waits for its end marker."""
        n = f"{time.monotonic_ns()}"
        self.con.send(f"{cmd}; echo END-{n[:6]}''{n[6:]}\n")
        self.con.wait(rf"END-{n}", timeout)

    def kill(self):
        self.con.kill()


def fill_and_free(vm, mib):
    """mib MiB of non-zero bytes into tmpfs (one random MiB, catted mib
    times), then deleted."""
    vm.run("mount -o remount,size=95% /tmp; dd if=/dev/urandom of=/tmp/seed bs=1M count=1 2>/dev/null")
    vm.run(f"set --; i=0; while [ $i -lt {mib} ]; do set -- \"$@\" /tmp/seed; i=$((i+1)); done; "
           "cat \"$@\" > /tmp/fill; set --", 600)


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmRSS:"))


def pss(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith("Pss:"))


def wait_migration(q, timeout=300):
    deadline = time.monotonic() + timeout
    while (info := q.cmd("query-migrate")).get("status") not in ("completed", "failed", "cancelled"):
        if time.monotonic() > deadline:
            raise RuntimeError("migration did not finish")
        time.sleep(0.05)
    if info["status"] != "completed":
        raise RuntimeError(f"migration {info['status']}: {info.get('error-desc')}")
    return info


def case_reclaim(tmp, tern):
    rows = []
    for vmm in ("tern", "qemu"):
        vm = Vm(vmm, tmp, "rec", "512M", balloon=True, tern=tern)
        try:
            vm.boot()
            fill_and_free(vm, 300)
            full = rss(vm.pid)
            vm.run("rm /tmp/fill /tmp/seed")
            t0 = time.monotonic()
            dropped_at = None
            while time.monotonic() - t0 < 10:
                if dropped_at is None and rss(vm.pid) <= full - 250 * MiB:
                    dropped_at = time.monotonic() - t0
                time.sleep(0.1)
            rows.append((vmm, full, rss(vm.pid), dropped_at))
            print(f"  reclaim {vmm}: RSS {full >> 20} MiB after the write, {rss(vm.pid) >> 20} MiB 10 s "
                  f"after the delete" + (f" (250 MiB back in {dropped_at:.1f} s)" if dropped_at else ""),
                  flush=True)
        finally:
            vm.kill()
    return rows


def case_free(tmp, tern):
    rows = []
    for vmm in ("tern", "qemu"):
        for balloon in (True, False):
            port = free_port()
            src = Vm(vmm, tmp, "fs", "1G", balloon=balloon, tern=tern)
            dst = None
            try:
                src.boot()
                fill_and_free(src, 800)
                src.run("rm /tmp/fill /tmp/seed")
                time.sleep(6)
                q = src.qmp()
                snap = os.path.join(tmp, f"{vmm}.snap")
                t0 = time.monotonic()
                if vmm == "tern":
                    p = subprocess.run([tern, "snapshot", src.sock, snap, "--leave-running"],
                                       capture_output=True, text=True)
                    if p.returncode:
                        raise RuntimeError(p.stderr)
                else:
                    q.cmd("migrate", uri=f"exec:cat > {snap}")
                    wait_migration(q)
                    q.cmd("cont")
                save_ms = (time.monotonic() - t0) * 1000
                alloc = os.stat(snap).st_blocks * 512
                os.unlink(snap)
                dst = Vm(vmm, tmp, "fd", "1G", balloon=balloon, incoming=f"tcp:127.0.0.1:{port}",
                         tern=tern)
                if vmm == "qemu":
                    dst.qmp()
                    q.cmd("migrate-set-parameters", **{"max-bandwidth": 10 * 1024 ** 3})
                else:
                    time.sleep(0.3)
                q.cmd("migrate", uri=f"tcp:127.0.0.1:{port}")
                info = wait_migration(q)
                r = (vmm, balloon, alloc, save_ms, info["ram"]["transferred"], info["total-time"])
                rows.append(r)
                print(f"  free {vmm} balloon={'on' if balloon else 'off'}: snapshot {alloc >> 20} MiB "
                      f"allocated, saved in {save_ms:.0f} ms; migration sent {r[4] >> 20} MiB in {r[5]} ms",
                      flush=True)
            finally:
                src.kill()
                if dst:
                    dst.kill()
    return rows


def ksm_set(**kv):
    old = {}
    for k, v in kv.items():
        with open(f"{KSM}/{k}") as f:
            old[k] = f.read().strip()
        with open(f"{KSM}/{k}", "w") as f:
            f.write(str(v))
    return old


def case_ksm(tmp, tern):
    if not os.access(f"{KSM}/run", os.W_OK):
        print("  ksm: /sys/kernel/mm/ksm/run is not writable here; skipped")
        return []
    rows = []
    for vmm in ("tern", "qemu"):
        vms = [Vm(vmm, tmp, f"k{i}", "256M", merge=True, tern=tern) for i in range(4)]
        old = None
        try:
            for vm in vms:
                vm.boot()
            time.sleep(5)
            before = sum(pss(vm.pid) for vm in vms)
            old = ksm_set(pages_to_scan=2000, sleep_millisecs=20, run=1)
            time.sleep(KSM_SECONDS)
            after = sum(pss(vm.pid) for vm in vms)
            with open(f"{KSM}/pages_sharing") as f:
                sharing = int(f.read())
            rows.append((vmm, before, after, sharing))
            print(f"  ksm {vmm}: 4 guests' PSS {before >> 20} MiB before, {after >> 20} MiB after "
                  f"{KSM_SECONDS} s of KSM ({sharing} pages sharing)", flush=True)
        finally:
            if old:
                ksm_set(run=2)          # unmerge everything, then restore
                ksm_set(**old)
            for vm in vms:
                vm.kill()
    return rows


def case_clones(tmp, tern):
    """CLONES restores of one snapshot; tern twice: a template booted with
    the balloon off, and one booted with --balloon on that reported its free
    memory before the snapshot (its clones keep the balloon, too)."""
    rows = []
    snaps = {}
    for balloon in (False, True):
        base = Vm("tern", tmp, f"cbase{int(balloon)}", "256M", balloon=balloon, tern=tern)
        snaps[balloon] = os.path.join(tmp, f"clone{int(balloon)}.snap")
        try:
            base.boot()
            time.sleep(6 if balloon else 0)     # free page reporting runs after 2 s
            p = subprocess.run([tern, "snapshot", base.sock, snaps[balloon]], capture_output=True, text=True)
            if p.returncode:
                raise RuntimeError(p.stderr)
        finally:
            base.kill()
    for vmm, balloon in (("tern", False), ("tern", True), ("qemu", False)):
        vms = []
        try:
            for i in range(CLONES):
                if vmm == "tern":
                    vm = Vm("tern", tmp, f"c{i}", "256M", incoming=f"file:{snaps[balloon]}", tern=tern)
                    vm.qmp()
                    vm.run("true")
                else:
                    vm = Vm("qemu", tmp, f"c{i}", "256M")
                    vm.boot()
                vms.append(vm)
            time.sleep(10)
            total = sum(pss(vm.pid) for vm in vms)
            rows.append((vmm, balloon, total))
            print(f"  clones {vmm} balloon={'on' if balloon else 'off'}: {CLONES} guests, PSS "
                  f"{total >> 20} MiB in all, {total / CLONES / MiB:.1f} MiB each", flush=True)
        finally:
            for vm in vms:
                vm.kill()
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="reclaim,free,ksm,clones")
    ap.add_argument("--no-docs", action="store_true")
    a = ap.parse_args()
    cases = a.only.split(",")
    # Benchmarks on this 2-core machine must never overlap (bench/run.sh's lock).
    lock = open("/tmp/tern-bench.lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        print("bench: another benchmark holds /tmp/tern-bench.lock; waiting", flush=True)
        fcntl.flock(lock, fcntl.LOCK_EX)
    started = datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC")
    load0 = os.getloadavg()[0]
    t0 = time.monotonic()
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "key"), "wb") as f:
            f.write(os.urandom(32))
        os.chmod(os.path.join(tmp, "key"), 0o600)   # tern refuses a key others can read
        tern = os.path.join(tmp, "tern")      # a copy: a rebuild cannot mix binaries
        shutil.copy2(os.path.join(REPO, "build", "tern"), tern)
        fns = {"reclaim": case_reclaim, "free": case_free, "ksm": case_ksm, "clones": case_clones}
        for c in cases:
            out[c] = fns[c](tmp, tern)
    lines = []
    if out.get("reclaim"):
        lines += ["| reclaim (512 MiB guest, 300 MiB written then deleted) | RSS after the write (MiB) "
                  "| RSS 10 s after the delete (MiB) | 250 MiB back after (s) |", "|---|---:|---:|---:|"]
        for vmm, full, after, t in out["reclaim"]:
            lines.append(f"| {vmm} (free page reporting) | {full >> 20} | {after >> 20} | "
                         f"{'%.1f' % t if t is not None else 'not within 10 s'} |")
        lines.append("")
    if out.get("free"):
        lines += ["| free (1 GiB guest, 800 MiB written then deleted) | snapshot allocated (MiB) "
                  "| save (ms) | migration sent (MiB) | migration total (ms) |", "|---|---:|---:|---:|---:|"]
        for vmm, balloon, alloc, save_ms, sent, total in out["free"]:
            lines.append(f"| {vmm}, balloon {'on' if balloon else 'off'} | {alloc >> 20} | {save_ms:.0f} "
                         f"| {sent >> 20} | {total} |")
        lines.append("")
    if out.get("ksm"):
        lines += ["| ksm (4 idle 256 MiB guests) | PSS before (MiB) | PSS after KSM (MiB) "
                  "| pages sharing |", "|---|---:|---:|---:|"]
        for vmm, before, after, sharing in out["ksm"]:
            lines.append(f"| {vmm} | {before >> 20} | {after >> 20} | {sharing} |")
        lines.append("")
    if out.get("clones"):
        lines += [f"| clones ({CLONES} guests, 256 MiB) | PSS in all (MiB) | per guest (MiB) |",
                  "|---|---:|---:|"]
        for vmm, balloon, total in out["clones"]:
            what = (f"restores of one snapshot, balloon {'on' if balloon else 'off'}" if vmm == "tern"
                    else "booted alike")
            lines.append(f"| {vmm} ({what}) | {total >> 20} | {total / CLONES / MiB:.1f} |")
        lines.append("")
    table = "\n".join(lines)
    print(table)
    if a.no_docs:
        return 0
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    qv = subprocess.run([QEMU, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    section = f"""<!-- bench-memory:begin -->
## Memory: balloon, free pages, KSM, clones (latest run)

Generated by `bench/memory.py --only {a.only}` (`make bench-memory`), started {started}; {time.monotonic() - t0:.0f} s in all, one run each.
See the script's docstring for what each case does.

- Machine: {platform.platform()}; {os.cpu_count()} CPUs; 1-min load average {load0:.2f} before, {os.getloadavg()[0]:.2f} after
- tern: commit {commit}; QEMU: {qv}

{table}<!-- bench-memory:end -->
"""
    docsection.replace_section("memory", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
