# test_virtio.py: virtio-blk (raw images) and virtio-rng as the guest sees
# them: data written by the guest survives a reboot byte for byte, fsck on the
# host is clean, read-only disks refuse writes, and bad --disk values fail.
import hashlib
import subprocess

import pytest

from conftest import IMAGE, INITRD, TERN, require_kit, require_tern


def make_ext4(tmp_path, size="64M"):
    src = tmp_path / "src"
    src.mkdir()
    (src / "greeting").write_text("hello from the host\n")
    img = tmp_path / "disk.img"
    subprocess.run(["truncate", "-s", size, str(img)], check=True)
    subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-d", str(src), str(img)], check=True)
    return img


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_disk_persists_across_boots(guest_factory, tmp_path):
    img = make_ext4(tmp_path)
    g = guest_factory(extra_args=("--disk", f"file={img},serial=tern-test-disk"))
    g.boot()
    assert g.run("cat /sys/block/vda/serial").strip() == "tern-test-disk"
    g.run("mkdir -p /mnt && mount /dev/vda /mnt")
    assert g.run("cat /mnt/greeting") == "hello from the host\n"
    g.run("dd if=/dev/urandom of=/mnt/blob bs=1k count=512 2>/dev/null")
    first = g.run("md5sum /mnt/blob").split()[0]
    g.run("sync && umount /mnt")
    assert g.poweroff() == 0
    fsck = subprocess.run(["e2fsck", "-fn", str(img)], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr

    g2 = guest_factory(extra_args=("--disk", f"file={img}"))
    g2.boot()
    g2.run("mkdir -p /mnt && mount /dev/vda /mnt")
    assert g2.run("md5sum /mnt/blob").split()[0] == first
    assert g2.poweroff() == 0


def test_readonly_disk_refuses_writes(guest_factory, tmp_path):
    img = make_ext4(tmp_path)
    before = sha256(img)
    g = guest_factory(extra_args=("--disk", f"file={img},readonly=on"))
    g.boot()
    assert g.run("cat /sys/block/vda/ro").strip() == "1"
    g.run("dd if=/dev/zero of=/dev/vda bs=512 count=1 conv=fsync 2>/dev/null", check=False)
    assert g.last_status != 0
    g.run("mkdir -p /mnt && mount -o ro /dev/vda /mnt")
    assert g.run("cat /mnt/greeting") == "hello from the host\n"
    assert g.poweroff() == 0
    assert sha256(img) == before


def test_rng_feeds_the_guest(guest_factory):
    g = guest_factory()
    g.boot()
    assert g.run("cat /sys/devices/virtual/misc/hw_random/rng_current").strip().startswith("virtio_rng")
    a = g.run("head -c 32 /dev/hwrng | od -An -tx1 | tr -d ' \\n'").strip()
    b = g.run("head -c 32 /dev/hwrng | od -An -tx1 | tr -d ' \\n'").strip()
    assert len(a) == 64 and len(b) == 64 and a != b
    assert g.poweroff() == 0


@pytest.mark.parametrize("spec, needle", [
    ("file=/nonexistent/disk.img", "cannot open"),
    ("file=/tmp,readonly=on", "not a regular file"),
    ("file=x.img,format=vmdk", "not supported"),
    ("file=x.img,cache=directsync", "cache takes writeback or none"),
    ("file=x.img,bogus=1", "unknown key"),
    ("readonly=on", "needs file=PATH"),
    ("file=x.img,serial=123456789012345678901", "longer than 20"),
])
def test_bad_disk_options(spec, needle):
    require_tern()
    require_kit()
    p = subprocess.run([str(TERN), "run", "--kernel", str(IMAGE), "--initrd", str(INITRD),
                        "--disk", spec], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode in (1, 2)
    assert needle in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
