# test_cluster_cloudinit.py: the cloud-init NoCloud seed end to end. Two
# machines boot one Debian trixie root filesystem (with systemd and Debian's
# cloud-init; built by guest/build-rootfs.sh into build/rootfs/trixie.img) as
# <disk base=...> overlays; each comes up with the hostname, static address
# and user its <machine> gives, and reaches the other one by name.
#
# Contract with guest/build-rootfs.sh: it builds (cached) a raw ext4 image at
# build/rootfs/trixie.img that boots with --kernel build/guest/Image --initrd
# build/guest/initramfs.cpio.gz --append "console=ttyS0 root=/dev/vda", with
# a serial getty on ttyS0 where root logs in.
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from conftest import IMAGE, INITRD, REPO, TERN, require_kit, require_tern
from test_cluster import Console, env_for, status, tern

SCRIPT = REPO / "guest" / "build-rootfs.sh"
# TERN_ROOTFS_IMG points at an already built image instead (e.g. a cached one).
ROOTFS = Path(os.environ.get("TERN_ROOTFS_IMG", REPO / "build" / "rootfs" / "trixie.img"))
# The root password on the serial console, if the image asks for one.
ROOT_PASSWORD = os.environ.get("TERN_ROOTFS_PASSWORD", "tern")
BOOT_TIMEOUT = float(os.environ.get("TERN_CLOUDINIT_TIMEOUT", "900"))
ADDRS = {"alpha": "10.0.0.11", "beta": "10.0.0.12"}


def rootfs():
    if os.environ.get("TERN_ROOTFS_IMG"):
        return ROOTFS
    if not SCRIPT.is_file():
        pytest.skip("guest/build-rootfs.sh is not in this tree yet (the Debian trixie + cloud-init "
                    "root filesystem this test boots); it arrives with the rootfs helper's branch")
    if not ROOTFS.is_file():
        r = subprocess.run([str(SCRIPT)], cwd=REPO, capture_output=True, text=True, timeout=3600)
        if r.returncode != 0 or not ROOTFS.is_file():
            pytest.fail(f"guest/build-rootfs.sh failed ({r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return ROOTFS


def password_hash(pw):
    r = subprocess.run(["openssl", "passwd", "-6", "-salt", "ternsalt", pw], capture_output=True,
                       text=True, check=True)
    return r.stdout.strip()


class Shell(Console):
    """A root shell on a Debian serial console: logs in when asked."""

    def login(self, timeout=BOOT_TIMEOUT):
        end = time.monotonic() + timeout
        self.sock.sendall(b"\n")
        while time.monotonic() < end:
            self._read()
            tail = self.buf[-300:]
            if re.search(r"login: *$", tail):
                self.raw = b""
                self.sock.sendall(b"root\n")
            elif re.search(r"Password: *$", tail):
                self.raw = b""
                self.sock.sendall(ROOT_PASSWORD.encode() + b"\n")
            elif re.search(r"[#$] *$", tail):
                # Plain output for the markers: no colours, no bracketed paste.
                self.sock.sendall(b"export TERM=dumb PS1='# '; bind 'set enable-bracketed-paste off' 2>/dev/null\n")
                time.sleep(1)
                self._read()
                return
        raise AssertionError(f"no shell on the console after {timeout:.0f}s:\n{self.buf[-2000:]}")


def test_cloud_init_configures_hostname_address_user_and_hosts(tmp_path):
    require_tern()
    require_kit()
    base = rootfs()
    pw = password_hash("tern-test")
    name = f"ci{os.getpid()}"
    machines = ""
    for m, addr in ADDRS.items():
        machines += f"""  <machine name="{m}" template="deb">
    <hostname>{m}</hostname>
    <nic switch="lan0" address="{addr}/24"/>
    <user name="tester" password-hash="{pw}"/>
    <run>touch /root/ran-by-cloud-init</run>
    <ready console="login:" timeout="{BOOT_TIMEOUT:.0f}"/>
  </machine>
"""
    f = tmp_path / "ci.xml"
    f.write_text(f"""<?xml version="1.0"?>
<!DOCTYPE project SYSTEM "tern-cluster.dtd">
<project name="{name}">
  <template name="deb" memory="512M">
    <kernel path="{IMAGE}"/>
    <initrd path="{INITRD}"/>
    <append>console=ttyS0 root=/dev/vda</append>
    <disk base="{base}" format="raw"/>
  </template>
  <switch name="lan0"/>
{machines}</project>
""")
    reg, folder = tmp_path / "reg", tmp_path / "p"
    try:
        tern(reg, "up", f, "--dir", folder, check=True, timeout=BOOT_TIMEOUT + 120)
        _, ms = status(reg, name)
        assert all(ms[m]["state"] == "running" for m in ADDRS)
        for m, addr in ADDRS.items():
            other = next(o for o in ADDRS if o != m)
            sh = Shell(folder / m / "console.sock")
            sh.sock.settimeout(1)
            sh.login()
            sh.run("cloud-init status --wait >/dev/null 2>&1", timeout=BOOT_TIMEOUT)
            # What cloud-init says about its run, to explain any failure below.
            ci, _ = sh.run("cloud-init status --long; grep -E 'WARNING|ERROR|Traceback' "
                           "/var/log/cloud-init.log | tail -n 15", timeout=120)
            print(f"--- {m}: cloud-init ---\n{ci}")
            out, _ = sh.run("hostname")
            assert out.strip() == m, ci
            out, _ = sh.run("ip -color=never -4 -o addr show")
            assert f"{addr}/24" in out, out + ci
            out, rc = sh.run("getent passwd tester; getent shadow tester | cut -d: -f2")
            assert rc == 0 and "tester:" in out and password_hash("tern-test") in out, out + ci
            out, rc = sh.run("test -e /root/ran-by-cloud-init")
            assert rc == 0, "the <run> command did not run\n" + ci
            out, rc = sh.run(f"getent hosts {other}; ping -c 2 -W 5 {other}", timeout=60)
            assert rc == 0 and ADDRS[other] in out, out + ci
            assert "status: done" in ci, ci
            sh.close()
    finally:
        tern(reg, "down", name, "--timeout", "10", "--purge", timeout=300)
