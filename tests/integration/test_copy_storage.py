# test_copy_storage.py: `tern migrate --copy-storage` between two tern
# processes on one host, without shared storage: the source's qcow2 overlay
# (over a base both ends have) travels in the migration stream while a
# writer in the guest keeps writing it; the guest's own checksums match
# after the move. A destination with a different base refuses before any
# RAM moves, the source runs on, and the partial copy is removed. Hostile
# block sections are refused by the fuzz harness (tests/fuzz).
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import make_disk, run_tern
from qmp_client import QMP, wait_socket
from test_migration import free_port, key, sock_of, start_source, vm_name  # noqa: F401

# The guest writes 64 KiB blocks of fresh random data to 32 slots of
# /dev/vda (16 MiB in) and the same bytes to a mirror in its RAM (tmpfs),
# until /tmp/stop exists; the disk region must equal the mirror afterwards.
WRITER = ("i=0; while [ ! -e /tmp/stop ]; do s=$((i % 32)); "
          "dd if=/dev/urandom of=/tmp/blk bs=65536 count=1 2>/dev/null; "
          "dd if=/tmp/blk of=/dev/vda bs=65536 seek=$((256 + s)) count=1 conv=notrunc,fsync 2>/dev/null; "
          "dd if=/tmp/blk of=/tmp/mirror bs=65536 seek=$s count=1 conv=notrunc 2>/dev/null; "
          "i=$((i + 1)); done; echo WRITER-DONE $i")


def overlay(tmp_path, base, name):
    p = tmp_path / name
    r = run_tern("image", "create", "-f", "qcow2", "-b", str(base), "-F", "raw", str(p))
    assert r.returncode == 0, r.stderr
    return p


def prepare_guest(g):
    """Random data on the disk, the writer started; returns the guest's
    checksum of the static part of the disk."""
    g.run("dd if=/dev/urandom of=/dev/vda bs=1M seek=24 count=8 conv=fsync 2>/dev/null; "
          "dd if=/dev/zero of=/tmp/mirror bs=65536 count=32 2>/dev/null; "
          "dd if=/tmp/mirror of=/dev/vda bs=65536 seek=256 count=32 conv=fsync 2>/dev/null; echo ok")
    g.send(f"({WRITER}) > /tmp/writer.log 2>&1 &\n")
    return static_sum(g)


def static_sum(g):
    out = g.run("dd if=/dev/vda bs=1M skip=24 count=8 2>/dev/null | sha256sum")
    return re.search(r"\b([0-9a-f]{64})\b", out).group(1)


def check_after(g, before):
    """Stops the writer; the guest reads its disk back (page cache dropped)."""
    g.run("touch /tmp/stop; while ! grep -q WRITER-DONE /tmp/writer.log; do sleep 0.2; done; "
          "cat /tmp/writer.log; sync; echo 3 > /proc/sys/vm/drop_caches")
    assert static_sum(g) == before
    disk = g.run("dd if=/dev/vda bs=65536 skip=256 count=32 2>/dev/null | sha256sum")
    mirror = g.run("sha256sum < /tmp/mirror")
    assert re.search(r"[0-9a-f]{64}", disk).group(0) == re.search(r"[0-9a-f]{64}", mirror).group(0)
    n = int(re.search(r"WRITER-DONE (\d+)", g.run("cat /tmp/writer.log")).group(1))
    assert n > 32, n            # it wrote through the migration


def start_dest(guest_factory, key, name, port, disk, base_dir=None, fmt="qcow2"):
    extra = ["--base-dir", str(base_dir)] if base_dir else []
    return guest_factory(argv=("run", "--incoming", f"tcp:127.0.0.1:{port}", "--migrate-key", key,
                               "--name", name, "--disk", f"file={disk},format={fmt}", *extra))


@pytest.mark.parametrize("mode", ["precopy", "postcopy", "raw"])
def test_copy_storage_local(guest_factory, key, tmp_path, mode):  # noqa: F811
    """precopy and postcopy: a qcow2 overlay over a base both ends have;
    raw: a raw disk without a base is copied whole (its holes stay holes)."""
    src_dir, dst_dir = tmp_path / "src", tmp_path / "dst"
    src_dir.mkdir()
    dst_dir.mkdir()
    fmt = "raw" if mode == "raw" else "qcow2"
    if mode == "raw":
        ov = make_disk(src_dir, name="vm.img", size="48M")
    else:
        base = make_disk(src_dir, name="base.img", size="48M")
        shutil.copy(base, dst_dir / "base.img")
        ov = overlay(tmp_path, base, "src/vm.qcow2")
    src_name, dst_name = vm_name("s"), vm_name("d")
    src = start_source(guest_factory, key, src_name, extra=("--disk", f"file={ov},format={fmt}"))
    before = prepare_guest(src)
    port = free_port()
    target = dst_dir / f"vm.{fmt}"
    dst = start_dest(guest_factory, key, dst_name, port, target, base_dir=dst_dir, fmt=fmt)
    time.sleep(0.3)
    extra = ["--postcopy"] if mode == "postcopy" else []
    p = run_tern("migrate", src_name, f"tcp:127.0.0.1:{port}", "--copy-storage", *extra, timeout=180)
    assert p.returncode == 0, p.stdout + p.stderr
    print(p.stdout)
    m = re.search(r"disks copied: (\d+) MiB held by the images at the start, (\d+) MiB sent", p.stdout)
    assert m and int(m.group(1)) >= 8, p.stdout
    assert src.wait_exit(30) == 0
    assert target.exists()
    check_after(dst, before)
    assert dst.poweroff() == 0
    if mode == "raw":
        # The file system the raw disk held (outside the written parts) came along.
        with open(target, "rb") as f:
            f.seek(1024 + 56)
            assert f.read(2) == b"\x53\xef"          # the ext4 superblock's magic
        return
    # The copy is an overlay over the destination's own base.
    info = run_tern("image", "info", str(target))
    assert str(dst_dir / "base.img") in info.stdout, info.stdout


def test_copy_storage_base_mismatch_refused(guest_factory, key, tmp_path):  # noqa: F811
    src_dir, dst_dir = tmp_path / "src", tmp_path / "dst"
    src_dir.mkdir()
    dst_dir.mkdir()
    base = make_disk(src_dir, name="base.img", size="48M")
    shutil.copy(base, dst_dir / "base.img")
    with open(dst_dir / "base.img", "r+b") as f:     # one byte differs
        f.seek(5 << 20)
        f.write(b"X")
    ov = overlay(tmp_path, base, "src/vm.qcow2")
    src_name, dst_name = vm_name("s"), vm_name("d")
    src = start_source(guest_factory, key, src_name, extra=("--disk", f"file={ov},format=qcow2"))
    before = static_sum(src)
    port = free_port()
    target = dst_dir / "vm.qcow2"
    dst = start_dest(guest_factory, key, dst_name, port, target, base_dir=dst_dir)
    time.sleep(0.3)
    p = run_tern("migrate", src_name, f"tcp:127.0.0.1:{port}", "--copy-storage", timeout=120)
    assert p.returncode != 0
    assert "differs from the source's" in p.stderr and str(dst_dir / "base.img") in p.stderr, p.stderr
    assert dst.wait_exit(30) == 1
    assert "differs" in dst.stderr
    assert not target.exists()            # the partial copy is gone
    q = QMP(sock_of(src_name))
    assert q.cmd("query-status")["status"] == "running"
    mi = q.cmd("query-migrate")
    assert mi["status"] == "failed" and mi["ram"]["normal"] == 0, mi   # no RAM moved
    assert static_sum(src) == before
    # A missing base is named too.
    os.unlink(dst_dir / "base.img")
    port = free_port()
    dst = start_dest(guest_factory, key, vm_name("d"), port, target, base_dir=dst_dir)
    time.sleep(0.3)
    p = run_tern("migrate", src_name, f"tcp:127.0.0.1:{port}", "--copy-storage", timeout=120)
    assert p.returncode != 0 and "is missing here" in p.stderr, p.stderr
    assert not target.exists()
    # Without --disk the copy would go to the source's own overlay: it is
    # in use (locked), so refused.
    port = free_port()
    guest_factory(argv=("run", "--incoming", f"tcp:127.0.0.1:{port}", "--migrate-key", key,
                        "--name", vm_name("d")))
    time.sleep(0.3)
    p = run_tern("migrate", src_name, f"tcp:127.0.0.1:{port}", "--copy-storage", timeout=120)
    assert p.returncode != 0 and "locked" in p.stderr and str(ov) in p.stderr, p.stderr
    src.run("echo still-here")
    assert src.poweroff() == 0
