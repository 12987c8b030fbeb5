# test_snapshot.py: snapshots to a file and restores, as the guest sees them:
# a counter and tmpfs data carry on, guest time never goes back, clones run
# side by side, disks are checked, and bad snapshot files are refused before
# any guest code runs.
import itertools
import os
import re
import shutil
import struct
import subprocess
import time

import pytest

from conftest import READY_RE, sock_of, Guest, make_disk, run_tern
from qmp_client import QMP, wait_socket

_n = itertools.count(1)
SECTION = struct.Struct("<IHHQ")
DIGEST = 16


def vm_name():
    return f"snapt-{os.getpid()}-{next(_n)}"


def boot(guest_factory, name, *args):
    g = guest_factory(extra_args=("--name", name) + args)
    g.boot()
    g.run("dmesg -n 1")
    wait_socket(sock_of(name), g.proc)
    return g


def restore(guest_factory, path, *args):
    return guest_factory(argv=("run", "--incoming", f"file:{path}") + args)


def counts(text):
    return [int(x) for x in re.findall(r"^CNT (\d+)$", text, re.M)]


def start_counter(g):
    g.send("(i=0; while true; do echo CNT $i; i=$((i+1)); sleep 0.2; done) &\n")
    g.wait_for(r"^CNT 5$")


def test_snapshot_restore_continues(guest_factory, tmp_path):
    name = vm_name()
    g = boot(guest_factory, name)
    g.run("dd if=/dev/urandom of=/tmp/blob bs=1k count=300 2>/dev/null")
    digest = g.run("md5sum /tmp/blob").split()[0]
    date_before = int(g.run("date +%s"))
    uptime_before = float(g.run("cut -d' ' -f1 /proc/uptime"))
    start_counter(g)
    snap = tmp_path / "vm.snap"
    p = run_tern("snapshot", name, snap, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "snapshot written" in p.stdout and "stays paused" in p.stdout
    st = run_tern("status", name)
    assert st.stdout.splitlines()[1].split()[1] == "postmigrate"
    time.sleep(0.5)
    last = counts(g.output)[-1]
    time.sleep(1.5)
    assert counts(g.output)[-1] == last, "the source kept running after the snapshot"
    assert run_tern("kill", name).returncode == 0
    assert g.wait_exit(30) == 3            # killed, not powered off

    r = restore(guest_factory, snap)
    r.wait_for(rf"^CNT {last + 3}$", timeout=60)
    after = counts(r.output)
    assert after[0] == last + 1 and after == sorted(after), after[:5]
    assert "restored" in r.stderr
    r.send("kill %1\n")
    assert r.run("md5sum /tmp/blob").split()[0] == digest
    assert int(r.run("date +%s")) >= date_before
    assert float(r.run("cut -d' ' -f1 /proc/uptime")) >= uptime_before
    q = QMP(sock_of(name))     # the restored VM keeps its recorded name
    assert q.cmd("query-status")["status"] == "running"
    assert q.cmd("query-name") == {"name": name}
    assert r.poweroff() == 0


def test_leave_running_and_clones(guest_factory, tmp_path):
    name = vm_name()
    g = boot(guest_factory, name)
    g.run("echo original > /tmp/who")
    q = QMP(sock_of(name))
    snap = tmp_path / "c.snap"
    p = run_tern("snapshot", name, snap, "--leave-running", timeout=120)
    assert p.returncode == 0, p.stderr
    assert q.cmd("query-status")["status"] == "running"
    mig = q.cmd("query-migrate")
    assert mig["status"] == "completed"
    assert mig["ram"]["total"] == 256 << 20
    assert mig["ram"]["normal"] + mig["ram"]["duplicate"] == (256 << 20) // 4096
    assert mig["ram"]["transferred"] == mig["ram"]["normal"] * 4096
    assert mig["total-time"] >= mig["downtime"] >= 0
    assert g.run("echo still-here") == "still-here\n"

    # A restore under the same name while the source runs is refused.
    p = run_tern("run", "--incoming", f"file:{snap}", timeout=60)
    assert p.returncode == 1 and "in use by another running VM" in p.stderr

    clones = [restore(guest_factory, snap, "--name", f"{name}-c{i}") for i in (1, 2)]
    for i, c in enumerate(clones, 1):
        wait_socket(sock_of(f"{name}-c{i}"), c.proc)
        assert c.run("cat /tmp/who") == "original\n"
        c.run(f"echo clone{i} > /tmp/who")
    for i, c in enumerate(clones, 1):
        assert c.run("cat /tmp/who") == f"clone{i}\n"
        assert QMP(sock_of(f"{name}-c{i}")).cmd("query-name") == {"name": f"{name}-c{i}"}
    assert g.run("cat /tmp/who") == "original\n"
    for c in clones:
        assert c.poweroff() == 0


def test_migrate_errors_keep_vm_and_old_file(guest_factory, tmp_path):
    name = vm_name()
    g = boot(guest_factory, name)
    q = QMP(sock_of(name))
    for uri, needle in [("tcp:localhost:4444", "no migration key"),
                        ("exec:cat > /dev/null", "no migration key"),
                        ("rdma:localhost:4444", "migration URIs are file:PATH, tcp:HOST:PORT"),
                        (f"file:{tmp_path}/no/such/dir/x.snap", "cannot create")]:
        r = q.request("migrate", uri=uri)
        assert r["error"]["class"] == "GenericError" and needle in r["error"]["desc"], r
    assert q.cmd("query-status")["status"] == "running"
    # A save that runs out of space (a 64 KiB tmpfs) leaves the old file
    # and no temporary file behind.
    small = tmp_path / "small"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(small)]).returncode:
        pytest.skip("cannot mount a small tmpfs (needs root)")
    try:
        old = small / "old.snap"
        old.write_bytes(b"precious")
        r = q.request("migrate", uri=f"file:{old}")
        assert "error" in r and "No space left" in r["error"]["desc"], r
        assert old.read_bytes() == b"precious"
        assert os.listdir(small) == ["old.snap"]
    finally:
        subprocess.run(["umount", str(small)])
    assert q.cmd("query-migrate")["status"] == "failed"
    q.cmd("migrate", uri=f"file:{tmp_path}/good.snap")
    assert q.wait_event("MIGRATION")["data"]["status"] in ("setup", "active", "completed")
    assert q.cmd("query-migrate")["status"] == "completed"
    assert g.run("echo ok") == "ok\n"


def test_disks_flushed_checked_and_overridden(guest_factory, tmp_path):
    name = vm_name()
    img = make_disk(tmp_path)
    g = boot(guest_factory, name, "--disk", f"file={img}")
    g.run("mkdir -p /mnt && mount /dev/vda /mnt && echo on-disk > /mnt/f")
    snap = tmp_path / "d.snap"
    assert run_tern("snapshot", name, snap, timeout=120).returncode == 0
    assert run_tern("kill", name).returncode == 0
    g.wait_exit(30)

    # A disk of another size is refused with a clear error.
    small = make_disk(tmp_path, "small.img", "16M")
    p = run_tern("run", "--incoming", f"file:{snap}", "--disk", f"file={small}", "--name", vm_name(), timeout=60)
    assert p.returncode == 1 and "snapshot was taken with" in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and p.stdout == ""
    # More --disk than the snapshot has.
    p = run_tern("run", "--incoming", f"file:{snap}", "--disk", f"file={img}", "--disk", f"file={img}",
                 "--name", vm_name(), timeout=60)
    assert p.returncode == 1 and "snapshot has 1 disk" in p.stderr
    # A machine option next to --incoming is a usage error.
    p = run_tern("run", "--incoming", f"file:{snap}", "--memory", "512M", timeout=60)
    assert p.returncode == 2 and "cannot be combined" in p.stderr

    # A clone on its own copy of the disk (same size) sees the data.
    copy = tmp_path / "copy.img"
    shutil.copy(img, copy)
    c = restore(guest_factory, snap, "--disk", f"file={copy}", "--name", vm_name())
    assert c.run("cat /mnt/f") == "on-disk\n"
    c.run("echo clone > /mnt/f2 && sync")
    c.run("umount /mnt")
    assert c.poweroff() == 0
    fsck = subprocess.run(["e2fsck", "-fn", str(copy)], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stdout


@pytest.fixture(scope="module")
def good_snapshot(tmp_path_factory):
    from conftest import require_kit, require_tern
    require_tern()
    require_kit()
    d = tmp_path_factory.mktemp("snaps")
    name = vm_name()
    g = Guest(name="snapshot-source", extra_args=("--name", name))
    try:
        g.boot()
        g.run("echo data > /tmp/x")
        wait_socket(sock_of(name), g.proc)
        p = run_tern("snapshot", name, d / "good.snap", timeout=120)
        assert p.returncode == 0, p.stderr
    finally:
        run_tern("kill", name)
        g.close()
    return d / "good.snap"


def corrupt(src, dst, fn):
    """Sparse copy of src, then fn(file) patches it in place."""
    subprocess.run(["cp", "--sparse=always", str(src), str(dst)], check=True)
    with open(dst, "r+b") as f:
        fn(f)


def sections_of(f):
    """(id, instance, version, payload offset, length) of every section."""
    off, out = 16, []
    while True:
        f.seek(off)
        sid, inst, ver, ln = SECTION.unpack(f.read(SECTION.size))
        out.append((sid, inst, ver, off + SECTION.size, ln))
        off += SECTION.size + ln + DIGEST
        if sid == 0:
            return out


def xor_byte(f, off, mask):
    f.seek(off)
    b = f.read(1)[0]
    f.seek(off)
    f.write(bytes([b ^ mask]))


def flip_in_section(sid, where=0.5):
    def fn(f):
        for s, inst, ver, off, ln in sections_of(f):
            if s == sid:
                xor_byte(f, off + int(ln * where), 0x40)
                return
        raise AssertionError(f"no section {sid}")
    return fn


def flip_stored_ram_page(f):
    for sid, inst, ver, off, ln in sections_of(f):
        if sid == 5:
            f.seek(off + 24)
            image_off = struct.unpack("<Q", f.read(8))[0]
            f.seek(off + 40)
            bitmap = f.read(image_off - 40)
            for i in range(len(bitmap) * 8):
                if bitmap[i // 8] >> (i % 8) & 1:
                    xor_byte(f, off + image_off + i * 4096 + 100, 1)
                    return
    raise AssertionError("no stored RAM page")


def strip_ram_chunks(f):
    """Rewrites the file without its RAM_CHUNKS section (0x8001): the form
    written before chunk digests, which a restore checks in full first."""
    secs = sections_of(f)
    for sid, inst, ver, off, ln in secs:
        if sid == 0x8001:
            start, end = off - SECTION.size, off + ln + DIGEST
            f.seek(end)
            rest = f.read()
            f.seek(start)
            f.write(rest)
            f.truncate(start + len(rest))
            return
    raise AssertionError("no RAM_CHUNKS section")


@pytest.mark.parametrize("how, needle", [
    ("truncate-half", "truncated"),
    ("truncate-header", "truncated"),
    ("truncate-end", "truncated"),
    ("config", "checksum mismatch in the config section"),
    ("hart", "checksum mismatch in the hart section"),
    ("ram-page", "checksum mismatch in the ram section"),
    ("ram-page-no-chunks", "checksum mismatch in the ram section"),
    ("ram-chunks", "checksum mismatch in the ram-chunks section"),
    ("format-version", "format version 7"),
    ("reserved-header", "header's reserved field is 0x5, not 0"),
    ("reserved-ram", "RAM section's reserved field is 0x9, not 0"),
    ("not-a-snapshot", "not a tern snapshot"),
    ("missing", "cannot open snapshot"),
])
def test_bad_snapshot_refused(good_snapshot, tmp_path, how, needle):
    bad = tmp_path / "bad.snap"
    size = good_snapshot.stat().st_size
    if how == "truncate-half":
        corrupt(good_snapshot, bad, lambda f: f.truncate(size // 2))
    elif how == "truncate-header":
        corrupt(good_snapshot, bad, lambda f: f.truncate(12))
    elif how == "truncate-end":
        corrupt(good_snapshot, bad, lambda f: f.truncate(size - 5))
    elif how == "config":
        corrupt(good_snapshot, bad, flip_in_section(1))
    elif how == "hart":
        corrupt(good_snapshot, bad, flip_in_section(3, 0.1))
    elif how == "ram-page":
        corrupt(good_snapshot, bad, flip_stored_ram_page)
    elif how == "ram-page-no-chunks":
        corrupt(good_snapshot, bad, lambda f: (flip_stored_ram_page(f), strip_ram_chunks(f)))
    elif how == "ram-chunks":
        corrupt(good_snapshot, bad, flip_in_section(0x8001, 0.9))
    elif how == "format-version":
        corrupt(good_snapshot, bad, lambda f: (f.seek(8), f.write(struct.pack("<I", 7))))
    elif how == "reserved-header":
        corrupt(good_snapshot, bad, lambda f: (f.seek(12), f.write(struct.pack("<I", 5))))
    elif how == "reserved-ram":
        def ram_reserved(f):
            off = [s for s in sections_of(f) if s[0] == 5][0][3]
            f.seek(off + 20)
            f.write(struct.pack("<I", 9))
        corrupt(good_snapshot, bad, ram_reserved)
    elif how == "not-a-snapshot":
        bad.write_bytes(os.urandom(100000))
    p = run_tern("run", "--incoming", f"file:{bad}", "--name", vm_name(), timeout=60)
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert needle in p.stderr, p.stderr
    lines = p.stderr.strip().splitlines()
    if how == "ram-page":
        # Checked chunk by chunk as the guest reaches them (or in the
        # background): the VM starts, and ends on the bad chunk with the
        # file's name and where, before the guest reads it.
        assert lines[0].startswith(f"tern: restored {bad} in "), p.stderr
        assert f"tern: {bad} is corrupt: checksum mismatch in the ram section (2 MiB at guest 0x" in \
            lines[-1] and "not read by the guest" in lines[-1], p.stderr
        assert len(lines) == 2, p.stderr
    else:
        assert len(lines) == 1, p.stderr
        assert p.stdout == "", "guest output appeared: guest code ran"


def test_clones_with_overlays_and_nics(guest_factory, tmp_path):
    """A VM on a qcow2 overlay with a user-mode NIC is snapshotted; two
    clones start from it, each on its own overlay of the same base and with
    its own NIC backend, and their writes stay apart."""
    tern = os.path.join(os.path.dirname(__file__), "..", "..", "build", "tern")
    base = make_disk(tmp_path, "base.img")
    base_md5 = subprocess.run(["md5sum", str(base)], capture_output=True, text=True).stdout.split()[0]

    def overlay(n):
        ov = tmp_path / n
        subprocess.run([tern, "image", "create", "-f", "qcow2", "-b", str(base), str(ov)],
                       check=True, capture_output=True)
        return ov

    src = overlay("src.qcow2")
    name = vm_name()
    g = boot(guest_factory, name, "--disk", f"file={src},format=qcow2", "--net", "user")
    g.run("mkdir -p /mnt && mount /dev/vda /mnt && echo from-source > /mnt/who && sync")
    snap = tmp_path / "n.snap"
    p = run_tern("snapshot", name, snap, timeout=120)
    assert p.returncode == 0, p.stderr
    assert run_tern("kill", name).returncode == 0
    g.wait_exit(30)

    clones = []
    for i in (1, 2):
        ov = tmp_path / f"c{i}.qcow2"
        shutil.copy(src, ov)
        clones.append(restore(guest_factory, snap, "--name", f"{name}-c{i}",
                              "--disk", f"file={ov},format=qcow2",
                              "--net", f"user,mac=52:54:00:aa:00:0{i}"))
    for i, c in enumerate(clones, 1):
        wait_socket(sock_of(f"{name}-c{i}"), c.proc)
        assert c.run("cat /mnt/who") == "from-source\n"
        c.run(f"echo clone{i} > /mnt/who && sync")
        # The restored NIC works on its new backend (the guest keeps the MAC
        # its driver read at boot; see README, Snapshots).
        out = c.run("udhcpc -i eth0 -n -q -t 5 -T 2 >/dev/null 2>&1 && echo lease-ok", timeout=60)
        assert "lease-ok" in out
    for i, c in enumerate(clones, 1):
        assert c.run("cat /mnt/who") == f"clone{i}\n"
        c.run("umount /mnt")
        assert c.poweroff() == 0
    for i in (1, 2):
        chk = subprocess.run(["qemu-img", "check", str(tmp_path / f"c{i}.qcow2")],
                             capture_output=True, text=True)
        assert chk.returncode == 0, chk.stdout + chk.stderr
    assert subprocess.run(["md5sum", str(base)], capture_output=True,
                          text=True).stdout.split()[0] == base_md5

    # A restore with the wrong number of NICs is refused before running.
    p = run_tern("run", "--incoming", f"file:{snap}", "--name", f"{name}-x",
                 "--net", "user", "--net", "user", timeout=60)
    assert p.returncode != 0 and "--net given but the snapshot has 1 NIC" in p.stderr


def test_smp_snapshot_restore(guest_factory, tmp_path):
    """A 4-hart guest, each hart on its own host thread and all busy with
    checked CRC jobs, is saved with every thread parked and restored: the
    jobs go on with correct results and guest time does not go back."""
    name = vm_name()
    g = boot(guest_factory, name, "--cpus", "4")
    g.send("(while /bench/par 4 20 | grep -q ' ok$'; do echo PAR-RUN; done; echo PAR-BROKE) &\n")
    g.wait_for(r"^PAR-RUN", timeout=60)
    def answer(vm, cmd):         # the command's own line, not the loop's
        return [ln for ln in vm.run(cmd).splitlines() if not ln.startswith("PAR-")][-1]
    uptime_before = float(answer(g, "cut -d' ' -f1 /proc/uptime"))
    snap = tmp_path / "smp.snap"
    p = run_tern("snapshot", name, snap, timeout=120)
    assert p.returncode == 0, p.stderr
    assert run_tern("kill", name).returncode == 0
    assert g.wait_exit(30) == 3
    r = restore(guest_factory, snap)

    def runs():
        return len(re.findall(r"^PAR-RUN", r.output, re.M))
    deadline = time.monotonic() + 90
    while runs() < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert runs() >= 2, r.output[-2000:]
    assert not re.search(r"^PAR-BROKE", g.output + r.output, re.M)
    assert answer(r, "nproc") == "4"
    assert float(answer(r, "cut -d' ' -f1 /proc/uptime")) >= uptime_before
    assert r.poweroff() == 0


def test_fresh_restore_saved_again_and_reset(guest_factory, tmp_path):
    """A restore checks its RAM chunks lazily (docs/SNAPSHOT-FORMAT.md, "RAM
    chunks"). Saved again at once, the restored VM's file has the same RAM
    (the save checks what is left first), and a reset at once boots the
    guest again (the reset checks what is left before fresh RAM replaces
    the mapped file)."""
    name = vm_name()
    g = boot(guest_factory, name)
    g.run("dd if=/dev/urandom of=/tmp/blob bs=1k count=3000 2>/dev/null")
    digest = g.run("md5sum /tmp/blob").split()[0]
    first = tmp_path / "first.snap"
    assert run_tern("snapshot", name, first, timeout=120).returncode == 0
    assert run_tern("kill", name).returncode == 0
    g.wait_exit(30)

    r = restore(guest_factory, first)
    wait_socket(sock_of(name), r.proc)
    second = tmp_path / "second.snap"
    p = run_tern("snapshot", name, second, "--leave-running", timeout=120)
    assert p.returncode == 0, p.stderr
    assert r.run("md5sum /tmp/blob").split()[0] == digest
    mark = len(r.output)
    QMP(sock_of(name)).cmd("system_reset")
    r.send("\n" * 40)
    r.wait_for(READY_RE, timeout=180, start=mark)
    assert r.run("echo alive-again", timeout=30).strip() == "alive-again"
    assert r.poweroff() == 0

    again = restore(guest_factory, second)
    wait_socket(sock_of(name), again.proc)
    assert again.run("md5sum /tmp/blob").split()[0] == digest
    assert again.poweroff() == 0
