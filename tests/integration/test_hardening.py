# test_hardening.py: the faults found by hostile testing (issue 15), each
# reproduced against a real guest or the real binary: console input that
# died, snapshot targets, permissions, denial of service, odd inputs.
import os
import stat
import time

from conftest import READY_RE, run_tern
from qmp_client import QMP, wait_socket

from test_qmp import sock_of, vm_name


def test_console_input_typed_before_driver_starts(guest_factory):
    g = guest_factory()
    # Typed while the kernel is still booting: the first byte fills the
    # FIFO-less UART, the driver's FIFO reset then drops it.
    g.send("\n" * 40)
    g.boot()
    assert g.run("echo alive", timeout=30).strip() == "alive"


def test_console_input_survives_system_reset(guest_factory):
    name = vm_name()
    g = guest_factory(extra_args=("--name", name))
    g.boot()
    wait_socket(sock_of(name), g.proc)
    q = QMP(sock_of(name))
    mark = len(g.output)
    q.cmd("system_reset")
    g.send("\n" * 40)
    g.wait_for(READY_RE, timeout=180, start=mark)
    assert g.run("echo alive-again", timeout=30).strip() == "alive-again"


def snapshot_vm(guest_factory):
    name = vm_name()
    g = guest_factory(extra_args=("--name", name))
    g.boot()
    wait_socket(sock_of(name), g.proc)
    return name, g


def test_snapshot_refuses_non_regular_targets(guest_factory, tmp_path):
    name, g = snapshot_vm(guest_factory)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    victim = tmp_path / "victim"
    victim.write_text("victim")
    link = tmp_path / "link.snap"
    link.symlink_to(victim)
    targets = [(fifo, "a FIFO"), (tmp_path, "a directory"), (link, "a symbolic link")]
    if os.geteuid() == 0:       # a copy of /dev/full (saving to it replaced it once)
        full = tmp_path / "full"
        os.mknod(full, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
        targets.append((full, "a device node"))
    for t, what in targets:
        p = run_tern("snapshot", name, t, "--leave-running", timeout=60)
        assert p.returncode != 0 and f"it is {what}, not a regular file" in p.stderr, p.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert os.path.islink(link) and victim.read_text() == "victim"
    if os.geteuid() == 0:
        assert stat.S_ISCHR(os.lstat(tmp_path / "full").st_mode)
    # A symlink planted at the old temporary name is neither followed nor
    # replaced; the snapshot lands at PATH.
    snap = tmp_path / "s.snap"
    (tmp_path / "s.snap.tmp").symlink_to(victim)
    p = run_tern("snapshot", name, snap, "--leave-running", timeout=120)
    assert p.returncode == 0, p.stderr
    assert victim.read_text() == "victim"
    assert os.path.islink(tmp_path / "s.snap.tmp")
    assert snap.read_bytes()[:8] == b"TERNSNAP"
    leftovers = [f for f in os.listdir(tmp_path) if ".tmp-" in f]
    assert leftovers == []
    assert g.run("echo ok", timeout=30) == "ok\n"
