# test_qmp_spec.py: tern's control socket checked by a QMP client written
# here from QEMU's QMP specification (docs/interop/qmp-spec: greeting,
# capabilities negotiation, commands with ids, return/error replies,
# asynchronous events with timestamps), independent of tests' qmp_client.py.
# It covers what QEMU clients rely on: event order, introspection, the
# migration settings under QEMU's names, HMP, getfd, and migration over
# unix:, exec: and fd: with the source left in postmigrate.
import itertools
import json
import os
import re
import socket
import sys
import time

import pytest

from conftest import sock_of, run_tern, REPO

_n = itertools.count(1)
RELAY = REPO / "tests" / "integration" / "mig_relay.py"


def vm_name(tag="spec"):
    return f"{tag}-{os.getpid()}-{next(_n)}"


class SpecClient:
    """QMP as the specification defines it. Every message read is checked
    against the spec's grammar; `wire` keeps them in arrival order."""

    def __init__(self, path, timeout=30):
        deadline = time.monotonic() + 60
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(str(path))
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.wire = []
        self.ids = itertools.count(1)
        self.greeting = self._read()
        g = self.greeting["QMP"]
        assert set(g) == {"version", "capabilities"}
        assert set(g["version"]) == {"qemu", "package"}
        assert all(isinstance(g["version"]["qemu"][k], int) for k in ("major", "minor", "micro"))
        assert isinstance(g["capabilities"], list)

    def _read(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("server closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        msg = json.loads(line)
        assert isinstance(msg, dict)
        if "event" in msg:
            assert set(msg) <= {"event", "data", "timestamp"}, msg
            ts = msg["timestamp"]
            assert isinstance(ts["seconds"], int) and 0 <= ts["microseconds"] < 1000000
        elif "return" in msg or "error" in msg:
            assert set(msg) <= {"return", "error", "id"}, msg
            if "error" in msg:
                assert set(msg["error"]) == {"class", "desc"}, msg
                assert isinstance(msg["error"]["desc"], str)
        else:
            assert "QMP" in msg, msg
        self.wire.append(msg)
        return msg

    def send(self, execute, arguments=None, fds=()):
        rid = f"spec-{next(self.ids)}"
        msg = {"execute": execute, "id": rid}
        if arguments is not None:
            msg["arguments"] = arguments
        data = json.dumps(msg).encode() + b"\n"
        if fds:
            socket.send_fds(self.sock, [data], list(fds))
        else:
            self.sock.sendall(data)
        return rid

    def call(self, execute, arguments=None, fds=()):
        """The reply with our id (the spec: the id is echoed unchanged)."""
        rid = self.send(execute, arguments, fds)
        while True:
            m = self._read()
            if "event" not in m:
                assert m.get("id") == rid, (rid, m)
                return m

    def ok(self, execute, arguments=None, fds=()):
        r = self.call(execute, arguments, fds)
        assert "return" in r, r
        return r["return"]

    def err(self, execute, arguments=None, cls="GenericError"):
        r = self.call(execute, arguments)
        assert "error" in r, r
        assert r["error"]["class"] == cls, r
        return r["error"]["desc"]

    def event(self, name, timeout=30):
        for m in self.wire:
            if m.get("event") == name and not m.get("_seen"):
                m["_seen"] = True
                return m
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.1, deadline - time.monotonic()))
            m = self._read()
            if m.get("event") == name:
                m["_seen"] = True
                return m
        raise AssertionError(f"no {name} event")

    def events_before_reply(self, execute, arguments=None):
        """Run a command; the names of the events that came between sending
        it and its reply, in order."""
        start = len(self.wire)
        r = self.call(execute, arguments)
        assert "return" in r, r
        return [m["event"] for m in self.wire[start:-1] if "event" in m]

    def close(self):
        self.sock.close()


def boot(guest_factory, name, *args):
    g = guest_factory(extra_args=("--name", name) + args)
    g.boot()
    g.run("dmesg -n 1")
    return g


def test_spec_client_session(guest_factory):
    name = vm_name()
    g = boot(guest_factory, name, "--cpus", "2")
    c = SpecClient(sock_of(name))
    # query-version is tern's real version (as `tern --version`).
    ver = run_tern("--version").stdout.split()[1]
    v = c.greeting["QMP"]["version"]
    assert "%d.%d.%d" % (v["qemu"]["major"], v["qemu"]["minor"], v["qemu"]["micro"]) == ver
    assert ver in v["package"]
    # Capabilities negotiation mode: only qmp_capabilities.
    assert "qmp_capabilities" in c.err("query-status", cls="CommandNotFound")
    assert c.ok("qmp_capabilities") == {}
    assert c.ok("query-version") == v

    # Introspection: query-commands and query-qmp-schema agree.
    names = {x["name"] for x in c.ok("query-commands")}
    want = {"qmp_capabilities", "query-status", "stop", "cont", "system_reset", "system_powerdown",
            "quit", "query-version", "query-commands", "query-qmp-schema", "query-cpus-fast",
            "migrate", "query-migrate", "migrate_cancel", "migrate-set-capabilities",
            "query-migrate-capabilities", "migrate-set-parameters", "query-migrate-parameters",
            "getfd", "closefd", "human-monitor-command", "query-name"}
    assert want <= names, want - names
    schema = c.ok("query-qmp-schema")
    by_name = {e["name"]: e for e in schema}
    for n in names:
        e = by_name[n]
        assert e["meta-type"] == "command"
        assert e["arg-type"] in by_name and e["ret-type"] in by_name
    for ev in ("SHUTDOWN", "POWERDOWN", "RESET", "STOP", "RESUME", "MIGRATION", "MIGRATION_PASS"):
        assert by_name[ev]["meta-type"] == "event"
    mig_args = {m["name"] for m in by_name[by_name["migrate"]["arg-type"]]["members"]}
    assert "uri" in mig_args
    par_args = {m["name"] for m in by_name[by_name["migrate-set-parameters"]["arg-type"]]["members"]}
    assert {"downtime-limit", "max-bandwidth", "multifd-channels", "tls-creds"} <= par_args

    # Events go out before the reply of the command that caused them.
    assert c.events_before_reply("stop") == ["STOP"]
    assert "VM status: paused" in c.ok("human-monitor-command", {"command-line": "info status"})
    assert c.events_before_reply("cont") == ["RESUME"]
    assert c.ok("human-monitor-command", {"command-line": "info status"}) == "VM status: running\r\n"

    # query-cpus-fast: each hart's thread is a thread of the VM process.
    cpus = c.ok("query-cpus-fast")
    assert [x["cpu-index"] for x in cpus] == [0, 1]
    for x in cpus:
        assert os.path.isdir(f"/proc/{g.proc.pid}/task/{x['thread-id']}")

    # HMP: registers of a real hart, migration info, refusal of the rest.
    regs = c.ok("human-monitor-command", {"command-line": "info registers"})
    pc = int(re.search(r"^ pc +([0-9a-f]{16})", regs, re.M).group(1), 16)
    assert pc >= 0x80000000 or pc >= 0xffffffff00000000
    assert "x2/sp" in regs
    both = c.ok("human-monitor-command", {"command-line": "info registers -a"})
    assert "CPU#0" in both and "CPU#1" in both
    one = c.ok("human-monitor-command", {"command-line": "info registers", "cpu-index": 1})
    assert re.search(r"^ mhartid +0000000000000001", one, re.M)
    c.ok("human-monitor-command", {"command-line": "info migrate"})
    assert "not supported" in c.err("human-monitor-command", {"command-line": "info qtree"})

    # Migration capabilities: QEMU's names; what tern lacks is refused.
    caps = {x["capability"]: x["state"] for x in c.ok("query-migrate-capabilities")}
    for n in ("xbzrle", "auto-converge", "zero-blocks", "events", "postcopy-ram",
              "pause-before-switchover", "multifd", "return-path"):
        assert isinstance(caps[n], bool), n
    assert caps["xbzrle"] is True           # tern's default (QEMU's is off)
    for n in ("multifd", "zero-blocks", "x-colo"):
        d = c.err("migrate-set-capabilities", {"capabilities": [{"capability": n, "state": True}]})
        assert n in d and "can only be off" in d
    c.err("migrate-set-capabilities", {"capabilities": [{"capability": "warp", "state": True}]})
    c.ok("migrate-set-capabilities", {"capabilities": [
        {"capability": "auto-converge", "state": False}, {"capability": "xbzrle", "state": False}]})
    caps = {x["capability"]: x["state"] for x in c.ok("query-migrate-capabilities")}
    assert caps["auto-converge"] is False and caps["xbzrle"] is False

    # Parameters: QEMU's names, tern's as aliases, refusals with reasons.
    p = c.ok("query-migrate-parameters")
    for n in ("downtime-limit", "max-bandwidth", "multifd-channels", "multifd-compression",
              "tls-creds", "cpu-throttle-initial", "max-cpu-throttle", "compress", "mode"):
        assert n in p, n
    c.ok("migrate-set-parameters", {"downtime-limit": 150, "max-bandwidth": 1 << 30,
                                    "multifd-compression": "zstd", "tls-creds": "",
                                    "cpu-throttle-increment": 15})
    p = c.ok("query-migrate-parameters")
    assert p["downtime-limit"] == 150 and p["max-bandwidth"] == 1 << 30
    assert p["compress"] == "zstd" and p["multifd-compression"] == "zstd"
    assert p["cpu-throttle-increment"] == 15
    assert "--migrate-tls" in c.err("migrate-set-parameters", {"tls-creds": "tls0"})
    assert "multifd" in c.err("migrate-set-parameters", {"multifd-channels": 4})
    assert "not implemented" in c.err("migrate-set-parameters", {"throttle-trigger-threshold": 30})
    c.err("migrate-set-parameters", {"no-such-parameter": 1})
    assert c.ok("query-migrate-parameters")["downtime-limit"] == 150   # nothing half-applied

    # getfd needs a descriptor sent with the command (SCM_RIGHTS).
    assert "SCM_RIGHTS" in c.err("getfd", {"fdname": "a"})
    r, w = socket.socketpair()
    c.ok("getfd", {"fdname": "a"}, fds=[r.fileno()])
    c.ok("closefd", {"fdname": "a"})
    assert "not found" in c.err("closefd", {"fdname": "a"})
    r.close(), w.close()
    assert "has not been found" in c.err("migrate", {"uri": "fd:nosuch"})
    assert "migration URIs" in c.err("migrate", {"uri": "rdma:1.2.3.4:5"})
    # Block migration (tern's --copy-storage) needs a live stream, not a snapshot file.
    assert "block migration" in c.err("migrate", {"uri": "file:/nonexistent/x", "blk": True})

    # The power button: POWERDOWN before the reply, then the guest's own
    # power-off (SHUTDOWN guest-shutdown).
    assert c.events_before_reply("system_powerdown") == ["POWERDOWN"]
    assert c.event("SHUTDOWN")["data"] == {"guest": True, "reason": "guest-shutdown"}
    assert g.wait_exit(30) == 0


def wait_path(path, proc, timeout=30):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        assert proc.poll() is None, f"tern exited {proc.returncode}"
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def migrated(c, timeout=120):
    """Wait for the end of the source's migration; returns its status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = c.ok("query-migrate").get("status")
        if st in ("completed", "failed", "cancelled"):
            return st
        time.sleep(0.1)
    raise AssertionError("migration did not end")


def hop(src, c, dst, uri, pause_before_switchover=False):
    """Migrate src (client c) to dst over uri; check both ends."""
    if pause_before_switchover:
        c.ok("migrate-set-capabilities", {"capabilities": [
            {"capability": "pause-before-switchover", "state": True}]})
    assert "not in expected state" in c.err("migrate-continue", {"state": "pre-switchover"})
    c.ok("migrate", {"uri": uri})
    if pause_before_switchover:
        deadline = time.monotonic() + 60
        while c.ok("query-migrate")["status"] != "pre-switchover":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert c.ok("query-status")["status"] == "finish-migrate"
        time.sleep(0.3)
        assert c.ok("query-migrate")["status"] == "pre-switchover"   # it waits
        c.ok("migrate-continue", {"state": "pre-switchover"})
    assert migrated(c) == "completed", c.ok("query-migrate")
    assert c.ok("query-status")["status"] == "postmigrate"
    assert "migrated away" in c.err("cont")
    assert "paused (postmigrate)" in c.ok("human-monitor-command", {"command-line": "info status"})
    if pause_before_switchover:
        seen = [m["data"]["status"] for m in c.wire if m.get("event") == "MIGRATION"]
        assert seen.index("pre-switchover") < seen.index("device") < seen.index("completed"), seen
    passes = [m for m in c.wire if m.get("event") == "MIGRATION_PASS"]
    assert passes and passes[0]["data"]["pass"] >= 1
    assert any(m.get("event") == "MIGRATION" and m["data"]["status"] == "completed" for m in c.wire)
    c.ok("quit")
    assert src.wait_exit(30) == 0          # the guest lives on at dst: not killed
    assert "migrated away" in src.stderr
    assert dst.run("echo hop-ok") == "hop-ok\n"


def test_migration_over_unix_exec_and_fd(guest_factory, tmp_path):
    key = tmp_path / "key"
    key.write_bytes(os.urandom(32))
    key.chmod(0o600)
    relay = f"{sys.executable} {RELAY}"
    names = [vm_name("hop") for _ in range(4)]
    a = boot(guest_factory, names[0], "--migrate-key", key)
    a.run("echo born-on-a > /tmp/mark")

    # a -> b over unix:PATH (tern run --incoming unix:PATH).
    p1 = tmp_path / "b.sock"
    b = guest_factory(argv=("run", "--incoming", f"unix:{p1}", "--migrate-key", key,
                            "--name", names[1]))
    wait_path(p1, b.proc)
    assert oct(os.stat(p1).st_mode & 0o777) == "0o600"
    c = SpecClient(sock_of(names[0]))
    c.ok("qmp_capabilities")
    hop(a, c, b, f"unix:{p1}", pause_before_switchover=True)
    assert not p1.exists()

    # b -> c over exec:CMD at both ends (the relay joins two commands).
    p2 = tmp_path / "c.sock"
    cc = guest_factory(argv=("run", "--incoming", f"exec:{relay} listen {p2}", "--migrate-key", key,
                             "--name", names[2]))
    wait_path(p2, cc.proc)
    c = SpecClient(sock_of(names[1]))
    c.ok("qmp_capabilities")
    hop(b, c, cc, f"exec:{relay} connect {p2}")

    # c -> d over fd:NAME: a socket this test connects and passes (getfd).
    p3 = tmp_path / "d.sock"
    d = guest_factory(argv=("run", "--incoming", f"unix:{p3}", "--migrate-key", key,
                            "--name", names[3]))
    wait_path(p3, d.proc)
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(p3))
    c = SpecClient(sock_of(names[2]))
    c.ok("qmp_capabilities")
    c.ok("getfd", {"fdname": "migfd"}, fds=[s.fileno()])
    s.close()                               # tern holds its own copy now
    hop(cc, c, d, "fd:migfd")
    assert d.run("cat /tmp/mark") == "born-on-a\n"
    assert d.poweroff() == 0


def test_incoming_uri_errors(tmp_path):
    key = tmp_path / "key"
    key.write_bytes(os.urandom(32))
    key.chmod(0o600)
    p = run_tern("run", "--incoming", "fd:99", "--migrate-key", key)
    assert p.returncode == 1 and "not a stream socket" in p.stderr, p.stderr
    p = run_tern("run", "--incoming", "unix:/nonexistent-dir/x.sock", "--migrate-key", key)
    assert p.returncode == 1 and "cannot listen on unix:/nonexistent-dir/x.sock" in p.stderr, p.stderr
    p = run_tern("run", "--incoming", "unix:/tmp/x.sock")
    assert p.returncode == 1 and "--incoming unix: needs --migrate-key" in p.stderr, p.stderr
    p = run_tern("migrate", "x", "fd:3")
    assert p.returncode == 2 and "tcp:HOST:PORT, unix:PATH or exec:CMD" in p.stderr
