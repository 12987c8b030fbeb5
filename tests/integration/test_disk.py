# test_disk.py: the block layer as the guest and the host see it: a qcow2
# overlay keeps the guest's data across boots while its base stays bit for bit
# the same, images made by qemu-img work in tern and images tern wrote pass
# `qemu-img check`, cache=none works, the kit's root disk boots with
# root=/dev/vda, bad images are refused at start-up without being modified,
# and the `tern image` commands behave.
import hashlib
import shutil
import subprocess

import pytest

from conftest import IMAGE, INITRD, KIT, TERN, require_kit, require_tern, run_tern

ROOTFS = KIT / "rootfs.img"


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def qemu_img(*args):
    if not shutil.which("qemu-img"):
        pytest.fail("qemu-img missing (qemu-utils, scripts/deps.sh)")
    return subprocess.run(["qemu-img", *map(str, args)], capture_output=True, text=True)


def qemu_check(path):
    p = qemu_img("check", path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "No errors were found" in p.stdout, p.stdout


def tern_image(*args):
    return run_tern("image", *args, timeout=120)


def ext4_base(tmp_path, size="64M"):
    src = tmp_path / "src"
    src.mkdir()
    (src / "greeting").write_text("hello from the host\n")
    base = tmp_path / "base.img"
    p = tern_image("from-dir", src, base, size)
    assert p.returncode == 0, p.stderr
    return base


def test_qcow2_overlay_persists_and_base_unchanged(guest_factory, tmp_path):
    base = ext4_base(tmp_path)
    base_hash = sha256(base)
    ov = tmp_path / "overlay.qcow2"
    p = tern_image("create", "-b", "base.img", ov)
    assert p.returncode == 0, p.stderr
    info = tern_image("info", ov)
    assert "format: qcow2" in info.stdout and "base.img (raw" in info.stdout, info.stdout

    # First boot with cache=none (O_DIRECT), the second with the page cache.
    g = guest_factory(extra_args=("--disk", f"file={ov},format=qcow2,cache=none"))
    g.boot()
    g.run("mkdir -p /mnt && mount /dev/vda /mnt")
    assert g.run("cat /mnt/greeting") == "hello from the host\n"
    g.run("dd if=/dev/urandom of=/mnt/blob bs=1k count=768 2>/dev/null")
    first = g.run("md5sum /mnt/blob").split()[0]
    g.run("rm /mnt/greeting && sync && umount /mnt")
    assert g.poweroff() == 0
    qemu_check(ov)
    assert sha256(base) == base_hash

    g2 = guest_factory(extra_args=("--disk", f"file={ov},format=qcow2"))
    g2.boot()
    g2.run("mkdir -p /mnt && mount /dev/vda /mnt")
    assert g2.run("md5sum /mnt/blob").split()[0] == first
    assert g2.run("ls /mnt/greeting 2>&1", check=False).strip().endswith("No such file or directory")
    g2.run("umount /mnt")
    assert g2.poweroff() == 0
    qemu_check(ov)
    assert sha256(base) == base_hash


def test_qemu_img_images_work_in_tern(guest_factory, tmp_path):
    base = ext4_base(tmp_path)
    base_hash = sha256(base)
    blank, qov = tmp_path / "blank.qcow2", tmp_path / "qov.qcow2"
    assert qemu_img("create", "-q", "-f", "qcow2", blank, "32M").returncode == 0
    p = qemu_img("create", "-q", "-f", "qcow2", "-F", "raw", "-b", base, qov)
    assert p.returncode == 0, p.stderr
    g = guest_factory(extra_args=("--disk", f"file={blank},format=qcow2",
                                  "--disk", f"file={qov},format=qcow2"))
    g.boot()
    assert g.run("cat /sys/block/vda/size").strip() == str(32 * 1024 * 1024 // 512)
    g.run("dd if=/dev/urandom of=/tmp/data bs=4k count=300 2>/dev/null")
    want = g.run("md5sum /tmp/data").split()[0]
    # 1200 KiB at 3.5 KiB into the disk: unaligned to the 64 KiB clusters.
    g.run("dd if=/tmp/data of=/dev/vda bs=512 seek=7 conv=fsync 2>/dev/null")
    g.run("echo 3 > /proc/sys/vm/drop_caches")
    got = g.run("dd if=/dev/vda bs=512 skip=7 count=2400 2>/dev/null | md5sum").split()[0]
    assert got == want
    g.run("mkdir -p /mnt && mount /dev/vdb /mnt")
    assert g.run("cat /mnt/greeting") == "hello from the host\n"
    g.run("echo written by tern > /mnt/note && sync && umount /mnt")
    assert g.poweroff() == 0
    qemu_check(blank)
    qemu_check(qov)
    assert sha256(base) == base_hash
    # QEMU's own reader sees what the guest wrote.
    raw = tmp_path / "blank.raw"
    assert qemu_img("convert", "-O", "raw", blank, raw).returncode == 0
    data = raw.read_bytes()[7 * 512:7 * 512 + 300 * 4096]
    assert hashlib.md5(data).hexdigest() == want
    assert raw.read_bytes()[:7 * 512] == bytes(7 * 512)


def test_kit_root_disk_boots(guest_factory, tmp_path):
    require_kit()
    if not ROOTFS.is_file():
        pytest.fail(f"{ROOTFS} missing: run guest/build-kit.sh after make")
    kit_hash = sha256(ROOTFS)
    ov = tmp_path / "root.qcow2"
    p = tern_image("create", "-b", ROOTFS, ov)
    assert p.returncode == 0, p.stderr
    g = guest_factory(append="root=/dev/vda",
                      extra_args=("--disk", f"file={ov},format=qcow2"))
    g.boot()
    assert g.run("awk '$2 == \"/\" { print $1, $3 }' /proc/mounts").strip() == "/dev/vda ext4"
    g.run("echo on the disk > /marker && sync")
    assert g.poweroff() == 0
    qemu_check(ov)
    assert sha256(ROOTFS) == kit_hash


def corrupt_header(tmp_path):
    img = tmp_path / "corrupt.qcow2"
    assert tern_image("create", img, "16M").returncode == 0
    data = bytearray(img.read_bytes())
    data[20:24] = (40).to_bytes(4, "big")          # cluster_bits
    img.write_bytes(bytes(data))
    return img


def truncated(tmp_path):
    img = tmp_path / "truncated.qcow2"
    assert qemu_img("create", "-q", "-f", "qcow2", img, "16M").returncode == 0
    with open(img, "r+b") as f:
        f.truncate(65536 + 1000)                   # inside the refcount table
    return img


def compressed(tmp_path):
    src = tmp_path / "plain.raw"
    src.write_bytes(b"compress me " * 100000)
    img = tmp_path / "compressed.qcow2"
    p = qemu_img("convert", "-c", "-f", "raw", "-O", "qcow2", src, img)
    assert p.returncode == 0, p.stderr
    return img


@pytest.mark.parametrize("make, needle", [
    (corrupt_header, "cluster_bits 40 is out of range"),
    (truncated, "truncated image"),
    (compressed, "compressed clusters are not supported"),
])
def test_bad_images_refused_unchanged(tmp_path, make, needle):
    require_kit()
    img = make(tmp_path)
    before = sha256(img)
    p = run_tern("run", "--kernel", IMAGE, "--initrd", INITRD,
                 "--disk", f"file={img},format=qcow2", timeout=60)
    assert p.returncode == 1
    assert needle in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert sha256(img) == before
    info = tern_image("info", img)
    assert info.returncode == 1 and needle in info.stderr, info.stderr
    assert sha256(img) == before


def test_qcow2_without_format_is_refused(tmp_path):
    require_kit()
    img = tmp_path / "x.qcow2"
    assert tern_image("create", img, "1M").returncode == 0
    p = run_tern("run", "--kernel", IMAGE, "--initrd", INITRD, "--disk", f"file={img}")
    assert p.returncode == 1 and "give format=qcow2" in p.stderr, p.stderr


def test_image_in_use_is_refused(tmp_path):
    # One writer or many readers: the same overlay twice, or a base that an
    # overlay reads given as a writable disk too.
    require_kit()
    base = tmp_path / "b.raw"
    assert tern_image("create", "-f", "raw", base, "1M").returncode == 0
    ov = tmp_path / "o.qcow2"
    assert tern_image("create", "-b", "b.raw", ov).returncode == 0
    for disks in ([f"file={ov},format=qcow2"] * 2,
                  [f"file={base},format=raw", f"file={ov},format=qcow2"]):
        args = [a for d in disks for a in ("--disk", d)]
        p = run_tern("run", "--kernel", IMAGE, "--initrd", INITRD, *args)
        assert p.returncode == 1 and "in use by another disk or process" in p.stderr, p.stderr


def test_image_commands(tmp_path):
    h = tern_image("--help")
    assert h.returncode == 0
    for word in ("create", "info", "convert", "from-dir"):
        assert word in h.stdout
    raw = tmp_path / "a.raw"
    assert tern_image("create", "-f", "raw", raw, "2M").returncode == 0
    assert raw.stat().st_size == 2 << 20
    again = tern_image("create", "-f", "raw", raw, "2M")
    assert again.returncode == 1 and "File exists" in again.stderr
    raw.write_bytes(b"\x01" * 4096 + bytes((2 << 20) - 4096))
    q = tmp_path / "a.qcow2"
    assert tern_image("convert", "-O", "qcow2", raw, q).returncode == 0
    qemu_check(q)
    info = tern_image("info", q)
    assert "virtual size: 2 MiB (2097152 bytes)" in info.stdout, info.stdout
    back = tmp_path / "back.raw"
    assert tern_image("convert", "-O", "raw", q, back).returncode == 0
    assert back.read_bytes() == raw.read_bytes()
    bad = tern_image("create", "-f", "vmdk", tmp_path / "v", "1M")
    assert bad.returncode == 2 and "unknown format" in bad.stderr
    bad = tern_image("create", tmp_path / "s.qcow2", "12Q")
    assert bad.returncode == 2 and "invalid size" in bad.stderr
    nodir = tern_image("from-dir", tmp_path / "nope", tmp_path / "fs.img", "8M")
    assert nodir.returncode == 1 and "not a directory" in nodir.stderr
    nob = tern_image("create", "-b", "missing.img", tmp_path / "o.qcow2")
    assert nob.returncode == 1 and "backing file 'missing.img'" in nob.stderr
    assert not (tmp_path / "o.qcow2").exists()
