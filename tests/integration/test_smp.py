# test_smp.py: a 4-hart guest (--cpus 4): the harts Linux sees, the memory-model
# litmus tests of /bench/litmus (message passing, store buffering, LR/SC, AMO,
# a spinlock, code rewritten by another hart; tests/guest/bench/litmus.c) and a
# parallel CRC job with a checked result (/bench/par). One guest boot serves
# the module.
import os
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


def thread_cpu_ticks(pid):
    """{tid: utime + stime} for every thread of process pid."""
    ticks = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks[int(tid)] = int(fields[11]) + int(fields[12])
    return ticks


def test_each_hart_has_a_host_thread(smp_guest):
    """Each hart runs on a host thread of its own: while a 4-thread job runs
    in the guest, four of tern's threads each do a real share of the work
    (with --vcpu-threads single, one thread does it all: checked once by
    hand). CPU time, not overlap, so a loaded host cannot make this flaky."""
    pid = smp_guest.proc.pid
    before = thread_cpu_ticks(pid)
    out = smp_guest.run(f"/bench/par -n {HARTS} {PAR_PASSES * 4}", timeout=180)
    assert re.search(r"^PAR threads=4 .* unchecked$", out, re.M), out
    after = thread_cpu_ticks(pid)
    used = {t: after[t] - before.get(t, 0) for t in after}
    total = sum(used.values())
    busy = [t for t, u in used.items() if u >= total * 0.1]
    assert total > 0 and len(busy) >= HARTS, (used, total)


def test_par(smp_guest):
    out = smp_guest.run(f"/bench/par {HARTS} {PAR_PASSES}", timeout=120)
    m = re.search(r"^PAR threads=(\d+) passes=(\d+) .* result=([0-9a-f]{16}) (\S+)$", out, re.M)
    assert m, out
    assert (int(m.group(1)), int(m.group(2))) == (HARTS, PAR_PASSES), out
    # The guest's own check (a serial re-run gave the same), then the constant.
    assert m.group(4) == "ok", out
    assert m.group(3) == PAR_RESULT, out
