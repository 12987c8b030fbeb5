# test_qmp.py: the control socket as QMP clients see it (greeting,
# negotiation, queries, errors, events, hostile input), stop/cont really
# freezing the guest, system_reset, quit, and the `tern` verbs that wrap it.
import itertools
import json
import os
import re
import socket
import subprocess
import time

import pytest

from conftest import sock_of, TERN, run_tern
from qmp_client import QMP, QMPError, wait_socket

_n = itertools.count(1)


def vm_name():
    return f"qmpt-{os.getpid()}-{next(_n)}"


def boot(guest_factory, name, *args, cpus=None):
    g = guest_factory(extra_args=("--name", name) + args, cpus=cpus)
    g.boot()
    g.run("dmesg -n 1")
    wait_socket(sock_of(name), g.proc)
    return g


def test_protocol_queries_and_errors(guest_factory):
    name = vm_name()
    g = boot(guest_factory, name, cpus=2)
    q = QMP(sock_of(name), negotiate=False)
    assert q.greeting["QMP"]["capabilities"] == []
    assert "qemu" in q.greeting["QMP"]["version"]
    # Nothing but qmp_capabilities before negotiation, as QEMU does.
    r = q.request("query-status")
    assert r["error"]["class"] == "CommandNotFound"
    assert "qmp_capabilities" in r["error"]["desc"]
    q.cmd("qmp_capabilities")
    r = q.request("qmp_capabilities")
    assert r["error"]["class"] == "CommandNotFound"

    assert q.cmd("query-status") == {"status": "running", "running": True, "singlestep": False}
    assert q.cmd("query-name") == {"name": name}
    assert q.cmd("query-version")["qemu"]["major"] >= 0
    names = {c["name"] for c in q.cmd("query-commands")}
    assert {"stop", "cont", "quit", "query-status", "system_reset", "query-cpus-fast"} <= names
    cpus = q.cmd("query-cpus-fast")
    assert [c["cpu-index"] for c in cpus] == [0, 1]
    assert all(c["target"] == "riscv64" for c in cpus)
    assert os.path.isdir(f"/proc/{g.proc.pid}/task/{cpus[0]['thread-id']}")

    r = q.request("no-such-command")
    assert r["error"]["class"] == "CommandNotFound"
    r = q.request("migrate")
    assert r["error"]["class"] == "GenericError" and "'uri' is missing" in r["error"]["desc"]
    r = q.request("stop", bogus=1)
    assert r["error"]["class"] == "GenericError" and "'bogus' is unexpected" in r["error"]["desc"]
    assert q.cmd("query-status")["status"] == "running"

    # Hostile input: garbage, a non-object, bad members, an unfinished huge
    # value, deep nesting. Each gets an error or a hang-up; the VM carries on.
    for raw, needle in [(b"garbage here\n", "JSON parse error"),
                        (b"[1, 2]\n", "must be a JSON object"),
                        (b'{"execute": 42}\n', "must be a string"),
                        (b'{"execute": "stop", "arguments": []}\n', "must be an object"),
                        (b'{"foo": 1}\n', "unexpected"),
                        (b'{"execute": "query-status", "execute": "stop"}\n', "JSON parse error"),
                        (b'{"execute": }\n', "JSON parse error")]:
        q.send_raw(raw)
        m = q.recv()
        assert "error" in m and needle in m["error"]["desc"], (raw, m)
    assert q.cmd("query-status")["status"] == "running"
    q.close()

    # Over 1 MiB without an end: an error, then the server hangs up (it may
    # hang up while we are still sending, which resets the connection).
    big = QMP(sock_of(name))
    try:
        big.send_raw(b'{"execute": "' + b"x" * (2 << 20))
        m = big.recv()
        assert m["error"]["class"] == "GenericError" and "too large" in m["error"]["desc"]
        with pytest.raises(EOFError):
            big.recv(timeout=10)
    except (BrokenPipeError, ConnectionResetError):
        pass
    deep = QMP(sock_of(name))
    deep.send_raw(b"{" + b'"a":[' * 100)
    assert "nested" in deep.recv()["error"]["desc"]
    # Still alive and answering.
    q2 = QMP(sock_of(name))
    assert q2.cmd("query-status")["status"] == "running"
    assert g.run("echo alive") == "alive\n"
    q2.close()


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def counter_lines(g):
    return [int(x) for x in re.findall(r"^CNT (\d+)$", g.output, re.M)]


def test_stop_freezes_guest_and_cont_resumes(guest_factory):
    name = vm_name()
    g = boot(guest_factory, name)
    a, b = QMP(sock_of(name)), QMP(sock_of(name))   # two clients, both get events
    up0 = float(g.run("cut -d' ' -f1 /proc/uptime"))
    t0 = time.monotonic()
    g.send("(i=0; while true; do echo CNT $i; i=$((i+1)); sleep 0.1; done) &\n")
    g.wait_for(r"^CNT 5$")
    a.cmd("stop")
    for c in (a, b):
        assert "timestamp" in c.wait_event("STOP")
    assert b.cmd("query-status") == {"status": "paused", "running": False, "singlestep": False}
    time.sleep(0.5)
    frozen = counter_lines(g)
    cpu0 = cpu_seconds(g.proc.pid)
    time.sleep(3)
    assert counter_lines(g) == frozen, "the guest kept printing while stopped"
    # Parked, not spinning: well under a tenth of a core while stopped.
    assert cpu_seconds(g.proc.pid) - cpu0 < 0.3
    a.cmd("cont")
    b.wait_event("RESUME")
    assert a.cmd("query-status")["status"] == "running"
    g.wait_for(rf"^CNT {frozen[-1] + 5}$", timeout=30)
    g.send("kill %1\n")
    # Guest time stood still while stopped: the guest saw about 3.5 s less.
    up1 = float(g.run("cut -d' ' -f1 /proc/uptime"))
    host = time.monotonic() - t0
    assert up1 - up0 < host - 3.0, (up1 - up0, host)
    assert up1 > up0


def test_system_reset_reboots_and_quit_exits_0(guest_factory):
    name = vm_name()
    g = boot(guest_factory, name)
    q = QMP(sock_of(name))
    mark = len(g.output)
    q.cmd("system_reset")
    ev = q.wait_event("RESET", timeout=30)
    assert ev["data"] == {"guest": False, "reason": "host-qmp-system-reset"}
    g.wait_for(r"TERN-GUEST-READY", timeout=180, start=mark)
    assert q.cmd("query-status")["status"] == "running"
    # A quit right behind a reset must not be lost while the reset runs.
    q.cmd("system_reset")
    q.cmd("quit")
    ev = q.wait_event("SHUTDOWN")
    assert ev["data"] == {"guest": False, "reason": "host-qmp-quit"}
    assert g.wait_exit(30) == 3
    assert "the VM was killed (QMP quit)" in g.stderr
    assert not os.path.exists(sock_of(name)), "socket left behind"


def test_guest_poweroff_sends_shutdown(guest_factory):
    name = vm_name()
    g = boot(guest_factory, name)
    q = QMP(sock_of(name))
    g.send("poweroff -f\n")
    assert q.wait_event("SHUTDOWN")["data"] == {"guest": True, "reason": "guest-shutdown"}
    assert g.wait_exit(30) == 0


def test_name_in_use_and_explicit_socket(guest_factory, tmp_path):
    name = vm_name()
    g = boot(guest_factory, name)
    p = run_tern("run", "--kernel", g.argv[3], "--name", name, timeout=60)
    assert p.returncode == 1
    assert "in use by another running VM" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert g.run("echo still") == "still\n"
    # --qmp PATH puts the socket elsewhere; socat-style raw lines work on it.
    path = tmp_path / "c.qmp"
    g2 = guest_factory(extra_args=("--qmp", str(path)))
    wait_socket(path, g2.proc)
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(path))
    s.settimeout(30)
    s.sendall(b'{"execute":"qmp_capabilities"}\n{"execute":"query-status"}\n')
    data = b""
    while data.count(b"\n") < 3:
        data += s.recv(4096)
    lines = [json.loads(x) for x in data.splitlines()[:3]]
    assert "QMP" in lines[0] and lines[1] == {"return": {}}
    assert lines[2]["return"]["status"] == "running"
    s.close()


def test_cli_list_status_pause_resume_kill(guest_factory):
    name = vm_name()
    g = boot(guest_factory, name)
    p = run_tern("list")
    assert p.returncode == 0
    row = [l for l in p.stdout.splitlines() if l.split()[0] == name]
    assert row and row[0].split()[1] == "running" and int(row[0].split()[2]) == g.proc.pid
    assert run_tern("pause", name).returncode == 0
    p = run_tern("status", name)
    assert p.returncode == 0 and p.stdout.splitlines()[1].split()[1] == "paused"
    assert run_tern("resume", name).returncode == 0
    assert run_tern("status", name).stdout.splitlines()[1].split()[1] == "running"
    assert g.run("echo back") == "back\n"
    p = run_tern("kill", name)
    assert p.returncode == 0, p.stderr
    assert g.wait_exit(30) == 3
    assert name not in run_tern("list").stdout
    p = run_tern("status", name)
    assert p.returncode == 1 and "no running VM" in p.stderr


def test_cli_stop_powers_off_by_the_button(guest_factory):
    # The kit's init watches the power button (virtio-input, KEY_POWER).
    name = vm_name()
    g = boot(guest_factory, name)
    assert "tern power button" in g.run("cat /sys/class/input/*/name")
    q = QMP(sock_of(name))
    t = time.monotonic()
    p = run_tern("stop", name, "--timeout", "30")
    assert p.returncode == 0, p.stderr
    assert time.monotonic() - t < 20
    assert p.stderr == ""
    assert q.wait_event("POWERDOWN")
    assert q.wait_event("SHUTDOWN")["data"] == {"guest": True, "reason": "guest-shutdown"}
    g.wait_for("TERN-POWER-BUTTON")
    assert g.wait_exit(30) == 0


def test_cli_stop_kills_a_guest_that_ignores_the_button(guest_factory):
    name = vm_name()
    g = boot(guest_factory, name, "--append", "console=ttyS0 tern.powerbutton=off")
    t = time.monotonic()
    p = run_tern("stop", name, "--timeout", "3")
    assert p.returncode == 3, (p.returncode, p.stderr)
    assert "did not power off within 3 s; killing the VM" in p.stderr
    assert time.monotonic() - t >= 3
    assert g.wait_exit(30) == 3
    assert "the VM was killed (QMP quit)" in g.stderr


def test_system_powerdown_waits_while_paused(guest_factory):
    # A press on a paused VM changes no guest RAM (snapshots, migration): it
    # is held, and the guest sees it once the VM runs again.
    name = vm_name()
    g = boot(guest_factory, name)
    q = QMP(sock_of(name))
    q.cmd("stop")
    assert q.cmd("system_powerdown") == {}
    time.sleep(1)
    assert g.proc.poll() is None and "TERN-POWER-BUTTON" not in g.output
    q.cmd("cont")
    assert q.wait_event("SHUTDOWN", timeout=30)["data"]["reason"] == "guest-shutdown"
    assert g.wait_exit(30) == 0


@pytest.mark.parametrize("args, needle", [
    (("status",), "needs one VM name"),
    (("pause", "a", "b"), "needs one VM name"),
    (("kill", "--bogus", "x"), "unknown option"),
    (("list", "x"), "no arguments"),
])
def test_cli_usage_errors(args, needle):
    p = run_tern(*args)
    assert p.returncode == 2 and needle in p.stderr


def test_cli_help():
    for verb in ("list", "status", "pause", "resume", "stop", "kill"):
        p = run_tern(verb, "--help")
        assert p.returncode == 0 and "usage: tern" in p.stdout
