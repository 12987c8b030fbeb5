#!/usr/bin/python3
# bench.py: boot, idle and guest-workload benchmarks of tern against QEMU, run by
# bench/run.sh. Standard library only. Prints medians, ratios and every sample,
# then refreshes the generated section of docs/BENCHMARKS.md.
import argparse
import collections
import datetime
import gzip
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
APPEND_GUEST = "console=ttyS0 quiet tern.bench=%s"
RUN_TIMEOUT = 300.0     # per run, start to ready (and to exit for boot runs)
IDLE_SETTLE = 3.0
IDLE_WINDOW = 10.0
STOP_GRACE = 30.0       # after "poweroff -f", before SIGTERM
KILL_GRACE = 5.0        # after SIGTERM, before SIGKILL
BUDGET = 600.0          # the whole run should fit in 10 minutes
# Guesses for the first estimate, before anything was measured (seconds).
GUESS_EXIT = {"tern": 12.0, "QEMU": 4.0}
START_GRACE = 60.0      # ready line to TERN-BENCH-START
GUEST_TIMEOUT = 120.0   # TERN-BENCH-START to TERN-BENCH-END (tern needs ~5 s)
BENCH_PREFIX = b"BENCH "


def per_unit(k):
    """A guest throughput (X per second) as a time per unit: k / X."""
    return lambda v: k / v if v > 0 else float("inf")


def same(v):
    return v


# Guest workloads: /bench/NAME in the initramfs (tests/guest/bench), run after
# the ready line with tern.bench=NAME. Each row is (metric printed by the guest,
# table label, conversion to a time per unit, format). Every row is a time, so
# lower is better; throughputs are turned into times per unit. "guess" is the
# seconds the workload adds to a boot (tern, QEMU), for the first estimate.
WORKLOADS = collections.OrderedDict([
    ("cpu", {
        "what": "integer mix like CoreMark: CRC16/32, list find and sort, matrix, "
                "state machine, string ops",
        "rows": [("cpu_rate", "cpu: integer mix, time per iteration (µs)",
                  per_unit(1e6), "%.1f")],
        "guess": {"tern": 3.5, "QEMU": 0.8}}),
    ("fp", {
        "what": "double: n-body steps, 24x24 LU and solve, sqrt norm sum",
        "rows": [("fp_rate", "fp: all kernels, time per flop (ns)", per_unit(1e3), "%.2f"),
                 ("fp_nbody_rate", "fp: n-body, time per flop (ns)", per_unit(1e3), "%.2f"),
                 ("fp_lu_rate", "fp: LU + solve, time per flop (ns)", per_unit(1e3), "%.2f"),
                 ("fp_norm_rate", "fp: sqrt norm sum, time per flop (ns)", per_unit(1e3),
                  "%.2f")],
        "guess": {"tern": 3.5, "QEMU": 0.8}}),
    ("proc", {
        "what": "fork+exit, fork+exec of a tiny static binary, /bin/sh -c true; "
                "parent waits",
        "rows": [("proc_fork_exit", "proc: fork + exit + wait (µs)", same, "%.0f"),
                 ("proc_fork_exec", "proc: fork + exec hello + wait (µs)", same, "%.0f"),
                 ("proc_sh_c_true", "proc: fork + exec sh -c true + wait (µs)", same, "%.0f")],
        "guess": {"tern": 3.5, "QEMU": 2.5}}),
    ("mem", {
        "what": "memset, memcpy over 8 MiB; first touch of fresh anonymous pages",
        "rows": [("mem_memset", "mem: memset 8 MiB, time per MB (µs)", per_unit(1e6), "%.0f"),
                 ("mem_memcpy", "mem: memcpy 8 MiB, time per MB (µs)", per_unit(1e6), "%.0f"),
                 ("mem_touch_page", "mem: first touch of a fresh page (µs)", same, "%.2f")],
        "guess": {"tern": 4.5, "QEMU": 3.0}}),
    ("syscall", {
        "what": "null syscall (getppid), 1-byte pipe round trip between two processes",
        "rows": [("syscall_null", "syscall: null syscall (ns)", same, "%.0f"),
                 ("syscall_pipe_rtt", "syscall: pipe round trip (µs)", same, "%.1f")],
        "guess": {"tern": 2.0, "QEMU": 2.0}}),
    ("loops", {
        "what": "CPU-bound loops for the JIT: table-driven CRC-32 over 64 KiB, "
                "an xorshift/modulo integer mix, a word-by-word copy over 8 MiB",
        "rows": [("loops_crc32", "loops: CRC-32, time per byte (ns)", same, "%.2f"),
                 ("loops_mix", "loops: xorshift/modulo mix, time per iteration (ns)", same,
                  "%.2f"),
                 ("loops_copy", "loops: word copy 8 MiB, time per MB (µs)", same, "%.0f")],
        "guess": {"tern": 6.0, "QEMU": 5.0}}),
])
HOST_WORKLOADS = ("boot", "idle")

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

    def next_line(self, deadline, what):
        """The next output line, or None at EOF; RunFailed at the deadline."""
        left = deadline - time.monotonic()
        try:
            if left <= 0:
                raise queue.Empty
            return self.lines.get(timeout=left)[1]
        except queue.Empty:
            raise RunFailed("no %s" % what, timeout=True)

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
        # Guest figures as printed: raw[metric][vm] = [value], units[metric] = unit;
        # checksums[metric][vm] = [hex string]; wl_wall[name][vm] = [seconds].
        self.raw = collections.defaultdict(lambda: collections.defaultdict(list))
        self.units = {}
        self.checksums = collections.defaultdict(lambda: collections.defaultdict(list))
        self.wl_wall = collections.defaultdict(lambda: collections.defaultdict(list))
        self.mismatches = []
        self.hung = set()       # (vm, workload) that timed out: not run again
        self.guest_wls = [w for w in WORKLOADS if w in args.only]
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

    def guest(self, vm, name):
        """Boot with tern.bench=NAME; the guest runs /bench/NAME after the ready
        line, prints BENCH lines (timed inside the guest) and powers off."""
        p = self.start(vm, APPEND_GUEST % name)
        try:
            deadline = p.t0 + RUN_TIMEOUT
            _, text = p.wait_ready(deadline)
            self.release = self.release or text
            got, status, started = {}, None, False
            until = min(deadline, time.monotonic() + START_GRACE)
            while True:
                try:
                    line = p.next_line(until, "TERN-BENCH-END within %.0f s of the start "
                                       "(hung?)" % GUEST_TIMEOUT if started else
                                       "TERN-BENCH-START within %.0f s of the ready line (is "
                                       "guest/init too old? rebuild the kit: "
                                       "guest/build-kit.sh)" % START_GRACE)
                except RunFailed as e:
                    # A workload that hangs is that workload's failure (skipped on
                    # this VMM from now on); the other workloads still run.
                    if started:
                        self.hung.add((vm.name, name))
                        e.timeout = False
                    raise
                if line is None:
                    p.exited.wait(5)
                    raise RunFailed("output ended before TERN-BENCH-END (exit status %s)"
                                    % p.p.returncode)
                text = line.decode("utf-8", "replace").strip()
                if text.startswith("TERN-BENCH-ERROR"):
                    raise RunFailed("guest: %s (rebuild the kit: guest/build-kit.sh)" % text)
                if text.startswith("TERN-BENCH-START"):
                    started = True
                    until = min(deadline, time.monotonic() + GUEST_TIMEOUT)
                elif text.startswith("TERN-BENCH-END"):
                    f = text.split()
                    status = int(f[-1]) if f[-1].lstrip("-").isdigit() else -1
                    break
                elif line.startswith(BENCH_PREFIX):
                    f = text.split()
                    if len(f) == 4:
                        got[f[1]] = (f[2], f[3])
            if not p.wait_exit(deadline):
                raise RunFailed("did not power off within %.0f s of start" % RUN_TIMEOUT,
                                timeout=True)
            wall = p.t_exit - p.t0
            self.record_guest(vm, name, got, wall)
            if status != 0:
                how = "status %d" % status
                if status > 128:
                    try:
                        how = "killed by %s" % signal.Signals(status - 128).name
                    except ValueError:
                        pass
                raise RunFailed("/bench/%s failed in the guest (%s)" % (name, how))
            if p.p.returncode != 0:
                raise RunFailed("exit status %d after poweroff" % p.p.returncode)
            missing = [m for m, *_ in WORKLOADS[name]["rows"] if m not in got]
            if missing:
                raise RunFailed("no BENCH line for %s" % ", ".join(missing))
            parts = ["%s %s %s" % (m, got[m][0], got[m][1]) for m, *_ in WORKLOADS[name]["rows"]]
            for metric, (v, unit) in got.items():
                if unit == "hex":
                    parts.append("%s %s" % (metric, v))
            bad = any(len({v for vs in self.checksums[m].values() for v in vs}) > 1
                      for m, (_v, unit) in got.items() if unit == "hex")
            return "%s; %.1f s in all%s" % (", ".join(parts), wall,
                                              "  <<< CHECKSUM MISMATCH" if bad else "")
        except RunFailed as e:
            e.tail = p.tail_text()
            raise
        finally:
            p.close()

    def record_guest(self, vm, name, got, wall):
        self.wl_wall[name][vm.name].append(wall)
        convs = {m: conv for m, _l, conv, _f in WORKLOADS[name]["rows"]}
        for metric, (v, unit) in got.items():
            if unit == "hex":
                self.check_sum(vm, metric, v.lower())
                continue
            try:
                val = float(v)
            except ValueError:
                self.notes.append("%s %s: unparsable BENCH value %r for %s"
                                  % (vm.name, name, v, metric))
                continue
            self.raw[metric][vm.name].append(val)
            self.units[metric] = unit
            if metric in convs:
                self.record(metric, vm, convs[metric](val))

    def check_sum(self, vm, metric, value):
        """Same program, same input: every run on every VMM must agree."""
        seen = {v for per_vm in self.checksums[metric].values() for v in per_vm}
        self.checksums[metric][vm.name].append(value)
        if seen and value not in seen:
            self.mismatches.append("%s: %s gave %s, earlier runs gave %s" % (
                metric, vm.name, value, ", ".join(sorted(seen))))

    def one(self, label, fn, vm):
        t = time.monotonic()
        n_mismatch = len(self.mismatches)
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
            for m in self.mismatches[n_mismatch:]:
                print("!!! CHECKSUM MISMATCH: %s\n!!! one VMM computes wrong results" % m)
        return time.monotonic() - t

    # --- estimates -------------------------------------------------------
    def estimate(self, exit_s):
        """Seconds for the whole run, given each VM's boot-to-exit time; guest
        workloads use their measured time once there is one, else a guess."""
        a = self.args
        total = 0.0
        for name, s in exit_s.items():
            if "boot" in a.only:
                total += a.runs * s
            if "idle" in a.only:
                total += a.idle_runs * (s + IDLE_SETTLE + IDLE_WINDOW + 1.0)
            for wl in self.guest_wls:
                done = self.wl_wall[wl].get(name)
                each = statistics.median(done) if done else s + WORKLOADS[wl]["guess"][name]
                total += a.wl_runs * each
        return total

    def check_estimate(self, exit_s, when):
        est = self.estimate(exit_s)
        print("estimate (%s): %.0f s (%.1f min) in all" % (when, est, est / 60))
        if est > BUDGET:
            print("WARNING: the estimate exceeds %.0f min; lower BENCH_RUNS / "
                  "BENCH_IDLE_RUNS / BENCH_WL_RUNS, or use --only or --quick"
                  % (BUDGET / 60))

    def plan(self):
        a, parts = self.args, []
        if "boot" in a.only:
            parts.append("%d boot" % a.runs)
        if "idle" in a.only:
            parts.append("%d idle" % a.idle_runs)
        if self.guest_wls:
            parts.append("%d guest-workload (%s)" % (a.wl_runs, " ".join(self.guest_wls)))
        text = parts[-1] if len(parts) < 2 else ", ".join(parts[:-1]) + " and " + parts[-1]
        return text + " run(s)"

    def run(self):
        a = self.args
        print("bench: %s per VMM, alternating %s, sequential" % (self.plan(),
              " / ".join(v.name for v in self.vms)))
        self.check_estimate(GUESS_EXIT, "guessed tern ~%.0f s, QEMU ~%.0f s per boot"
                            % (GUESS_EXIT["tern"], GUESS_EXIT["QEMU"]))
        self.load_before = os.getloadavg()[0]
        if self.load_before > 0.5:
            print("WARNING: 1-min load average is %.2f; other work on this machine "
                  "will skew the figures" % self.load_before)
        t_start = time.monotonic()
        exit_s = dict(GUESS_EXIT)
        try:
            if "boot" in a.only:
                print("boot (append %r):" % APPEND_BOOT)
            for i in range(a.runs if "boot" in a.only else 0):
                for vm in self.vms:
                    self.one("boot %d/%d" % (i + 1, a.runs), self.boot, vm)
                if i == 0 and all(self.samples["boot_exit"].get(v.name) for v in self.vms):
                    exit_s = {v.name: self.samples["boot_exit"][v.name][0] for v in self.vms}
                    self.check_estimate(exit_s, "from the first boots")
            if "idle" in a.only and a.idle_runs:
                print("idle (append %r; settle %.0f s, measure %.0f s):"
                      % (APPEND_IDLE, IDLE_SETTLE, IDLE_WINDOW))
            for i in range(a.idle_runs if "idle" in a.only else 0):
                for vm in self.vms:
                    self.one("idle %d/%d" % (i + 1, a.idle_runs), self.idle, vm)
            if self.guest_wls:
                print("guest workloads (append %r; figures timed inside the guest):"
                      % (APPEND_GUEST % "NAME"))
            for i in range(a.wl_runs if self.guest_wls else 0):
                for wl in self.guest_wls:
                    for vm in self.vms:
                        if (vm.name, wl) in self.hung:
                            print("  %-12s %-5s skipped: it hung in an earlier run"
                                  % ("%s %d/%d" % (wl, i + 1, a.wl_runs), vm.name))
                            continue
                        self.one("%s %d/%d" % (wl, i + 1, a.wl_runs),
                                 lambda v, wl=wl: self.guest(v, wl), vm)
                if i == 0 and a.wl_runs > 1:
                    self.check_estimate(exit_s, "with the first workload runs")
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

    def rows(self):
        """(key, label, format) of every row this run measures, in table order."""
        out = [r for r in self.ROWS if r[0].split("_")[0] in self.args.only]
        for wl in self.guest_wls:
            out.extend((m, label, fmt) for m, label, _conv, fmt in WORKLOADS[wl]["rows"])
        return out

    def table(self):
        out = ["| workload (every row a time or a cost: lower is better) | tern median "
               "| QEMU median | tern/QEMU (above 1: tern worse) | runs (tern/QEMU) |",
               "|---|---:|---:|---:|---:|"]
        for key, label, fmt in self.rows():
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

    def guest_figures(self):
        """Guest figures as printed (medians; those already in the table as they
        are left out), and checksums."""
        out = []
        for wl in self.guest_wls:
            verbatim = {m for m, _l, conv, _f in WORKLOADS[wl]["rows"] if conv is same}
            metrics = [m for m in self.raw if m.split("_")[0] == wl and m not in verbatim]
            for m in metrics:
                per = []
                for vm in self.vms:
                    v = self.raw[m].get(vm.name, [])
                    per.append("%s %s" % (vm.name, "%.6g" % statistics.median(v) if v else "-"))
                out.append("- %s (%s): %s" % (m, self.units.get(m, "?"), ", ".join(per)))
            for m, per_vm in self.checksums.items():
                if m.split("_")[0] != wl:
                    continue
                vals = sorted({v for vs in per_vm.values() for v in vs})
                runs = "/".join(str(len(per_vm.get(vm.name, []))) for vm in self.vms)
                absent = [vm.name for vm in self.vms if not per_vm.get(vm.name)]
                if len(vals) == 1 and absent:
                    out.append("- %s: %s, NOT cross-checked: no checksum from %s (%s runs)"
                               % (m, vals[0], " or ".join(absent), runs))
                elif len(vals) == 1:
                    out.append("- %s: %s, the same in every run of both VMMs (%s runs)"
                               % (m, vals[0], runs))
                else:
                    out.append("- %s: **MISMATCH** %s" % (m, "; ".join(
                        "%s %s" % (vm.name, ", ".join(per_vm.get(vm.name, [])) or "-")
                        for vm in self.vms)))
        return out

    def sample_lines(self):
        out = []
        for key, label, fmt in self.rows():
            for vm in self.vms:
                s = self.samples[key].get(vm.name, [])
                med = (fmt % statistics.median(s)) if s else "-"
                out.append("- %s, %s: median %s; samples %s" % (
                    label, vm.name, med, ", ".join(fmt % x for x in s) or "none"))
        return out

    def commands(self):
        out = []
        if "boot" in self.args.only:
            out += ["boot: " + shlex.join(vm.argv(APPEND_BOOT, shown=True)) for vm in self.vms]
        if "idle" in self.args.only:
            out += ["idle: " + shlex.join(vm.argv(APPEND_IDLE, shown=True)) for vm in self.vms]
            out.append("idle stop: write 'poweroff -f\\n' to the VM's stdin; SIGTERM after "
                       "%.0f s" % STOP_GRACE)
        if self.guest_wls:
            out += ["guest workloads: " + shlex.join(vm.argv(APPEND_GUEST % "NAME", shown=True))
                    for vm in self.vms]
            out.append("  NAME in: %s (/bench/NAME, built from tests/guest/bench/)"
                       % " ".join(self.guest_wls))
        return out

    def workload_lines(self):
        return ["- **%s**: %s" % (wl, WORKLOADS[wl]["what"]) for wl in self.guest_wls]


def initrd_names(path):
    """Member names of a gzip'd newc cpio archive (concatenated ones too)."""
    with open(path, "rb") as f:
        data = gzip.decompress(f.read())
    names, off = set(), 0
    while off + 110 <= len(data):
        if data[off:off + 6] not in (b"070701", b"070702"):
            off += 4        # padding between concatenated archives
            continue
        filesize = int(data[off + 54:off + 62], 16)
        namesize = int(data[off + 94:off + 102], 16)
        name = data[off + 110:off + 110 + namesize - 1].decode("utf-8", "replace")
        off = (off + 110 + namesize + 3) & ~3
        off = (off + filesize + 3) & ~3
        if name == "TRAILER!!!":
            continue
        names.add(name[2:] if name.startswith("./") else name)
    return names


def check_initrd(path, workloads):
    """None when the initramfs has /bench/<each workload>, else what is wrong."""
    try:
        names = initrd_names(path)
    except (OSError, EOFError, ValueError, gzip.BadGzipFile) as e:
        return "cannot read %s: %s" % (path, e)
    missing = ["/bench/" + w for w in workloads if "bench/" + w not in names]
    if missing:
        return "%s has no %s" % (path, ", ".join(missing))
    return None


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
    ap = argparse.ArgumentParser(description="tern vs QEMU: boot, idle and guest workloads")
    ap.add_argument("--repo", required=True)
    ap.add_argument("--tern", required=True)
    ap.add_argument("--qemu", required=True)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--idle-runs", type=int, default=3)
    ap.add_argument("--wl-runs", type=int, default=3, help="runs per guest workload")
    ap.add_argument("--only", action="append", default=[], metavar="WORKLOAD[,...]",
                    help="run only these (boot, idle, %s); leaves the docs alone"
                    % ", ".join(WORKLOADS))
    ap.add_argument("--quick", action="store_true", help="1 run each, docs untouched")
    ap.add_argument("--no-docs", action="store_true")
    ap.add_argument("--invocation", default="bench/run.sh")
    args = ap.parse_args()
    every = list(HOST_WORKLOADS) + list(WORKLOADS)
    only = [w for o in args.only for w in o.replace(",", " ").split()]
    for w in only:
        if w not in every:
            ap.error("--only: unknown workload '%s' (choose from %s)" % (w, ", ".join(every)))
    if only:
        args.no_docs = True     # a partial run must not replace the full table
    args.only = set(only or every)
    if args.quick:
        args.runs = args.idle_runs = args.wl_runs = 1
        args.no_docs = True
    if args.runs < 1 or args.idle_runs < 0 or args.wl_runs < 1:
        ap.error("need at least 1 boot run, 1 run per guest workload and 0 or more idle runs")

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
    if b.guest_wls:
        err = check_initrd(args.initrd, b.guest_wls)
        if err:
            print("bench: %s; rebuild the guest kit (guest/build-kit.sh, needs "
                  "riscv64-linux-gnu-gcc from scripts/deps.sh)" % err, file=sys.stderr)
            return 1
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
    print("results (started %s; %s per VMM; %.0f s in all):" % (date, b.plan(), b.elapsed))
    print("\n".join(table))
    print("lower is better in every row: guest throughputs are shown as time per unit, "
          "so a tern/QEMU ratio above 1 means tern is slower; ratio n/a when a median "
          "is not positive" + ("; CPU %% resolution %.2f %%" % cpu_res
                               if "idle" in args.only else ""))
    figures = b.guest_figures()
    if figures:
        print()
        print("guest figures as printed (medians; throughputs here: higher is better):")
        print("\n".join(figures))
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

    if b.mismatches:
        print()
        print("!!! bench: CHECKSUM MISMATCH between runs or VMMs: one of them computes "
              "wrong results (a CPU bug); compare with QEMU, the oracle:")
        for m in b.mismatches:
            print("!!!   " + m)
    if b.failures or b.mismatches:
        print()
        if b.failures:
            print("bench: %d run(s) failed:" % len(b.failures))
            for f in b.failures:
                print("  " + f)
        print("bench: docs/BENCHMARKS.md left unchanged")
        return 1
    if args.no_docs:
        print("bench: --quick/--no-docs/--only: docs/BENCHMARKS.md left unchanged")
        return 0

    sec = []
    sec.append("## Latest run\n")
    sec.append("Generated by `%s`, started %s; %s per VMM, %.0f s in all.\n"
               % (args.invocation, date, b.plan(), b.elapsed))
    sec.append("- Machine: %s; %s; %d CPUs; 1-min load average %.2f before, %.2f after"
               % (info["uname"], info["cpu"], info["nproc"], b.load_before, b.load_after))
    sec.append("- tern: commit %s, binary `%s` (sha256 %s)"
               % (info["commit"], b.disp(args.tern), info["tern_sha"]))
    sec.append("- QEMU: %s" % info["qemu"])
    sec.append("- Guest: kernel %s, %d MiB, 1 vCPU\n" % (b.release or "?", GUEST_MEM_MIB))
    sec.extend(table)
    sec.append("\nLower is better in every row, and a tern/QEMU ratio above 1 means tern "
               "is slower (or costlier). Guest RAM is allocated lazily by both, "
               "so RSS beyond guest RAM can be negative. CPU time is counted in clock "
               "ticks: %.2f %% of a core is one tick over the %.0f s window.\n"
               % (cpu_res, IDLE_WINDOW))
    if b.guest_wls:
        sec.append("The guest workloads are static riscv64 programs in the initramfs "
                   "(`/bench/NAME`, from `tests/guest/bench/`), run after the ready line "
                   "and timed inside the guest with `CLOCK_MONOTONIC`, so boot time is "
                   "not in them. Throughputs are shown as time per unit (MB = 10^6 bytes; "
                   "flops are counted from the loop shapes):\n")
        sec.extend(b.workload_lines())
        sec.append("\nGuest figures as printed (medians; throughputs here, so higher is "
                   "better) and checksums, which must agree between the two VMMs:\n")
        sec.extend(figures)
        sec.append("")
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
