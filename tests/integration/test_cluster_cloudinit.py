# test_cluster_cloudinit.py: the cloud-init NoCloud seed end to end. Two
# machines boot one Debian trixie root filesystem (with systemd and Debian's
# cloud-init; built by guest/build-rootfs.sh into build/rootfs/trixie.img) as
# <disk base=...> overlays; each comes up with the hostname, static address
# and user its <machine> gives, and reaches the other one by name.
#
# Contract with guest/build-rootfs.sh: it builds (cached) a raw ext4 image at
# build/rootfs/trixie.img that boots with --kernel build/guest/Image --initrd
# build/guest/initramfs.cpio.gz --append "console=ttyS0 root=/dev/vda", with
# a serial getty on ttyS0 where root logs in. The checks run in the guests as
# a <run> command that prints a report on the console, so no login is needed.
import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import IMAGE, INITRD, REPO, require_kit, require_tern
from xml.sax.saxutils import escape as xml_escape

from conftest import clean
from test_cluster import status, tern

SCRIPT = REPO / "guest" / "build-rootfs.sh"
# TERN_ROOTFS_IMG points at an already built image instead (e.g. a cached one).
ROOTFS = Path(os.environ.get("TERN_ROOTFS_IMG", REPO / "build" / "rootfs" / "trixie.img"))
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


def report_script(other):
    """A first-boot command (<run>) that reports, on the console, what the
    guest sees: its host name, addresses, the user, and whether it reaches
    the other machine by name (after waiting for it to come up). No login
    needed: a serial getty is not always up in time on a loaded host."""
    return xml_escape(
        "sh -c 'for i in $(seq 120); do ping -c 1 -W 2 " + other + " >/dev/null 2>&1 && break; sleep 5; done; "
        "{ echo \"CI-REPORT hostname=$(hostname)\"; "
        "echo \"CI-REPORT addr=$(ip -color=never -4 -o addr show | tr -s \" \" | cut -d \" \" -f 4 | tr \"\\n\" \" \")\"; "
        "echo \"CI-REPORT user=$(getent passwd tester | cut -d: -f 1,6)\"; "
        "echo \"CI-REPORT shadow=$(getent shadow tester | cut -d: -f 2)\"; "
        "echo \"CI-REPORT hosts=$(getent hosts " + other + ")\"; "
        "if ping -c 2 -W 5 " + other + " >/dev/null 2>&1; then echo CI-REPORT ping=ok; else echo CI-REPORT ping=fail; fi; "
        "echo CI-DONE-$((1000 + 1)); } >/dev/console 2>&1'")


def report(folder, machine):
    text = clean((folder / machine / "console.log").read_text(errors="replace"))
    # Not anchored at a line's start: cloud-init prints to the same console
    # (its host key fingerprints), and a report line can follow a line of
    # its that has no newline yet.
    return dict(re.findall(r"CI-REPORT (\w+)=(.*)$", text, re.M))


def test_cloud_init_configures_hostname_address_user_and_hosts(tmp_path):
    require_tern()
    require_kit()
    base = rootfs()
    pw = password_hash("tern-test")
    name = f"ci{os.getpid()}"
    machines = ""
    for m, addr in ADDRS.items():
        other = next(o for o in ADDRS if o != m)
        machines += f"""  <machine name="{m}" template="deb">
    <hostname>{m}</hostname>
    <nic switch="lan0" address="{addr}/24"/>
    <user name="tester" password-hash="{pw}"/>
    <run>{report_script(other)}</run>
    <ready console="CI-DONE-1001" timeout="{BOOT_TIMEOUT:.0f}"/>
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
            got = report(folder, m)
            full = (folder / m / "console.log").read_text(errors="replace")
            log = full[-3000:]
            assert got.get("hostname") == m, (got, log)
            assert f"{addr}/24" in got.get("addr", "").split(), (got, log)
            assert got.get("user") == "tester:/home/tester", (got, log)
            assert got.get("shadow") == pw, (got, log)
            assert got.get("hosts", "").split()[:2] == [ADDRS[other], other], (got, log)
            assert got.get("ping") == "ok", (got, log)
            # The gate's marker; cloud-init may print more (host keys) after it.
            assert "finished at" in full or "CI-DONE-1001" in full, log
    finally:
        tern(reg, "down", name, "--timeout", "10", "--purge", timeout=300)
