# test_smp.py: a 4-hart guest (--cpus 4): the harts Linux sees, the memory-model
# litmus tests of /bench/litmus (message passing, store buffering, LR/SC, AMO,
# a spinlock, code rewritten by another hart; tests/guest/bench/litmus.c) and a
# parallel CRC job with a checked result (/bench/par). One guest boot serves
# the module.
import re

import pytest

from conftest import Guest, require_kit, require_tern

HARTS = 4
LITMUS_TESTS = ("mp", "sb", "lrsc", "amo", "lock", "smc")
# /bench/par's result for PASSES=40; it does not depend on the thread count
# (tests/guest/bench/par.c), and QEMU computes the same.
PAR_PASSES = 40
PAR_RESULT = "36803668d7b7fd3f"


@pytest.fixture(scope="module")
def smp_guest(request):
    require_tern()
    require_kit()
    g = Guest(cpus=HARTS, name=f"{request.module.__name__}-smp")
    try:
        g.boot()
        g.run("dmesg -n 1")
        g.run("test -x /bench/litmus && test -x /bench/par", check=False)
        if g.last_status != 0:
            pytest.fail("the guest kit has no /bench/litmus or /bench/par: rebuild it "
                        "(guest/build-kit.sh)")
    except BaseException:
        g.close()
        raise
    yield g
    g.close()


def check_litmus(out, threads):
    """Every LITMUS line of /bench/litmus's output says ok, one per test,
    and the run ends in LITMUS-RESULT ok; returns {test: fields}."""
    cfg = re.search(r"^LITMUS-CONFIG (.*)$", out, re.M)
    assert cfg, out
    assert f"threads={threads} " in cfg.group(1) + " " and "pinned=yes" in cfg.group(1), out
    lines = re.findall(r"^LITMUS (\S+) (\S+)(.*)$", out, re.M)
    assert [name for name, _, _ in lines] == list(LITMUS_TESTS), out
    tests = {}
    for name, verdict, rest in lines:
        assert verdict == "ok", f"litmus {name} failed: {rest}\n{out}"
        tests[name] = dict(kv.split("=", 1) for kv in rest.split())
    assert re.search(r"^LITMUS-RESULT ok$", out, re.M), out
    return tests


def test_harts(smp_guest):
    g = smp_guest
    harts = re.findall(r"^hart\s*:\s*(\d+)$", g.run("cat /proc/cpuinfo"), re.M)
    assert sorted(map(int, harts)) == list(range(HARTS)), harts
    assert g.run("nproc").strip() == str(HARTS)


def test_litmus(smp_guest):
    out = smp_guest.run(f"/bench/litmus -t {HARTS} -n 5000 -c 100000", timeout=120)
    tests = check_litmus(out, HARTS)
    for name, iters in (("mp", 5000), ("sb", 5000), ("smc", 5000 // 25)):
        assert tests[name]["forbidden"] == "0"
        assert tests[name]["iters"] == str(iters * HARTS // 2)
    expect = str(100000 * HARTS)
    assert tests["lrsc"]["total_w"] == tests["lrsc"]["total_d"] == expect
    assert tests["lrsc"]["total_mixed"] == expect
    assert tests["amo"]["total"] == tests["lock"]["total"] == expect
    # The harts really ran at once (one host thread each): plain,
    # unsynchronised increments of one counter were lost. With all harts
    # on one thread (--vcpu-threads single) none ever are.
    assert int(tests["amo"]["plain_lost"]) > 0, tests["amo"]


def test_par(smp_guest):
    out = smp_guest.run(f"/bench/par {HARTS} {PAR_PASSES}", timeout=120)
    m = re.search(r"^PAR threads=(\d+) passes=(\d+) .* result=([0-9a-f]{16}) (\S+)$", out, re.M)
    assert m, out
    assert (int(m.group(1)), int(m.group(2))) == (HARTS, PAR_PASSES), out
    # The guest's own check (a serial re-run gave the same), then the constant.
    assert m.group(4) == "ok", out
    assert m.group(3) == PAR_RESULT, out
