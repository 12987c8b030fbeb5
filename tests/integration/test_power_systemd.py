# test_power_systemd.py: the power button under a stock Debian trixie guest
# with systemd (build/rootfs/trixie.img from guest/build-rootfs.sh, booted
# with the kit's kernel and initramfs): `tern stop` makes systemd-logind
# power the guest off cleanly within 30 s, and the next boot of the same
# disk finds a clean ext4 (no journal recovery), where a VM killed at the
# timeout would leave a journal to recover.
import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import REPO, run_tern, _missing

# TERN_TRIXIE_IMG: another copy of that image (it is only read: the guest
# writes to a qcow2 overlay).
ROOTFS = Path(os.environ.get("TERN_TRIXIE_IMG", REPO / "build" / "rootfs" / "trixie.img"))
BUILD = REPO / "guest" / "build-rootfs.sh"
BOOT_TIMEOUT = float(os.environ.get("TERN_SYSTEMD_BOOT_TIMEOUT", "600"))
# What the kernel prints when it mounts an ext4 that was not unmounted.
DIRTY = ("recovering journal", "recovery complete", "orphan cleanup", "needs_recovery")


@pytest.fixture(scope="module")
def rootfs():
    if "TERN_TRIXIE_IMG" in os.environ:
        return ROOTFS
    if not BUILD.exists():
        pytest.skip("guest/build-rootfs.sh is not in this tree: the Debian trixie systemd root "
                    "file system comes from another branch (the lead merges both)")
    if not ROOTFS.exists():
        p = subprocess.run([str(BUILD)], cwd=REPO, capture_output=True, text=True, timeout=3600)
        if p.returncode != 0 or not ROOTFS.exists():
            _missing(f"guest/build-rootfs.sh did not produce {ROOTFS}: {p.stderr.strip()[-500:]}")
    return ROOTFS


def boot_systemd(guest_factory, name, disk):
    g = guest_factory(name=name, append="root=/dev/vda",
                      memory="512M", extra_args=("--name", name,
                                                 "--disk", f"file={disk},format=qcow2"))
    g.wait_for(r"login: ", timeout=BOOT_TIMEOUT)
    # logind opens the power button once udev has tagged it; give the
    # units started after getty a moment.
    time.sleep(5)
    return g


def test_tern_stop_powers_off_systemd_cleanly(guest_factory, rootfs, tmp_path):
    disk = tmp_path / "root.qcow2"
    p = run_tern("image", "create", "-b", rootfs, "-F", "raw", disk)
    assert p.returncode == 0, p.stderr
    name = f"systemd-{os.getpid()}"
    g = boot_systemd(guest_factory, name, disk)
    t = time.monotonic()
    p = run_tern("stop", name, "--timeout", "30", timeout=60)
    took = time.monotonic() - t
    assert p.returncode == 0, (p.returncode, p.stderr, g.output[-3000:])
    assert took < 30
    assert g.wait_exit(30) == 0
    assert "reboot: Power down" in g.output

    # The next boot of the same disk: no journal to recover.
    g2 = boot_systemd(guest_factory, name + "-again", disk)
    dirty = [w for w in DIRTY if w in g2.output]
    assert not dirty, (dirty, g2.output[-3000:])
    assert run_tern("stop", name + "-again", "--timeout", "30", timeout=60).returncode == 0
    assert g2.wait_exit(30) == 0
