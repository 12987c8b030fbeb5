# test_cli.py: tern's command line: --help texts, and bad input that must end
# in a clean failure (non-zero exit, a short error on stderr naming the
# problem, no crash) before any guest runs.
import re

import pytest

from conftest import IMAGE, INITRD, require_kit, run_tern

RUN_OPTIONS = ["--kernel", "--initrd", "--append", "--memory", "--cpus",
               "--console", "--name", "--dtb-out"]


def assert_clean_failure(res, *mentions):
    """Non-zero exit by exit() (not a signal), and an error on stderr that
    names the problem: one of `mentions` (case-insensitive)."""
    assert res.returncode != 0, f"exit 0 on bad input; stdout={res.stdout!r}"
    assert 0 < res.returncode < 128, \
        f"exit {res.returncode}: a crash or signal, not an error exit; stderr={res.stderr!r}"
    lines = [l for l in res.stderr.splitlines() if l.strip()]
    assert lines, "no error message on stderr"
    # One line saying what is wrong (a second 'try --help' hint is tolerated).
    assert len(lines) <= 2, f"error should be one line, got:\n{res.stderr}"
    text = res.stderr.lower()
    assert any(m.lower() in text for m in mentions), \
        f"stderr does not mention any of {mentions}: {res.stderr!r}"
    for bad in ("segmentation", "abort", "core dumped", "assertion"):
        assert bad not in text, res.stderr


def test_help_top_level():
    res = run_tern("--help")
    assert res.returncode == 0, res.stderr
    text = res.stdout + res.stderr
    assert re.search(r"\brun\b", text), f"`tern --help` does not list `run`:\n{text}"


def test_help_run_lists_every_option():
    res = run_tern("run", "--help")
    assert res.returncode == 0, res.stderr
    text = res.stdout + res.stderr
    missing = [o for o in RUN_OPTIONS if not re.search(re.escape(o) + r"\b", text)]
    assert not missing, f"`tern run --help` lacks {missing}:\n{text}"


def test_missing_kernel():
    res = run_tern("run", "--kernel", "/nonexistent", "--append", "console=ttyS0")
    assert_clean_failure(res, "/nonexistent")


def test_truncated_kernel(tmp_path):
    require_kit()
    bad = tmp_path / "Image.head"
    bad.write_bytes(IMAGE.read_bytes()[:100])
    res = run_tern("run", "--kernel", bad, "--initrd", INITRD, "--append", "console=ttyS0")
    assert_clean_failure(res, str(bad), "kernel", "image")


@pytest.mark.parametrize("value", ["12Q", "0", "abc"])
def test_bad_memory(value):
    require_kit()
    res = run_tern("run", "--kernel", IMAGE, "--initrd", INITRD, "--memory", value,
                   "--append", "console=ttyS0")
    # "0" alone would match nearly any text: then only "memory" counts.
    assert_clean_failure(res, "memory", *([value] if len(value) > 1 else []))


def test_unknown_option():
    res = run_tern("run", "--bogus")
    assert_clean_failure(res, "--bogus", "bogus")


@pytest.mark.parametrize("value", ["0", "9"])
def test_bad_cpus(value):
    require_kit()
    res = run_tern("run", "--kernel", IMAGE, "--initrd", INITRD, "--cpus", value,
                   "--append", "console=ttyS0")
    assert_clean_failure(res, "cpu")


def test_management_commands_without_tern_tools(tmp_path):
    """The lean tern runs image/cluster/consolidate/host through the
    tern-tools beside it; alone, it says so instead of failing obscurely,
    and its own commands still work."""
    import shutil
    import subprocess
    from conftest import TERN
    lone = tmp_path / "tern"
    shutil.copy(TERN, lone)
    for verb in ("image", "cluster", "consolidate", "host"):
        res = subprocess.run([str(lone), verb, "--help"], capture_output=True, text=True, timeout=30)
        assert_clean_failure(res, "tern-tools")
        assert str(tmp_path / "tern-tools") in res.stderr, res.stderr
    res = subprocess.run([str(lone), "run", "--help"], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    # Beside a tern-tools, the same command works.
    shutil.copy(TERN.parent / "tern-tools", tmp_path / "tern-tools")
    res = subprocess.run([str(lone), "image", "--help"], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0 and "usage: tern image" in res.stdout, res.stderr
