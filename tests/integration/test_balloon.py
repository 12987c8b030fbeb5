# test_balloon.py: the virtio-balloon (tern run --balloon on) as the guest and
# the host see it: free page reporting gives freed guest memory back to the
# host, inflating lowers the guest's available memory, deflate-on-OOM saves a
# process from the OOM killer, and migrations and snapshots skip free pages.
import itertools
import os
import re
import socket
import subprocess
import time

import pytest

from conftest import sock_of, make_disk, run_tern  # noqa: F401  (fixtures come from conftest)
from qmp_client import QMP, QMPError, wait_socket

_n = itertools.count(1)
MiB = 1 << 20


def vm_name(tag):
    return f"bal{tag}-{os.getpid()}-{next(_n)}"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def boot(guest_factory, name, memory, *args):
    g = guest_factory(memory=memory, extra_args=("--name", name, *args))
    g.boot()
    g.run("dmesg -n 1")
    wait_socket(sock_of(name), g.proc)
    return g


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def meminfo(g):
    out = g.run("cat /proc/meminfo")
    return {k: int(v.split()[0]) * 1024 for k, v in (l.split(":", 1) for l in out.splitlines())}


def fill_and_free(g, mib):
    """Write mib MiB of non-zero bytes into tmpfs, then delete it: the guest
    has touched and freed that much memory, and the freed pages are not
    zero (so only knowing they are free lets the host skip them)."""
    g.run("mount -o remount,size=95% /tmp")
    g.run("dd if=/dev/urandom of=/tmp/seed bs=1M count=1 2>/dev/null")
    g.run(f"set --; i=0; while [ $i -lt {mib} ]; do set -- \"$@\" /tmp/seed; i=$((i+1)); done; "
          "cat \"$@\" > /tmp/fill; set --", timeout=300)
    g.run("rm /tmp/fill /tmp/seed")


def wait_reported(q, at_least, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        b = q.cmd("query-balloon")
        if b["discarded-bytes"] >= at_least:
            return b
        assert time.monotonic() < deadline, f"only {b['discarded-bytes'] >> 20} MiB reported: {b}"
        time.sleep(0.5)


def test_reporting_returns_freed_memory(guest_factory):
    name = vm_name("r")
    g = boot(guest_factory, name, "384M", "--balloon", "on")
    q = QMP(sock_of(name))
    b = q.cmd("query-balloon")
    assert b["driver"] and b["free-page-reporting"] and b["deflate-on-oom"], b
    assert b["actual"] == b["ram-size"] == 384 * MiB
    assert b["stats"]["stat-total-memory"] > 100 * MiB
    g.run("mount -o remount,size=95% /tmp")
    g.run("dd if=/dev/zero of=/tmp/fill bs=1M count=200 2>/dev/null", timeout=300)
    full = rss_bytes(g.proc.pid)
    g.run("rm /tmp/fill")
    t0 = time.monotonic()
    while rss_bytes(g.proc.pid) > full - 150 * MiB:
        assert time.monotonic() - t0 < 10, \
            f"RSS {rss_bytes(g.proc.pid) >> 20} MiB, was {full >> 20} MiB before the free"
        time.sleep(0.2)
    assert q.cmd("query-balloon")["reported-bytes"] >= 150 * MiB
    # The pages are the guest's again: written and read back intact.
    g.run("dd if=/dev/urandom of=/tmp/r bs=1M count=8 2>/dev/null; md5sum /tmp/r > /tmp/r.md5")
    g.run("dd if=/dev/zero of=/tmp/fill bs=1M count=200 2>/dev/null; rm /tmp/fill", timeout=300)
    g.run("md5sum -c /tmp/r.md5")
    st = run_tern("status", name)
    assert st.returncode == 0 and re.search(r"^balloon: guest RAM 384M of 384M", st.stdout, re.M), st.stdout
    assert re.search(r"^guest: total \d+M, free \d+M, available \d+M", st.stdout, re.M), st.stdout
    assert g.poweroff() == 0


def test_inflate_lowers_available_and_deflate_on_oom(guest_factory):
    name = vm_name("i")
    g = boot(guest_factory, name, "256M", "--balloon", "on")
    q = QMP(sock_of(name))
    before = meminfo(g)
    p = run_tern("balloon", name, "128M")
    assert p.returncode == 0, p.stderr
    deadline = time.monotonic() + 60
    while q.cmd("query-balloon")["actual"] > 128 * MiB:
        assert time.monotonic() < deadline, q.cmd("query-balloon")
        time.sleep(0.3)
    b = q.cmd("query-balloon")
    assert b["target"] == 128 * MiB and b["inflated-bytes"] >= 128 * MiB
    after = meminfo(g)
    # With deflate-on-OOM Linux keeps MemTotal and lowers what is available.
    assert before["MemAvailable"] - after["MemAvailable"] >= 110 * MiB, (before, after)
    assert p.stdout == ""
    show = run_tern("balloon", name, "--json")
    assert show.returncode == 0 and '"actual": 134217728' in show.stdout
    # 90 MiB into tmpfs fits a 256 MiB guest but not the 128 MiB the
    # balloon leaves: the balloon must give way, not the process.
    g.run("mount -o remount,size=95% /tmp")
    out = g.run("dd if=/dev/zero of=/tmp/fill bs=1M count=90 2>&1", timeout=300)
    assert "90+0 records out" in out
    assert "Killed process" not in g.run("dmesg")
    b = q.cmd("query-balloon")
    assert b["deflated-bytes"] > 0 and b["actual"] > 128 * MiB, b
    assert b["stats"].get("stat-oom-kills", 0) == 0
    assert g.poweroff() == 0


def test_balloon_errors(guest_factory):
    name = vm_name("e")
    g = boot(guest_factory, name, "128M")
    q = QMP(sock_of(name))
    with pytest.raises(QMPError, match="No balloon device"):
        q.cmd("query-balloon")
    p = run_tern("balloon", name, "64M")
    assert p.returncode == 1 and "--balloon on" in p.stderr
    for bad in ("0", "12Q", "1.5G"):
        p = run_tern("balloon", name, bad)
        assert p.returncode == 2 and "SIZE" in p.stderr, (bad, p.stderr)
    p = run_tern("run", "--kernel", "x", "--balloon", "maybe")
    assert p.returncode == 2 and "--balloon" in p.stderr
    p = run_tern("run", "--kernel", "x", "--mem-merge", "yes")
    assert p.returncode == 2 and "--mem-merge" in p.stderr
    st = run_tern("status", name)
    assert st.returncode == 0 and "balloon:" not in st.stdout
    assert g.poweroff() == 0


def test_free_pages_skipped_by_snapshot_and_migration(guest_factory, tmp_path):
    """A 1 GiB guest that touched and freed 800 MiB: its snapshot file and
    its migration carry only what is in use, and both run on."""
    name, dst_name = vm_name("s"), vm_name("d")
    key = tmp_path / "key"
    key.write_bytes(os.urandom(32))
    key.chmod(0o600)
    g = boot(guest_factory, name, "1G", "--balloon", "on", "--migrate-key", key)
    q = QMP(sock_of(name))
    g.run("dd if=/dev/urandom of=/tmp/keep bs=1M count=4 2>/dev/null")
    digest = g.run("md5sum /tmp/keep").split()[0]
    fill_and_free(g, 800)
    wait_reported(q, 700 * MiB)
    # Memory freed and reported, then used again, must travel.
    g.run("dd if=/dev/urandom of=/tmp/reuse bs=1M count=16 2>/dev/null")
    digest += g.run("md5sum /tmp/reuse").split()[0]

    snap = tmp_path / "vm.snap"
    p = run_tern("snapshot", name, snap, "--leave-running", timeout=120)
    assert p.returncode == 0, p.stderr
    du = int(subprocess.run(["du", "-B1", str(snap)], capture_output=True, text=True).stdout.split()[0])
    print(f"snapshot allocates {du >> 20} MiB")
    assert du < 150 * MiB, f"snapshot allocates {du >> 20} MiB"

    port = free_port()
    dst = guest_factory(argv=("run", "--incoming", f"tcp:127.0.0.1:{port}", "--migrate-key", key,
                              "--name", dst_name))
    time.sleep(0.3)
    q.cmd("migrate", uri=f"tcp:127.0.0.1:{port}")
    deadline = time.monotonic() + 120
    while (info := q.cmd("query-migrate"))["status"] not in ("completed", "failed", "cancelled"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert info["status"] == "completed", info
    sent = info["ram"]["transferred"]
    print(f"migration sent {sent >> 20} MiB")
    assert sent < 150 * MiB, f"migration sent {sent >> 20} MiB"
    assert q.cmd("query-status")["status"] == "postmigrate"
    assert run_tern("kill", name).returncode == 0
    g.wait_exit(30)
    assert "".join(dst.run("md5sum /tmp/keep /tmp/reuse").split()[0::2]) == digest
    # Freed pages are ordinary memory on the destination.
    dst.run("mount -o remount,size=95% /tmp")
    dst.run("dd if=/dev/zero of=/tmp/fill bs=1M count=300 2>/dev/null; rm /tmp/fill", timeout=300)
    assert dst.poweroff() == 0

    r = guest_factory(argv=("run", "--incoming", f"file:{snap}", "--name", vm_name("c")))
    assert "".join(r.run("md5sum /tmp/keep /tmp/reuse", timeout=120).split()[0::2]) == digest
    r.run("dd if=/dev/zero of=/tmp/fill bs=1M count=300 2>/dev/null; rm /tmp/fill", timeout=300)
    assert "".join(r.run("md5sum /tmp/keep /tmp/reuse").split()[0::2]) == digest
    assert r.poweroff() == 0


def test_postcopy_skips_free_pages(guest_factory, tmp_path):
    """Post-copy switches over at once: the pages left behind exclude the
    ones given back, and the guest's data follows."""
    name, dst_name = vm_name("p"), vm_name("q")
    key = tmp_path / "key"
    key.write_bytes(os.urandom(32))
    key.chmod(0o600)
    g = boot(guest_factory, name, "512M", "--balloon", "on", "--migrate-key", key)
    q = QMP(sock_of(name))
    fill_and_free(g, 300)
    wait_reported(q, 250 * MiB)
    g.run("dd if=/dev/urandom of=/tmp/keep bs=1M count=16 2>/dev/null")
    digest = g.run("md5sum /tmp/keep").split()[0]
    port = free_port()
    dst = guest_factory(argv=("run", "--incoming", f"tcp:127.0.0.1:{port}", "--migrate-key", key,
                              "--name", dst_name))
    time.sleep(0.3)
    q.cmd("migrate-set-parameters", mode="postcopy")
    q.cmd("migrate", uri=f"tcp:127.0.0.1:{port}")
    deadline = time.monotonic() + 120
    while (info := q.cmd("query-migrate"))["status"] not in ("completed", "failed", "cancelled"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert info["status"] == "completed", info
    assert info["ram"]["transferred"] < 150 * MiB, info["ram"]
    assert run_tern("kill", name).returncode == 0
    g.wait_exit(30)
    assert dst.run("md5sum /tmp/keep").split()[0] == digest
    b = QMP(sock_of(dst_name)).cmd("query-balloon")
    assert b["driver"] and b["free-page-reporting"], b
    dst.run("dd if=/dev/zero of=/tmp/fill bs=1M count=200 2>/dev/null; rm /tmp/fill", timeout=300)
    assert dst.run("md5sum /tmp/keep").split()[0] == digest
    assert dst.poweroff() == 0
