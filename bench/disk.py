#!/usr/bin/python3
# disk.py: sequential disk throughput inside the guest, tern against QEMU, run
# by bench/disk.sh. Each run boots the reference guest with one virtio-blk disk
# (raw, then a qcow2 copy of it), then times in the guest, from /proc/uptime,
#   dd if=/dev/vda of=/dev/null bs=1M iflag=direct              (whole disk)
#   dd if=/dev/zero of=/dev/vda bs=1M count=N oflag=direct conv=fsync
# and powers off. Prints medians, tern/QEMU ratios and every sample, and
# refreshes its own section of docs/BENCHMARKS.md. Standard library only; the
# VM process handling is bench.py's.
import argparse
import datetime
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as B  # noqa: E402

APPEND = "console=ttyS0 quiet"
CMD_TIMEOUT = 300.0
BEGIN = "<!-- bench-disk:begin -->"
END = "<!-- bench-disk:end -->"
TESTS = ("read", "write")


def tern_argv(args, disk, fmt):
    return [args.tern, "run", "--kernel", args.kernel, "--initrd", args.initrd,
            "--memory", "%dM" % B.GUEST_MEM_MIB, "--cpus", "1", "--append", APPEND,
            "--disk", "file=%s,format=%s" % (disk, fmt)]


def qemu_argv(args, disk, fmt):
    return [args.qemu, "-M", "virt", "-smp", "1", "-m", "%dM" % B.GUEST_MEM_MIB,
            "-nographic", "-kernel", args.kernel, "-initrd", args.initrd, "-append", APPEND,
            "-drive", "file=%s,format=%s,if=none,id=d0" % (disk, fmt),
            "-device", "virtio-blk-device,drive=d0"]


def guest_cmd(p, cmd, tag, deadline):
    """Run cmd on the guest console between two /proc/uptime readings; returns
    the guest seconds it took. The tag is split so the echo never matches."""
    a, b = tag[:2], tag[2:]
    p.write(("t0=$(cut -d' ' -f1 /proc/uptime); %s >/dev/null 2>&1; s=$?; "
             "t1=$(cut -d' ' -f1 /proc/uptime); echo \"%s\"\"%s $s $t0 $t1\"\n"
             % (cmd, a, b)).encode())
    pat = re.compile(r"%s (\d+) ([\d.]+) ([\d.]+)" % re.escape(tag))
    while True:
        line = p.next_line(deadline, "end of '%s'" % cmd)
        if line is None:
            raise B.RunFailed("guest output ended during '%s'" % cmd)
        m = pat.search(line.decode("utf-8", "replace"))
        if m:
            if m.group(1) != "0":
                raise B.RunFailed("'%s' failed in the guest (status %s)" % (cmd, m.group(1)))
            return float(m.group(3)) - float(m.group(2))


def one_run(argv, disk_mib, write_mib):
    p = B.VMProc(argv, os.getcwd())
    try:
        deadline = p.t0 + B.RUN_TIMEOUT
        p.wait_ready(deadline)
        out = {}
        secs = guest_cmd(p, "dd if=/dev/vda of=/dev/null bs=1M iflag=direct", "DISK-READ",
                         time.monotonic() + CMD_TIMEOUT)
        out["read"] = disk_mib / secs if secs > 0 else float("inf")
        secs = guest_cmd(p, "dd if=/dev/zero of=/dev/vda bs=1M count=%d oflag=direct conv=fsync"
                         % write_mib, "DISK-WRITE", time.monotonic() + CMD_TIMEOUT)
        out["write"] = write_mib / secs if secs > 0 else float("inf")
        p.write(b"poweroff -f\n")
        if not p.wait_exit(time.monotonic() + B.STOP_GRACE):
            p.stop()
        return out
    except B.RunFailed as e:
        e.tail = p.tail_text()
        raise
    finally:
        p.close()


def make_disks(tmp, mib):
    raw = os.path.join(tmp, "disk.raw")
    with open(raw, "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(1 << 20))
    qcow = os.path.join(tmp, "disk.qcow2")
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, qcow], check=True)
    return {"raw": raw, "qcow2": qcow}


def update_docs(path, section):
    text = open(path).read() if os.path.exists(path) else "# tern benchmarks\n"
    block = BEGIN + "\n" + section.rstrip("\n") + "\n" + END
    b, e = text.find(BEGIN), text.find(END)
    if b >= 0 and e > b:
        text = text[:b] + block + text[e + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    with open(path, "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description="tern vs QEMU: sequential disk throughput")
    ap.add_argument("--repo", required=True)
    ap.add_argument("--tern", required=True)
    ap.add_argument("--qemu", required=True)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--disk-mib", type=int, default=256)
    ap.add_argument("--write-mib", type=int, default=128)
    ap.add_argument("--formats", default="raw,qcow2")
    ap.add_argument("--no-docs", action="store_true")
    ap.add_argument("--invocation", default="bench/disk.sh")
    args = ap.parse_args()
    formats = [f for f in args.formats.split(",") if f]
    for f in formats:
        if f not in ("raw", "qcow2"):
            ap.error("--formats: raw and/or qcow2, not '%s'" % f)
    if args.write_mib > args.disk_mib:
        ap.error("--write-mib must not exceed --disk-mib")
    os.chdir(args.repo)
    tmp = tempfile.mkdtemp(prefix="tern-bench-disk.")
    try:
        tern_exe = os.path.join(tmp, "tern")
        shutil.copy2(args.tern, tern_exe)
        return run(args, formats, tmp, tern_exe)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(args, formats, tmp, tern_exe):
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    binfo = argparse.Namespace(repo=args.repo, qemu=args.qemu)
    info = B.machine_info(binfo, tern_exe)
    print("bench-disk: %d run(s) per VMM and format (%s), alternating tern / QEMU; "
          "%d MiB disk, %d MiB written" % (args.runs, " ".join(formats), args.disk_mib,
                                           args.write_mib))
    load_before = os.getloadavg()[0]
    if load_before > 0.5:
        print("WARNING: 1-min load average is %.2f; other work on this machine will skew "
              "the figures" % load_before)
    master = make_disks(tmp, args.disk_mib)
    samples = {(f, vm, t): [] for f in formats for vm in ("tern", "QEMU") for t in TESTS}
    failures = []
    t_start = time.monotonic()
    for i in range(args.runs):
        for fmt in formats:
            for vm, argv_fn, exe in (("tern", tern_argv, tern_exe), ("QEMU", qemu_argv, args.qemu)):
                # Every run gets a fresh copy, so writes of one run do not
                # change the next one's layout.
                disk = os.path.join(tmp, "run." + fmt)
                shutil.copyfile(master[fmt], disk)
                a = argparse.Namespace(**vars(args))
                a.tern = exe
                sys.stdout.write("  %d/%d %-5s %-4s " % (i + 1, args.runs, fmt, vm))
                sys.stdout.flush()
                try:
                    r = one_run(argv_fn(a, disk, fmt), args.disk_mib, args.write_mib)
                    for t in TESTS:
                        samples[(fmt, vm, t)].append(r[t])
                    print("read %.1f MiB/s, write %.1f MiB/s" % (r["read"], r["write"]))
                except B.RunFailed as e:
                    print("FAILED: %s\n    last output:\n%s" % (e, getattr(e, "tail", "")))
                    failures.append("%s %s run %d: %s" % (fmt, vm, i + 1, e))
                finally:
                    os.unlink(disk)
    elapsed = time.monotonic() - t_start
    load_after = os.getloadavg()[0]

    table = ["| disk test (MiB/s, higher is better) | tern median | QEMU median "
             "| tern/QEMU (below 1: tern slower) | runs (tern/QEMU) |",
             "|---|---:|---:|---:|---:|"]
    for fmt in formats:
        for t in TESTS:
            ts, qs = samples[(fmt, "tern", t)], samples[(fmt, "QEMU", t)]
            mt = statistics.median(ts) if ts else None
            mq = statistics.median(qs) if qs else None
            ratio = "%.2f" % (mt / mq) if mt and mq else "n/a"
            table.append("| %s: sequential %s, 1 MiB direct I/O | %s | %s | %s | %d/%d |" % (
                fmt, t, "%.1f" % mt if mt else "-", "%.1f" % mq if mq else "-", ratio,
                len(ts), len(qs)))
    sample_lines = ["- %s %s %s: %s" % (fmt, t, vm, ", ".join("%.1f" % x for x in
                                                             samples[(fmt, vm, t)]) or "none")
                    for fmt in formats for t in TESTS for vm in ("tern", "QEMU")]
    cmds = [shlex.join(tern_argv(args, "DISK", "FORMAT")), shlex.join(qemu_argv(args, "DISK", "FORMAT"))]
    print()
    print("results (started %s; %.0f s in all):" % (date, elapsed))
    print("\n".join(table))
    print()
    print("samples (MiB/s):")
    print("\n".join(sample_lines))
    print()
    print("machine: %s; %s; %d CPUs" % (info["uname"], info["cpu"], info["nproc"]))
    print("tern: commit %s (sha256 %s); qemu: %s" % (info["commit"], info["tern_sha"], info["qemu"]))
    print("load average (1 min): %.2f before, %.2f after" % (load_before, load_after))
    if failures:
        print("\nbench-disk: %d run(s) failed:" % len(failures))
        for f in failures:
            print("  " + f)
        print("bench-disk: docs/BENCHMARKS.md left unchanged")
        return 1
    if args.no_docs:
        return 0
    sec = ["## Disk throughput (latest run)\n",
           "Generated by `%s`, started %s; %d run(s) per VMM and format, %.0f s in all."
           % (args.invocation, date, args.runs, elapsed),
           "Guest: %d MiB virtio-blk disk of random data (raw, and a qcow2 made from it by "
           "`qemu-img convert`, 64 KiB clusters, fully allocated), a fresh copy per run; "
           "the read covers the whole disk, the write its first %d MiB. Timed in the guest "
           "from /proc/uptime (10 ms resolution). Both VMMs use the host page cache "
           "(tern cache=writeback, QEMU's default).\n" % (args.disk_mib, args.write_mib),
           "- Machine: %s; %s; %d CPUs; 1-min load average %.2f before, %.2f after"
           % (info["uname"], info["cpu"], info["nproc"], load_before, load_after),
           "- tern: commit %s (sha256 %s); QEMU: %s\n" % (info["commit"], info["tern_sha"],
                                                        info["qemu"])]
    sec += table
    sec += ["\nSamples (MiB/s), in run order:\n"] + sample_lines
    sec += ["\nCommands (DISK and FORMAT per run):\n", "```"] + cmds + [
        "guest: dd if=/dev/vda of=/dev/null bs=1M iflag=direct",
        "guest: dd if=/dev/zero of=/dev/vda bs=1M count=%d oflag=direct conv=fsync"
        % args.write_mib, "```"]
    update_docs(os.path.join(args.repo, "docs", "BENCHMARKS.md"), "\n".join(sec) + "\n")
    print("bench-disk: updated docs/BENCHMARKS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
