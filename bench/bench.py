#!/usr/bin/python3
# bench.py: boot and idle benchmarks of tern against QEMU, run by bench/run.sh.
# Standard library only. Prints medians, ratios and every sample, then refreshes
# the generated section of docs/BENCHMARKS.md.
import argparse
import collections
import datetime
import hashlib
import os
import platform
import queue
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

READY = b"TERN-GUEST-READY"
GUEST_MEM_MIB = 256
APPEND_BOOT = "console=ttyS0 quiet tern.cmd=poweroff"
APPEND_IDLE = "console=ttyS0 quiet"
RUN_TIMEOUT = 300.0     # per run, start to ready (and to exit for boot runs)
IDLE_SETTLE = 3.0
IDLE_WINDOW = 10.0
STOP_GRACE = 30.0       # after "poweroff -f", before SIGTERM
KILL_GRACE = 5.0        # after SIGTERM, before SIGKILL
BUDGET = 600.0          # the whole run should fit in 10 minutes
# Guesses for the first estimate, before anything was measured (seconds).
GUESS_EXIT = {"tern": 20.0, "QEMU": 4.0}

BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"


class RunFailed(Exception):
    def __init__(self, msg, timeout=False):
        super().__init__(msg)
        self.timeout = timeout


class VMProc:
    """One VM process: stdout read line by line with monotonic timestamps by a
    reader thread, and exit time taken by a thread blocked in wait()."""

    def __init__(self, argv, cwd):
        self.argv = argv
        self.lines = queue.Queue()
        self.tail = collections.deque(maxlen=30)
        self.exited = threading.Event()
        self.t_exit = None
        self.t0 = time.monotonic()
        self.p = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  bufsize=0, start_new_session=True)
        self.pid = self.p.pid
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._wait, daemon=True).start()

    def _read(self):
        fd = self.p.stdout.fileno()
        buf = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            t = time.monotonic()
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                line = line.rstrip(b"\r")
                self.tail.append(line)
                self.lines.put((t, line))
        if buf:
            self.tail.append(buf)
            self.lines.put((time.monotonic(), buf))
        self.lines.put((time.monotonic(), None))

    def _wait(self):
        self.p.wait()
        self.t_exit = time.monotonic()
        self.exited.set()

    def wait_ready(self, deadline):
        """Timestamp and text of the ready line; RunFailed on EOF or timeout."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RunFailed("no ready line within %.0f s" % RUN_TIMEOUT, timeout=True)
            try:
                t, line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                self.exited.wait(5)
                raise RunFailed("output ended before the ready line (exit status %s)"
                                % self.p.returncode)
            i = line.find(READY)
            if i >= 0:
                return t, line[i + len(READY):].decode("utf-8", "replace").strip()

    def wait_exit(self, deadline):
        left = max(0.0, deadline - time.monotonic())
        return self.exited.wait(left)

    def write(self, data):
        try:
            self.p.stdin.write(data)
            self.p.stdin.flush()
        except OSError:
            pass

    def stop(self):
        """Make sure the process is gone; returns how it ended."""
        if self.exited.is_set():
            return "exited"
        self.p.terminate()
        if self.exited.wait(KILL_GRACE):
            return "terminated"
        self.p.kill()
        self.exited.wait(KILL_GRACE)
        return "killed"

    def close(self):
        self.stop()
        try:
            self.p.stdin.close()
        except OSError:
            pass

    def tail_text(self):
        return "\n".join("    | " + l.decode("utf-8", "replace") for l in self.tail)


def proc_cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return int(fields[11]) + int(fields[12])


def proc_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RunFailed("no VmRSS in /proc/%d/status" % pid)


class VM:
    """exe is what runs; shown is how the command is printed (tern runs from a
    private copy, so a rebuild of build/tern mid-run cannot mix two binaries)."""

    def __init__(self, name, exe, shown, args_fn):
        self.name, self.exe, self.shown, self.args_fn = name, exe, shown, args_fn

    def argv(self, append, shown=False):
        return [self.shown if shown else self.exe] + self.args_fn(append)


class Bench:
    def __init__(self, args, tern_exe):
        self.args = args
        self.repo = args.repo
        self.samples = collections.defaultdict(lambda: collections.defaultdict(list))
        self.failures = []
        self.notes = []
        self.release = None
        self.current = None
        tern, qemu = args.tern, args.qemu
        kernel, initrd = self.disp(args.kernel), self.disp(args.initrd)
        self.vms = [
            VM("tern", tern_exe, self.disp(tern),
               lambda a: ["run", "--kernel", kernel, "--initrd", initrd,
                          "--memory", "%dM" % GUEST_MEM_MIB, "--cpus", "1", "--append", a]),
            VM("QEMU", qemu, qemu,
               lambda a: ["-M", "virt", "-smp", "1", "-m", "%dM" % GUEST_MEM_MIB,
                          "-nographic", "-kernel", kernel, "-initrd", initrd, "-append", a]),
        ]

    def disp(self, path):
        """Paths inside the repo are given relative to it (the VMs run there)."""
        ap = os.path.abspath(path)
        rel = os.path.relpath(ap, self.repo)
        if not rel.startswith(".."):
            return rel if "/" in rel else "./" + rel
        return ap

    def start(self, vm, append):
        p = VMProc(vm.argv(append), self.repo)
        self.current = p
        return p

    def record(self, workload, vm, value):
        self.samples[workload][vm.name].append(value)

    # --- workloads -------------------------------------------------------
    def boot(self, vm):
        p = self.start(vm, APPEND_BOOT)
        try:
            deadline = p.t0 + RUN_TIMEOUT
            t_ready, text = p.wait_ready(deadline)
            self.release = self.release or text
            if not p.wait_exit(deadline):
                raise RunFailed("did not exit within %.0f s of start" % RUN_TIMEOUT,
                                timeout=True)
            if p.p.returncode != 0:
                raise RunFailed("exit status %d after poweroff" % p.p.returncode)
            ready, exit_ = t_ready - p.t0, p.t_exit - p.t0
            self.record("boot_ready", vm, ready)
            self.record("boot_exit", vm, exit_)
            return "ready %.2f s, exit %.2f s" % (ready, exit_)
        except RunFailed as e:
            e.tail = p.tail_text()
            raise
        finally:
            p.close()

    def idle(self, vm):
        p = self.start(vm, APPEND_IDLE)
        try:
            p.wait_ready(p.t0 + RUN_TIMEOUT)
            if p.exited.wait(IDLE_SETTLE):
                raise RunFailed("exited while idle (status %s)" % p.p.returncode)
            try:
                c0, w0 = proc_cpu_ticks(p.pid), time.monotonic()
                if p.exited.wait(IDLE_WINDOW):
                    raise RunFailed("exited while idle (status %s)" % p.p.returncode)
                c1, w1 = proc_cpu_ticks(p.pid), time.monotonic()
                rss = proc_rss_kib(p.pid) / 1024.0
            except (OSError, ValueError, IndexError) as e:
                raise RunFailed("reading /proc/%d: %s" % (p.pid, e))
            cpu = (c1 - c0) / os.sysconf("SC_CLK_TCK") / (w1 - w0) * 100.0
            self.record("idle_cpu", vm, cpu)
            self.record("idle_rss_beyond", vm, rss - GUEST_MEM_MIB)
            self.record("idle_rss", vm, rss)
            p.write(b"poweroff -f\n")
            if p.wait_exit(time.monotonic() + STOP_GRACE):
                how = "powered off"
            else:
                how = p.stop() + " (no poweroff within %.0f s)" % STOP_GRACE
                self.notes.append("%s idle run: %s" % (vm.name, how))
            return "CPU %.2f %% of a core, RSS %.1f MiB (%+.1f MiB beyond guest RAM), %s" % (
                cpu, rss, rss - GUEST_MEM_MIB, how)
        except RunFailed as e:
            e.tail = p.tail_text()
            raise
        finally:
            p.close()

    def one(self, label, fn, vm):
        t = time.monotonic()
        sys.stdout.write("  %-12s %-5s " % (label, vm.name))
        sys.stdout.flush()
        try:
            msg = fn(vm)
            print(msg)
        except RunFailed as e:
            print("FAILED: %s" % e)
            print("    last output:\n" + getattr(e, "tail", ""))
            self.failures.append("%s %s: %s" % (label, vm.name, e))
            if e.timeout:
                raise
        finally:
            self.current = None
        return time.monotonic() - t

    # --- estimates -------------------------------------------------------
    def estimate(self, exit_s):
        """Seconds for the whole run, given each VM's boot-to-exit time."""
        a = self.args
        total = 0.0
        for name, s in exit_s.items():
            total += a.runs * s
            total += a.idle_runs * (s + IDLE_SETTLE + IDLE_WINDOW + 1.0)
        return total

    def check_estimate(self, exit_s, when):
        est = self.estimate(exit_s)
        print("estimate (%s): %.0f s (%.1f min) in all" % (when, est, est / 60))
        if est > BUDGET:
            print("WARNING: the estimate exceeds %.0f min; lower BENCH_RUNS / "
                  "BENCH_IDLE_RUNS or use --quick" % (BUDGET / 60))

    def run(self):
        a = self.args
        print("bench: %d boot run(s) and %d idle run(s) per VMM, alternating %s, sequential"
              % (a.runs, a.idle_runs, " / ".join(v.name for v in self.vms)))
        self.check_estimate(GUESS_EXIT, "guessed tern ~%.0f s, QEMU ~%.0f s per boot"
                            % (GUESS_EXIT["tern"], GUESS_EXIT["QEMU"]))
        self.load_before = os.getloadavg()[0]
        if self.load_before > 0.5:
            print("WARNING: 1-min load average is %.2f; other work on this machine "
                  "will skew the figures" % self.load_before)
        t_start = time.monotonic()
        try:
            print("boot (append %r):" % APPEND_BOOT)
            for i in range(a.runs):
                for vm in self.vms:
                    self.one("boot %d/%d" % (i + 1, a.runs), self.boot, vm)
                if i == 0 and all(self.samples["boot_exit"].get(v.name) for v in self.vms):
                    self.check_estimate({v.name: self.samples["boot_exit"][v.name][0]
                                         for v in self.vms}, "from the first boots")
            print("idle (append %r; settle %.0f s, measure %.0f s):"
                  % (APPEND_IDLE, IDLE_SETTLE, IDLE_WINDOW))
            for i in range(a.idle_runs):
                for vm in self.vms:
                    self.one("idle %d/%d" % (i + 1, a.idle_runs), self.idle, vm)
        except RunFailed:
            print("bench: a run timed out; stopping here")
        finally:
            if self.current is not None:
                self.current.close()
        self.elapsed = time.monotonic() - t_start
        self.load_after = os.getloadavg()[0]

    # --- report ----------------------------------------------------------
    ROWS = [
        ("boot_ready", "boot: start to ready line (s)", "%.2f"),
        ("boot_exit", "boot: start to exit after poweroff (s)", "%.2f"),
        ("idle_cpu", "idle: CPU (% of one core)", "%.2f"),
        ("idle_rss_beyond", "idle: RSS beyond guest RAM (MiB)", "%.1f"),
        ("idle_rss", "idle: raw RSS (MiB)", "%.1f"),
    ]

    def table(self):
        out = ["| workload | tern median | QEMU median | tern/QEMU | runs (tern/QEMU) |",
               "|---|---:|---:|---:|---:|"]
        for key, label, fmt in self.ROWS:
            t = self.samples[key].get("tern", [])
            q = self.samples[key].get("QEMU", [])
            mt = statistics.median(t) if t else None
            mq = statistics.median(q) if q else None
            ratio = "n/a"
            if mt is not None and mq is not None and mt > 0 and mq > 0:
                ratio = "%.2f" % (mt / mq)
            out.append("| %s | %s | %s | %s | %d/%d |" % (
                label, fmt % mt if mt is not None else "-", fmt % mq if mq is not None else "-",
                ratio, len(t), len(q)))
        return out

    def sample_lines(self):
        out = []
        for key, label, fmt in self.ROWS:
            for vm in self.vms:
                s = self.samples[key].get(vm.name, [])
                med = (fmt % statistics.median(s)) if s else "-"
                out.append("- %s, %s: median %s; samples %s" % (
                    label, vm.name, med, ", ".join(fmt % x for x in s) or "none"))
        return out

    def commands(self):
        return [
            "boot: " + shlex.join(self.vms[0].argv(APPEND_BOOT, shown=True)),
            "boot: " + shlex.join(self.vms[1].argv(APPEND_BOOT, shown=True)),
            "idle: " + shlex.join(self.vms[0].argv(APPEND_IDLE, shown=True)),
            "idle: " + shlex.join(self.vms[1].argv(APPEND_IDLE, shown=True)),
            "idle stop: write 'poweroff -f\\n' to the VM's stdin; SIGTERM after %.0f s"
            % STOP_GRACE,
        ]


def sh(cmd, cwd):
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                              timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def binary_sha(path):
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            h.update(f.read())
    except OSError:
        return "unreadable"
    return h.hexdigest()[:12]


def machine_info(args, tern_exe):
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    commit = sh(["git", "rev-parse", "--short", "HEAD"], args.repo) or "unknown"
    if sh(["git", "status", "--porcelain"], args.repo):
        commit += "+dirty"
    qemu_ver = sh([args.qemu, "--version"], args.repo).splitlines()
    return {
        "uname": sh(["uname", "-srm"], args.repo),
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "commit": commit,
        "tern_sha": binary_sha(tern_exe),
        "qemu": qemu_ver[0] if qemu_ver else "unknown",
    }


def update_docs(path, section):
    text = ""
    if os.path.exists(path):
        with open(path) as f:
            text = f.read()
    block = BEGIN + "\n" + section.rstrip("\n") + "\n" + END
    b, e = text.find(BEGIN), text.find(END)
    if b >= 0 and e > b:
        text = text[:b] + block + text[e + len(END):]
    else:
        log = text.find("## Log of CPU changes")
        if log >= 0:
            text = text[:log] + block + "\n\n" + text[log:]
        else:
            text = (text.rstrip("\n") + "\n\n" if text else "# tern benchmarks\n\n") + block + "\n"
    with open(path, "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description="tern vs QEMU: boot and idle benchmarks")
    ap.add_argument("--repo", required=True)
    ap.add_argument("--tern", required=True)
    ap.add_argument("--qemu", required=True)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--idle-runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="1 run each, docs untouched")
    ap.add_argument("--no-docs", action="store_true")
    ap.add_argument("--invocation", default="bench/run.sh")
    args = ap.parse_args()
    if args.quick:
        args.runs = args.idle_runs = 1
        args.no_docs = True
    if args.runs < 1 or args.idle_runs < 0:
        ap.error("need at least 1 boot run and 0 or more idle runs")

    # Snapshot the tern binary: others may rebuild build/tern while this runs.
    tmpdir = tempfile.mkdtemp(prefix="tern-bench.")
    try:
        tern_exe = os.path.join(tmpdir, "tern")
        shutil.copy2(args.tern, tern_exe)
        return bench_main(args, tern_exe)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def bench_main(args, tern_exe):
    b = Bench(args, tern_exe)
    # Ctrl-C and SIGTERM: stop the VM we started, then leave.
    def on_signal(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    # Taken before the runs: the tree and build/tern may change while they go on.
    info = machine_info(args, tern_exe)
    try:
        b.run()
    except KeyboardInterrupt:
        if b.current is not None:
            b.current.close()
        print("\nbench: interrupted")
        return 130

    if binary_sha(args.tern) != info["tern_sha"]:
        b.notes.append("%s was replaced during the run; the figures are for the binary "
                       "as it was at the start (sha256 %s)" % (b.disp(args.tern),
                                                               info["tern_sha"]))
    table = b.table()
    cpu_res = 100.0 / os.sysconf("SC_CLK_TCK") / IDLE_WINDOW   # one clock tick
    print()
    print("results (started %s; %d boot / %d idle runs per VMM; %.0f s in all):"
          % (date, args.runs, args.idle_runs, b.elapsed))
    print("\n".join(table))
    print("lower is better in every row; ratio n/a when a median is not positive; "
          "CPU %% resolution %.2f %%" % cpu_res)
    print()
    print("samples:")
    print("\n".join(b.sample_lines()))
    print()
    print("machine: %s; %s; %d CPUs" % (info["uname"], info["cpu"], info["nproc"]))
    print("tern: commit %s, binary %s (sha256 %s)" % (info["commit"], b.disp(args.tern),
                                                      info["tern_sha"]))
    print("qemu: %s" % info["qemu"])
    print("load average (1 min): %.2f before, %.2f after" % (b.load_before, b.load_after))
    for n in b.notes:
        print("note: " + n)

    if b.failures:
        print()
        print("bench: %d run(s) failed:" % len(b.failures))
        for f in b.failures:
            print("  " + f)
        print("bench: docs/BENCHMARKS.md left unchanged")
        return 1
    if args.no_docs:
        print("bench: --quick/--no-docs: docs/BENCHMARKS.md left unchanged")
        return 0

    sec = []
    sec.append("## Latest run\n")
    sec.append("Generated by `%s`, started %s; %d boot and %d idle runs per VMM, "
               "%.0f s in all.\n" % (args.invocation, date, args.runs, args.idle_runs,
                                     b.elapsed))
    sec.append("- Machine: %s; %s; %d CPUs; 1-min load average %.2f before, %.2f after"
               % (info["uname"], info["cpu"], info["nproc"], b.load_before, b.load_after))
    sec.append("- tern: commit %s, binary `%s` (sha256 %s)"
               % (info["commit"], b.disp(args.tern), info["tern_sha"]))
    sec.append("- QEMU: %s" % info["qemu"])
    sec.append("- Guest: kernel %s, %d MiB, 1 vCPU\n" % (b.release or "?", GUEST_MEM_MIB))
    sec.extend(table)
    sec.append("\nLower is better in every row. Guest RAM is allocated lazily by both, "
               "so RSS beyond guest RAM can be negative. CPU time is counted in clock "
               "ticks: %.2f %% of a core is one tick over the %.0f s window.\n"
               % (cpu_res, IDLE_WINDOW))
    sec.append("Samples, in run order:\n")
    sec.extend(b.sample_lines())
    sec.append("\nCommands (run from the repository root):\n")
    sec.append("```")
    sec.append(args.invocation)
    sec.extend(b.commands())
    sec.append("```")
    for n in b.notes:
        sec.append("\nNote: " + n)
    docs = os.path.join(args.repo, "docs", "BENCHMARKS.md")
    update_docs(docs, "\n".join(sec) + "\n")
    print("bench: updated docs/BENCHMARKS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
