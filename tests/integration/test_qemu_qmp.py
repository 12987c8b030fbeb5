# test_qemu_qmp.py: QEMU's own clients against tern: the qemu.qmp library
# (async QMPClient and the legacy synchronous QEMUMonitorProtocol) and
# qmp-shell (QMP and -H HMP mode), scripted. They come from Debian's qemu
# source package (fetch_qemu_qmp.sh, cached in ~/.cache/tern/qemu-qmp/);
# the tests skip, saying why, only when that cannot be fetched.
import asyncio
import itertools
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import sock_of, REPO

_n = itertools.count(1)
FETCH = REPO / "tests" / "integration" / "fetch_qemu_qmp.sh"


@pytest.fixture(scope="module")
def qemu_src():
    try:
        p = subprocess.run([str(FETCH)], capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        pytest.skip("fetching QEMU's QMP library (apt-get source qemu) took over 10 minutes")
    if p.returncode != 0:
        pytest.skip("cannot fetch QEMU's QMP library and qmp-shell (apt-get source qemu): "
                    + p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "no reason given")
    src = Path(p.stdout.strip().splitlines()[-1])
    sys.path.insert(0, str(src / "python"))
    return src


@pytest.fixture
def vm(guest_factory):
    name = f"qemuqmp-{os.getpid()}-{next(_n)}"
    g = guest_factory(extra_args=("--name", name))
    g.boot()
    g.run("dmesg -n 1")
    g.qmp_path = sock_of(name)
    return g


def test_qemu_qmp_async_client(qemu_src, vm):
    from qemu.qmp import QMPClient, ExecuteError

    async def session():
        qmp = QMPClient("tern-test")
        await qmp.connect(vm.qmp_path)
        # The greeting parsed into QEMU's model; version as tern reports it.
        ver = qmp.greeting.QMP.version["qemu"]
        assert (ver["major"], ver["minor"], ver["micro"]) >= (0, 1, 0)
        assert (await qmp.execute("query-status"))["status"] == "running"
        with qmp.listener() as listener:
            await qmp.execute("stop")
            # STOP came before the reply, so the listener already holds it.
            assert not listener.empty()
            assert (await listener.get())["event"] == "STOP"
        st = await qmp.execute("human-monitor-command", {"command-line": "info status"})
        assert st == "VM status: paused\r\n"
        await qmp.execute("cont")
        caps = await qmp.execute("query-migrate-capabilities")
        assert {"capability": "events", "state": True} in caps
        with pytest.raises(ExecuteError) as e:
            await qmp.execute("migrate-set-capabilities",
                              {"capabilities": [{"capability": "multifd", "state": True}]})
        assert e.value.error_class == "GenericError" and "multifd" in str(e.value)
        await qmp.execute("migrate-set-parameters", {"downtime-limit": 120})
        assert (await qmp.execute("query-migrate-parameters"))["downtime-limit"] == 120
        # getfd with the library's own SCM_RIGHTS path.
        r, w = socket.socketpair()
        qmp.send_fd_scm(r.fileno())
        await qmp.execute("getfd", {"fdname": "lib"})
        await qmp.execute("closefd", {"fdname": "lib"})
        r.close(), w.close()
        schema = await qmp.execute("query-qmp-schema")
        assert any(e["name"] == "system_powerdown" for e in schema)
        # The power button: the guest powers itself off.
        with qmp.listener() as listener:
            await qmp.execute("system_powerdown")
            names = []
            async for ev in listener:
                names.append(ev["event"])
                if ev["event"] == "SHUTDOWN":
                    assert ev["data"] == {"guest": True, "reason": "guest-shutdown"}
                    break
            assert names[0] == "POWERDOWN"
        try:
            await qmp.disconnect()
        except EOFError:
            pass                # the VM is gone, and with it the socket (as QEMU's)

    asyncio.run(asyncio.wait_for(session(), 60))
    assert vm.wait_exit(30) == 0


def test_qemu_qmp_legacy_client(qemu_src, vm):
    from qemu.qmp.legacy import QEMUMonitorProtocol

    # The legacy wrapper runs its own loop on the current one (asyncio.run
    # in another test leaves none set).
    asyncio.set_event_loop(asyncio.new_event_loop())
    qmp = QEMUMonitorProtocol(vm.qmp_path)
    greeting = qmp.connect(negotiate=True)
    assert "qemu" in greeting["QMP"]["version"]
    assert qmp.cmd("query-name")["return"]["name"].startswith("qemuqmp-")
    regs = qmp.cmd("human-monitor-command", {"command-line": "info registers"})["return"]
    assert " pc " in regs
    names = {c["name"] for c in qmp.command("query-commands")}
    assert {"migrate", "getfd", "human-monitor-command", "query-qmp-schema"} <= names
    qmp.command("system_reset")
    assert qmp.pull_event(wait=30)["event"] == "RESET"
    qmp.command("quit")
    assert qmp.pull_event(wait=30)["event"] == "SHUTDOWN"
    try:
        qmp.close()
    except EOFError:
        pass                    # the VM closed the socket on its way out, as QEMU does
    assert vm.wait_exit(30) == 3            # killed: quit, not a guest power-off


def run_shell(qemu_src, tmp_path, args, script):
    env = dict(os.environ, HOME=str(tmp_path))     # its history file goes there
    p = subprocess.run([sys.executable, str(qemu_src / "scripts" / "qmp" / "qmp-shell"), *args],
                       input=script, capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


def test_qmp_shell_scripted(qemu_src, vm, tmp_path):
    out = run_shell(qemu_src, tmp_path, [vm.qmp_path],
                    "query-status\n"
                    "stop\n"
                    "query-status\n"
                    "migrate-set-capabilities capabilities=[{\"capability\":\"events\",\"state\":false}]\n"
                    "query-migrate-parameters\n"
                    "cont\n"
                    "no-such-command\n")
    assert "Welcome to the QMP low-level shell" in out
    assert '"status": "running"' in out and '"status": "paused"' in out
    assert '"downtime-limit": 300' in out
    assert "CommandNotFound" in out
    hmp = run_shell(qemu_src, tmp_path, ["-H", vm.qmp_path],
                    "info status\ninfo registers\ninfo qtree\n")
    assert "VM status: running" in hmp
    assert " pc " in hmp and "x2/sp" in hmp
    assert "not supported by tern" in hmp
    assert vm.run("echo alive") == "alive\n"
