# test_rootfs.py: the reference systemd root filesystem (guest/build-rootfs.sh,
# `make rootfs`) boots under tern to multi-user, and so do the disks that
# `tern image import-rootfs` makes from its tarball and from a UML-style ext4
# image (fstab on /dev/ubd0, a getty on tty0). Also checks `tern image inspect`.
import re
import shutil
import subprocess
import time

import pytest

from conftest import REPO, TERN, Guest, _missing, require_kit, require_tern, run_tern

ROOTFS = REPO / "build" / "rootfs"
TARBALL = ROOTFS / "trixie.tar.zst"
IMG = ROOTFS / "trixie.img"
DTD = REPO / "docs" / "tern-inventory.dtd"
SYSTEMD_TIMEOUT = 600     # a loaded CI host; about 40 s on an idle one


def require_rootfs():
    require_tern()
    require_kit()
    if not (TARBALL.is_file() and IMG.is_file()):
        _missing(f"reference rootfs missing in {ROOTFS} (run `make rootfs`)")


def boot_to_multi_user(name, disk, fmt):
    """Boots `disk` with systemd; returns the guest at a root shell once
    systemd reports the system running."""
    g = Guest(name=name, memory="512M", append="root=/dev/vda",
              extra_args=["--disk", f"file={disk},format={fmt}"])
    try:
        g.wait_for(r"login: root \(automatic login\)", SYSTEMD_TIMEOUT)
        g.wait_for(r"root@\S+:~# ", 120)
        g.run("stty -echo; export TERM=dumb SYSTEMD_COLORS=0 SYSTEMD_PAGER=cat")
        state = g.run("systemctl is-system-running --wait", timeout=SYSTEMD_TIMEOUT,
                      check=False).strip().splitlines()
        g.multi_user_seconds = time.monotonic() - g.started
        failed = g.run("systemctl --failed --no-legend", check=False)
        assert state and state[-1] == "running", f"system state {state}; failed units:\n{failed}"
        assert g.run("systemctl is-active multi-user.target").strip() == "active"
        assert g.run("findmnt -n -o SOURCE /").strip() == "/dev/vda"
        print(f"{name}: {g.run('systemd-analyze', check=False).strip()} "
              f"(host: {g.multi_user_seconds:.1f} s to running)")
    except Exception:
        g.close()
        raise
    return g


def test_reference_rootfs_boots_to_multi_user(tmp_path):
    """The contract other tests rely on: trixie.img (through an overlay)
    boots to a running systemd with the kit's kernel and initramfs."""
    require_rootfs()
    overlay = tmp_path / "trixie.qcow2"
    r = run_tern("image", "create", "-f", "qcow2", "-b", IMG, "-F", "raw", overlay)
    assert r.returncode == 0, r.stderr
    g = boot_to_multi_user("rootfs-reference", overlay, "qcow2")
    try:
        assert g.run("cat /etc/hostname").strip() == "trixie"
        assert "cloud-init" in g.run("dpkg-query -W cloud-init")
        # The kernel's modules are in the image and load (vfat for NoCloud seeds).
        g.run("modprobe vfat && grep -qw vfat /proc/filesystems")
        python_gives_the_same_answers(g)
    finally:
        g.close()


# Debian's python importing a dozen modules and computing: a large body of
# code the kit's busybox never runs. The JIT's load memos once let a load
# that crossed a page boundary read the wrong page; python then failed
# about one run in two ("embedded null character in path").
PY_PROGRAM = ("import argparse, json, email.parser, http.client, xml.dom.minidom, unittest, "
              "asyncio, decimal, fractions, logging, yaml, hashlib, random; "
              "random.seed(1); d = bytes(random.getrandbits(8) for _ in range(100000)); "
              "print(sum(i * i for i in range(200000)), argparse.ArgumentParser.__name__, "
              "hashlib.sha256(d).hexdigest()[:16])")


def python_gives_the_same_answers(g, runs=4):
    answers = [g.run(f"python3 -c '{PY_PROGRAM}' 2>&1 | tail -3", timeout=300, check=False).strip()
               for _ in range(runs)]
    assert answers[0].startswith("2666646666700000 ArgumentParser "), answers[0]
    assert all(a == answers[0] for a in answers), answers


def inspect_xml(path, tmp_path):
    r = run_tern("image", "inspect", path, "--xml")
    assert r.returncode == 0, r.stderr
    xml = tmp_path / "inspect.xml"
    xml.write_text(r.stdout)
    v = subprocess.run(["xmllint", "--noout", "--dtdvalid", str(DTD), str(xml)],
                       capture_output=True, text=True)
    assert v.returncode == 0, v.stderr
    return r.stdout


def test_import_from_tarball_boots(tmp_path):
    require_rootfs()
    out = tmp_path / "trixie.qcow2"
    inv = tmp_path / "trixie.xml"
    r = run_tern("image", "import-rootfs", TARBALL, out, "--size", "1536M", "--inventory", inv,
                 timeout=600)
    assert r.returncode == 0, r.stderr
    assert "(tar archive," in r.stdout and "init: systemd" in r.stdout
    xml = inv.read_text()
    assert re.search(r'<package name="systemd" version="[^"]+" architecture="riscv64"/>', xml)
    assert re.search(r'<entry spec="/dev/vda" file="/" type="ext4"', xml)
    assert '<init system="systemd"' in xml
    v = subprocess.run(["xmllint", "--noout", "--dtdvalid", str(DTD), str(inv)],
                       capture_output=True, text=True)
    assert v.returncode == 0, v.stderr
    # inspect reads the qcow2 and agrees with the import's inventory.
    assert re.search(r'<package name="cloud-init"', inspect_xml(out, tmp_path))
    g = boot_to_multi_user("rootfs-import-tar", out, "qcow2")
    g.close()


UML_FSTAB = """# UML root: the first ubd disk, swap on the second
/dev/ubd0 / ext4 defaults 0 1
/dev/ubd1 none swap sw 0 0
proc /proc proc defaults 0 0
"""
UML_INITTAB = "c0:1235:respawn:/sbin/getty 38400 tty0 linux\n"


def make_uml_image(tmp_path):
    """trixie.img made to look like a UML root: fstab on /dev/ubd0 (and a
    swap disk that will not exist), a getty on tty0 instead of ttyS0."""
    uml = tmp_path / "uml-root.img"
    subprocess.run(["cp", "--sparse=always", str(IMG), str(uml)], check=True)
    (tmp_path / "fstab").write_text(UML_FSTAB)
    (tmp_path / "inittab").write_text(UML_INITTAB)
    (tmp_path / "securetty").write_text("tty0\n")
    wants = "/etc/systemd/system/getty.target.wants"
    cmds = "\n".join([
        "rm /etc/fstab", f"write {tmp_path}/fstab /etc/fstab",
        f"write {tmp_path}/inittab /etc/inittab",
        f"write {tmp_path}/securetty /etc/securetty",
        f"rm {wants}/serial-getty@ttyS0.service",
        f"symlink {wants}/getty@tty0.service /lib/systemd/system/getty@.service",
    ]) + "\n"
    (tmp_path / "debugfs.cmds").write_text(cmds)
    debugfs = shutil.which("debugfs") or "/usr/sbin/debugfs"
    subprocess.run([debugfs, "-w", "-f", str(tmp_path / "debugfs.cmds"), str(uml)], check=True,
                   capture_output=True)
    return uml


def test_import_uml_ext4_boots(tmp_path):
    require_rootfs()
    uml = make_uml_image(tmp_path)
    before = run_tern("image", "inspect", uml)
    assert before.returncode == 0, before.stderr
    assert "/dev/ubd0 / ext4" in before.stdout and "init: systemd" in before.stdout
    out = tmp_path / "from-uml.qcow2"
    r = run_tern("image", "import-rootfs", uml, out, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "(ext image," in r.stdout
    for change in ("root /dev/ubd0 ext4 -> /dev/vda ext4", "commented out /dev/ubd1",
                   "getty@tty0.service: removed", "serial-getty@ttyS0.service: added",
                   "inittab: getty moved to ttyS0", "securetty: added ttyS0"):
        assert change in r.stdout, r.stdout
    g = boot_to_multi_user("rootfs-import-uml", out, "qcow2")
    try:
        fstab = g.run("grep -v '^#' /etc/fstab")
        assert "/dev/vda\t/\text4" in fstab and "ubd" not in fstab
        wants = g.run("ls /etc/systemd/system/getty.target.wants/")
        assert "serial-getty@ttyS0.service" in wants and "getty@tty0" not in wants
        assert "ttyS0" in g.run("grep respawn /etc/inittab")
    finally:
        g.close()


def test_inspect_refuses_what_is_not_ext(tmp_path):
    require_tern()
    junk = tmp_path / "junk.img"
    junk.write_bytes(b"\x00" * 65536)
    r = run_tern("image", "inspect", junk)
    assert r.returncode == 1 and "not an ext2/3/4 file system" in r.stderr
    r = run_tern("image", "import-rootfs", junk, tmp_path / "o.qcow2")
    assert r.returncode == 1 and "not a directory, a tar archive or an ext2/3/4 image" in r.stderr
    assert not (tmp_path / "o.qcow2").exists()
    r = run_tern("image", "import-rootfs", tmp_path)
    assert r.returncode == 2 and "needs SRC and OUT" in r.stderr
    r = run_tern("image", "import-rootfs", "--size", "12Q", tmp_path, tmp_path / "x")
    assert r.returncode == 2 and "--size" in r.stderr
