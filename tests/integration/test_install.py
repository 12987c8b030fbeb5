# test_install.py: `make install DESTDIR=... PREFIX=/usr` lays out what a
# Debian user expects: binaries, the dashboard, the systemd unit for ternd
# (valid, KillMode=process so VMs outlive the agent), bash completion.
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dest(tmp_path_factory):
    d = tmp_path_factory.mktemp("install")
    r = subprocess.run(["make", "-s", "--no-print-directory", "install", f"DESTDIR={d}", "PREFIX=/usr"],
                       cwd=REPO, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return d


def test_binaries_and_data(dest):
    tern = dest / "usr/bin/tern"
    assert tern.is_file() and os.access(tern, os.X_OK)
    out = subprocess.run([str(tern), "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("tern ")
    # The lean VMM binary runs the management commands through the
    # tern-tools installed beside it, and links none of their libraries.
    assert os.access(dest / "usr/bin/tern-tools", os.X_OK)
    out = subprocess.run([str(tern), "image", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "usage: tern image" in out.stdout, (out.stdout, out.stderr)
    libs = subprocess.run(["ldd", str(tern)], capture_output=True, text=True).stdout
    for heavy in ("libcurl", "libxml2", "libarchive", "libext2fs", "libcivetweb"):
        assert heavy not in libs, libs
    if (REPO / "src/agent/ternd.c").exists():
        assert os.access(dest / "usr/bin/ternd", os.X_OK)
    web = dest / "usr/share/tern/web"
    assert (web / "index.html").is_file()
    assert (web / "vendor/xterm.js").is_file()
    for dtd in (REPO / "share").glob("*.dtd"):
        assert (dest / "usr/share/tern" / dtd.name).is_file()
    assert (dest / "usr/share/doc/tern/README.md").is_file()


def test_systemd_unit(dest):
    unit = dest / "usr/lib/systemd/system/ternd.service"
    text = unit.read_text()
    assert "@" not in text.replace("%H", ""), "unsubstituted placeholder"
    assert "ExecStart=/usr/bin/ternd " in text
    assert "KillMode=process" in text
    assert "--web-root /usr/share/tern/web" in text
    if shutil.which("systemd-analyze") and (dest / "usr/bin/ternd").exists():
        # Verify against the installed tree: the unit names /usr/bin/ternd.
        r = subprocess.run(["systemd-analyze", f"--root={dest}", "verify", str(unit)],
                           capture_output=True, text=True)
        # A machine without systemd's own units (a container) cannot resolve
        # the default dependencies (sysinit.target, ...); that is the
        # machine's lack, not the unit's.
        ours = [l for l in r.stderr.splitlines() if not re.search(r"Unit \S+\.target not found", l)]
        assert not any("Unknown" in l or "Failed" in l for l in ours), r.stderr


def test_bash_completion(dest):
    comp = dest / "usr/share/bash-completion/completions/tern"
    r = subprocess.run(["bash", "-c", f"source {comp}; COMP_WORDS=(tern clu); COMP_CWORD=1; _tern; "
                        "echo ${COMPREPLY[@]}; COMP_WORDS=(tern cluster st); COMP_CWORD=2; _tern; "
                        "echo ${COMPREPLY[@]}"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split("\n")
    assert lines[0].split() == ["cluster"]
    assert lines[1].split() == ["status"]
