# test_console_dtb.py: the non-stdio console backends (file:, unix:) and
# --dtb-out, checked against what the guest prints and what dtc decodes.
import os
import socket
import subprocess
import time

import pytest

from conftest import IMAGE, INITRD, TERN, clean, require_kit, require_tern

BOOT = float(os.environ.get("TERN_BOOT_TIMEOUT", "180"))


def tern_cmd(*extra, append="console=ttyS0 quiet tern.cmd=poweroff"):
    return [str(TERN), "run", "--kernel", str(IMAGE), "--initrd", str(INITRD),
            "--append", append, *extra]


def test_console_file_gets_guest_output(tmp_path):
    require_tern()
    require_kit()
    log = tmp_path / "console.log"
    log.write_text("old contents that must be truncated\n")
    p = subprocess.run(tern_cmd("--console", f"file:{log}"), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=BOOT)
    assert p.returncode == 0, p.stderr
    text = clean(log.read_text(errors="replace"))
    assert "TERN-GUEST-READY" in text
    assert "old contents" not in text
    assert "TERN-GUEST-READY" not in p.stdout   # the console did not go to stdout


def test_console_unix_socket_round_trip(tmp_path):
    require_tern()
    require_kit()
    path = tmp_path / "console.sock"
    proc = subprocess.Popen(tern_cmd("--console", f"unix:{path}", append="console=ttyS0"),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not path.exists():
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "console socket never appeared"
            time.sleep(0.1)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(str(path))
        s.settimeout(5)
        buf = b""
        deadline = time.monotonic() + BOOT
        sent = False
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                chunk = b""
            buf += chunk
            if not sent and b"TERN-GUEST-READY" in buf:
                time.sleep(1)
                s.sendall(b"echo sum=$((40+2))\n")
                sent = True
            if b"sum=42" in buf:
                break
        assert b"sum=42" in buf, clean(buf.decode(errors="replace"))[-2000:]
        s.sendall(b"poweroff -f\n")
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not path.exists(), "console socket left behind after exit"


def test_console_unix_refuses_regular_file(tmp_path):
    require_tern()
    require_kit()
    path = tmp_path / "precious"
    path.write_text("keep me")
    p = subprocess.run(tern_cmd("--console", f"unix:{path}"), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    assert "precious" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert path.read_text() == "keep me"


def test_bad_console_spec():
    require_tern()
    require_kit()
    p = subprocess.run(tern_cmd("--console", "serial:/dev/null"), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    assert "console" in p.stderr


def test_dtb_out_describes_the_machine(tmp_path):
    require_tern()
    require_kit()
    dtb = tmp_path / "virt.dtb"
    p = subprocess.run(tern_cmd("--dtb-out", str(dtb), "--cpus", "2", "--memory", "512M"),
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=BOOT)
    assert p.returncode == 0, p.stderr
    dts = subprocess.run(["dtc", "-I", "dtb", "-O", "dts", str(dtb)], capture_output=True,
                         text=True, check=True).stdout
    assert ('riscv,isa = "rv64imafdc_zicbom_zicboz_zicntr_zicond_zicsr_zifencei_zihintpause'
            '_zba_zbb_zbc_zbs_sstc"') in dts
    exts = ["i", "m", "a", "f", "d", "c", "zicbom", "zicboz", "zicntr", "zicond", "zicsr",
            "zifencei", "zihintpause", "zba", "zbb", "zbc", "zbs", "sstc"]
    # dtc renders a string list either as "a", "b" or as "a\0b".
    assert ('"' + '", "'.join(exts) + '"' in dts) or ('"' + "\\0".join(exts) + '"' in dts)
    assert "riscv,cbom-block-size = <0x40>" in dts and "riscv,cboz-block-size = <0x40>" in dts
    assert "timebase-frequency = <0x989680>" in dts          # 10 MHz
    assert dts.count('device_type = "cpu"') == 2
    assert "reg = <0x00 0x80000000 0x00 0x20000000>" in dts   # 512 MiB at 0x80000000
    assert 'bootargs = "console=ttyS0 quiet tern.cmd=poweroff"' in dts
    assert "linux,initrd-start" in dts and "linux,initrd-end" in dts
    assert 'stdout-path = "/soc/serial@10000000"' in dts
    assert "rng-seed" in dts
    for node in ("plic@c000000", "serial@10000000", "rtc@101000", "test@100000"):
        assert node in dts


def test_dtb_out_unwritable_is_a_clear_error(tmp_path):
    require_tern()
    require_kit()
    p = subprocess.run(tern_cmd("--dtb-out", str(tmp_path / "no" / "such" / "dir.dtb")),
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert p.returncode == 1
    assert "device tree" in p.stderr and len(p.stderr.strip().splitlines()) == 1
