# test_boot.py: boots the reference guest under tern and checks what a user
# sees on the console: ready line, uname, cpuinfo, tmpfs I/O, clock, poweroff
# and SMP. Read-only checks share one booted guest; the rest boot their own.
import re
import time

import pytest

from conftest import BOOT_TIMEOUT, READY_RE, kernel_release


def test_ready_line_names_kit_kernel(shared_guest):
    expected = kernel_release()
    assert shared_guest.release, "no kernel release on the ready line"
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*-riscv64", shared_guest.release), shared_guest.release
    if expected:
        assert shared_guest.release == expected
    # Exactly one ready line: init ran once, the guest did not reboot.
    assert len(re.findall(READY_RE, shared_guest.output)) == 1


def test_uname(shared_guest):
    out = shared_guest.run("uname -a").strip()
    fields = out.split()
    assert fields[0] == "Linux", out
    assert "riscv64" in fields, out
    assert shared_guest.release in fields, out
    assert "tern-guest" in fields, out          # hostname set by /init
    assert "Debian" in out, out
    assert shared_guest.run("uname -m").strip() == "riscv64"


def test_cpuinfo(shared_guest):
    out = shared_guest.run("cat /proc/cpuinfo")
    isa = re.search(r"^isa\s*:\s*(rv64\S*)$", out, re.M)
    assert isa, f"no isa line in /proc/cpuinfo:\n{out}"
    # The single-letter extensions come first, before any _z... ones.
    letters = re.match(r"rv64([a-z]*)", isa.group(1)).group(1)
    missing = [x for x in "imafdc" if x not in letters]
    assert not missing, f"isa {isa.group(1)} lacks {missing}"
    mmu = re.search(r"^mmu\s*:\s*(\S+)$", out, re.M)
    assert mmu, f"no mmu line in /proc/cpuinfo:\n{out}"
    # tern implements Sv39 and Sv48; QEMU (the oracle) offers Sv57 too.
    assert mmu.group(1) in ("sv39", "sv48", "sv57"), mmu.group(1)
    assert re.search(r"^processor\s*:\s*0$", out, re.M), out


def test_tmp_small_file(shared_guest):
    shared_guest.run("echo hello-tern > /tmp/f")
    assert shared_guest.run("cat /tmp/f") == "hello-tern\n"
    shared_guest.run("rm /tmp/f")
    shared_guest.run("cat /tmp/f", check=False)
    assert shared_guest.last_status != 0, "rm'd file still readable"


def test_tmp_large_file_checksums(shared_guest):
    g = shared_guest
    g.run("dd if=/dev/urandom of=/tmp/big bs=1k count=256 2>/dev/null")
    assert g.run("wc -c < /tmp/big").strip() == str(256 * 1024)
    g.run("cp /tmp/big /tmp/big2")
    sums = g.run("md5sum /tmp/big /tmp/big2").split()
    assert len(sums) == 4, sums
    assert re.fullmatch(r"[0-9a-f]{32}", sums[0]), sums
    assert sums[0] != "d41d8cd98f00b204e9800998ecf8427e", "checksum of an empty file"
    assert sums[0] == sums[2], f"copy differs: {sums}"
    # The data really is random: a second fill gives another checksum.
    g.run("dd if=/dev/urandom of=/tmp/big3 bs=1k count=256 2>/dev/null")
    other = g.run("md5sum /tmp/big3").split()[0]
    assert other != sums[0]
    g.run("rm -f /tmp/big /tmp/big2 /tmp/big3")


def test_clock_matches_host(shared_guest):
    before = time.time()
    out = shared_guest.run("date +%s").strip()
    after = time.time()
    assert out.isdigit(), out
    guest = int(out)
    assert before - 60 <= guest <= after + 60, f"guest {guest}, host {before:.0f}..{after:.0f}"


def test_clock_advances(shared_guest):
    first = float(shared_guest.run("cut -d' ' -f1 /proc/uptime"))
    shared_guest.run("sleep 2")
    second = float(shared_guest.run("cut -d' ' -f1 /proc/uptime"))
    assert 1.5 <= second - first < 60, (first, second)


def test_shell_exit_status(shared_guest):
    shared_guest.run("false", check=False)
    assert shared_guest.last_status == 1
    assert shared_guest.run("echo $((6 * 7))") == "42\n"


def test_poweroff_exits_zero(guest_factory):
    g = guest_factory()
    g.boot()
    assert g.run("echo alive").strip() == "alive"
    assert g.poweroff() == 0


def test_cmdline_poweroff_at_ready(guest_factory):
    # tern.cmd=poweroff: what the benchmarks use to time a boot.
    g = guest_factory(append="tern.cmd=poweroff")
    g.boot()
    assert g.wait_exit(60) == 0


def test_two_cpus(guest_factory):
    g = guest_factory(cpus=2)
    g.boot()
    assert g.run("grep -c ^processor /proc/cpuinfo").strip() == "2"
    assert g.run("nproc").strip() == "2"
    # Both harts run work: pin a task on each.
    out = g.run("for c in 0 1; do taskset -c $c cat /proc/self/stat | cut -d' ' -f39; done")
    assert out.split() == ["0", "1"], out
    assert g.poweroff() == 0
