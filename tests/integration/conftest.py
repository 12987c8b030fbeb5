# conftest.py: shared helpers for tern's integration tests. `Guest` boots the
# reference guest under `build/tern run` and drives its serial console through
# stdin/stdout; the fixtures skip cleanly when tern or the guest kit is missing.
import itertools
import os
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# TERN_BIN lets the harness itself be checked against another VMM wrapper.
TERN = Path(os.environ.get("TERN_BIN", REPO / "build" / "tern"))
KIT = REPO / "build" / "guest"
IMAGE = KIT / "Image"
INITRD = KIT / "initramfs.cpio.gz"
LOG_DIR = REPO / "build" / "integration-logs"

BOOT_TIMEOUT = float(os.environ.get("TERN_BOOT_TIMEOUT", "180"))
CMD_TIMEOUT = float(os.environ.get("TERN_CMD_TIMEOUT", "120"))
READY_RE = r"TERN-GUEST-READY (\S+)\n"

# Terminal noise from the console: CSI/OSC escapes (ash asks for the cursor
# position with ESC[6n) and carriage returns (the tty maps \n to \r\n).
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[()][A-Za-z0-9]")


def clean(text):
    text = _ESCAPES.sub("", text)
    text = text.replace("\r\n", "\n")
    return text.replace("\r", "")


def kernel_release():
    """The kernel release the kit was built from (build/guest/kernel-version)."""
    try:
        return (KIT / "kernel-version").read_text().strip()
    except OSError:
        return None


def _missing(reason):
    # `make check` sets TERN_REQUIRE_ALL=1: there a missing binary or kit is a
    # failure, never a silent skip.
    if os.environ.get("TERN_REQUIRE_ALL") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def require_tern():
    if not (TERN.is_file() and os.access(TERN, os.X_OK)):
        _missing(f"{TERN} is not built (run `make`)")


def require_kit():
    if not (IMAGE.is_file() and INITRD.is_file()):
        _missing(f"guest kit missing in {KIT} (run `make guest`)")


class GuestError(AssertionError):
    pass


class Guest:
    """One `tern run` process with the reference guest on its console.

    All console output is collected by a reader thread; wait_for() and run()
    search it. The raw log is written to build/integration-logs/<name>.log
    when the guest is closed, for post-mortems.
    """

    _ids = itertools.count(1)

    def __init__(self, cpus=None, memory=None, append="", extra_args=(), name=None, argv=None,
                 prefix=()):
        self.name = name or f"guest{next(self._ids)}"
        self.argv = [str(TERN), "run", "--kernel", str(IMAGE), "--initrd", str(INITRD)]
        if cpus is not None:
            self.argv += ["--cpus", str(cpus)]
        if memory is not None:
            self.argv += ["--memory", str(memory)]
        self.argv += ["--append", ("console=ttyS0 " + append).strip()]
        self.argv += list(extra_args)
        if argv is not None:    # a complete command line (e.g. a restore)
            self.argv = [str(TERN), *map(str, argv)]
        # A wrapper such as `ip netns exec NS` (two hosts on one machine).
        self.argv = [*map(str, prefix), *self.argv]
        self._raw = bytearray()
        self._err = bytearray()
        self._cond = threading.Condition()
        self._eof = False
        self._marker = itertools.count(1)
        self.release = None
        self.last_status = None
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, cwd=REPO)
        self._threads = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self._raw, True), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self._err, False), daemon=True),
        ]
        for t in self._threads:
            t.start()

    # -- output collection ------------------------------------------------
    def _pump(self, stream, buf, is_console):
        fd = stream.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            with self._cond:
                if not chunk:
                    if is_console:
                        self._eof = True
                    self._cond.notify_all()
                    return
                buf.extend(chunk)
                self._cond.notify_all()

    @property
    def output(self):
        """Console output so far, with terminal noise removed."""
        with self._cond:
            return clean(self._raw.decode("utf-8", "replace"))

    @property
    def stderr(self):
        with self._cond:
            return self._err.decode("utf-8", "replace")

    def _tail(self, n=3000):
        out = self.output[-n:]
        err = self.stderr[-1000:]
        return f"\n--- console tail ---\n{out}\n--- stderr tail ---\n{err}\n--- rc={self.proc.poll()}"

    def wait_for(self, regex, timeout=CMD_TIMEOUT, start=0):
        """Wait until `regex` (multiline) matches console output from `start` on."""
        pat = re.compile(regex, re.M)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                text = clean(self._raw.decode("utf-8", "replace"))
                m = pat.search(text, start)
                if m:
                    return m
                if self._eof:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 1.0))
        why = "tern exited" if self._eof else f"timed out after {timeout:.0f}s"
        raise GuestError(f"{self.name}: waiting for /{regex}/: {why}{self._tail()}")

    # -- input ---------------------------------------------------------------
    def wait_stderr(self, regex, timeout=CMD_TIMEOUT):
        """Wait until `regex` (multiline) matches tern's own messages (stderr)."""
        pat = re.compile(regex, re.M)
        deadline = time.monotonic() + timeout
        with self._cond:
            while not pat.search(self._err.decode("utf-8", "replace")):
                left = deadline - time.monotonic()
                if left <= 0 or (self._eof and self.proc.poll() is not None):
                    raise GuestError(f"{self.name}: waiting for /{regex}/ on stderr: "
                                     f"{'tern exited' if left > 0 else 'timed out'}{self._tail()}")
                self._cond.wait(min(left, 1.0))

    def send(self, text):
        try:
            self.proc.stdin.write(text.encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError) as e:
            raise GuestError(f"{self.name}: console input closed ({e}){self._tail()}")

    def boot(self, timeout=BOOT_TIMEOUT):
        """Wait for the ready line; returns the kernel release it names."""
        m = self.wait_for(READY_RE, timeout)
        self.boot_seconds = time.monotonic() - self.started
        self.release = m.group(1)
        return self.release

    def run(self, cmd, timeout=CMD_TIMEOUT, check=True):
        """Run one shell command line; return its output (without markers).

        `cmd` goes on one line between two marker echoes, so it must not end
        in '&' and must not read the console.

        The exit status lands in self.last_status; check=True raises if it is
        non-zero. The markers are split in the typed text ("__BEG""IN") so the
        console's echo of the command can never match them.
        """
        n = next(self._marker)
        # Markers are unique, so a generous margin back is harmless; it covers
        # an escape sequence that was still incomplete when we measured.
        start = max(0, len(self.output) - 256)
        self.send(f'echo "__BEG""IN_{n}__"; {cmd}; echo "__DO""NE_{n}__ $?"\n')
        done = self.wait_for(rf"__DONE_{n}__ (\d+)\n", timeout, start)
        text = self.output
        begin = re.compile(rf"__BEGIN_{n}__\n").search(text, start, done.start())
        if not begin:
            raise GuestError(f"{self.name}: no start marker for {cmd!r}{self._tail()}")
        out = text[begin.end():done.start()]
        self.last_status = int(done.group(1))
        if check and self.last_status != 0:
            raise GuestError(f"{self.name}: {cmd!r} exited {self.last_status}:\n{out}")
        return out

    def poweroff(self, timeout=60):
        """`poweroff -f` in the guest; returns tern's exit code."""
        self.send("poweroff -f\n")
        return self.wait_exit(timeout)

    def wait_exit(self, timeout=60):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise GuestError(f"{self.name}: tern still running {timeout}s after poweroff{self._tail()}")
        for t in self._threads:
            t.join(5)
        return rc

    def close(self):
        if self.proc.poll() is None:
            try:
                self.send("poweroff -f\n")
                self.proc.wait(10)
            except (GuestError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(10)
        for t in self._threads:
            t.join(5)
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass
        try:
            LOG_DIR.mkdir(parents=True, exist_ok=True)
            (LOG_DIR / f"{self.name}.log").write_bytes(
                bytes(self._raw) + b"\n--- stderr ---\n" + bytes(self._err))
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@pytest.fixture
def guest_factory(request):
    """Boots guests on demand; closes them at the end of the test."""
    require_tern()
    require_kit()
    made = []

    def make(**kw):
        kw.setdefault("name", f"{request.node.name}-{len(made) + 1}".replace("/", "_"))
        g = Guest(**kw)
        made.append(g)
        return g

    yield make
    for g in made:
        g.close()


@pytest.fixture(scope="module")
def shared_guest(request):
    """One booted guest shared by a module's read-only console tests."""
    require_tern()
    require_kit()
    g = Guest(name=f"{request.module.__name__}-shared")
    try:
        g.boot()
        # Keep late kernel messages off the console so command output is clean.
        g.run("dmesg -n 1")
    except Exception:
        g.close()
        raise
    yield g
    g.close()


def ctl_dir():
    """Where tern puts its control sockets (ctl_default_dir in
    src/ctl/ctl_path.c)."""
    if os.geteuid() == 0:
        return Path("/run/tern")
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    return Path(xdg) / "tern" if xdg else Path(f"/tmp/tern-{os.geteuid()}")


def sock_of(name):
    """The QMP socket of the VM called name."""
    return str(ctl_dir() / f"{name}.qmp")


def run_tern(*args, timeout=30):
    """Run tern with `args` to completion; returns CompletedProcess (text)."""
    require_tern()
    try:
        return subprocess.run([str(TERN), *map(str, args)], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout, cwd=REPO)
    except subprocess.TimeoutExpired as e:
        def tail(b):
            if isinstance(b, bytes):
                b = b.decode("utf-8", "replace")
            return (b or "")[-1500:]
        pytest.fail(f"tern {' '.join(map(str, args))} still running after {timeout}s\n"
                    f"--- stdout tail ---\n{tail(e.stdout)}\n--- stderr tail ---\n{tail(e.stderr)}")


def make_disk(tmp_path, name="disk.img", size="32M"):
    """A raw image with an empty ext4 file system."""
    img = tmp_path / name
    subprocess.run(["truncate", "-s", size, str(img)], check=True)
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", str(img)], check=True)
    return img
