# test_isa_ext.py: the guest kernel sees the ISA extensions tern advertises
# (/proc/cpuinfo) and uses Sstc: its timer keeps ticking while it programs
# stimecmp directly, with (almost) no SBI set_timer calls.
import re
import time

EXTENSIONS = ["zicbom", "zicboz", "zicond", "zihintpause", "zba", "zbb", "zbc", "zbs", "sstc"]
STATS_RE = re.compile(r"cpu: hart (\d+): (\d+) instructions, (\d+) SBI calls \((\d+) set_timer\), "
                      r"(\d+) stimecmp writes")


def timer_irqs(g):
    """Interrupts of the RISC-V timer (INTC 5) summed over CPUs."""
    line = next(l for l in g.run("cat /proc/interrupts").splitlines() if "riscv-timer" in l)
    return sum(int(f) for f in line.split()[1:] if f.isdigit())


def test_guest_lists_and_uses_the_extensions(guest_factory, monkeypatch):
    monkeypatch.setenv("TERN_CPU_STATS", "1")
    g = guest_factory()
    g.boot()
    g.run("dmesg -n 1")
    cpuinfo = g.run("cat /proc/cpuinfo")
    isa = re.search(r"^isa\s*:\s*(rv64\S*)$", cpuinfo, re.M)
    assert isa, cpuinfo
    exts = isa.group(1).split("_")[1:]
    missing = [e for e in EXTENSIONS if e not in exts]
    assert not missing, f"/proc/cpuinfo isa {isa.group(1)} lacks {missing}"

    before = timer_irqs(g)
    time.sleep(1.5)
    g.run("sleep 1")
    after = timer_irqs(g)
    assert after > before, f"the timer stopped: {before} -> {after}"

    g.poweroff()
    g.wait_exit()
    stats = [m for m in (STATS_RE.search(l) for l in g.stderr.splitlines()) if m]
    assert stats, f"no TERN_CPU_STATS line on stderr:\n{g.stderr[-2000:]}"
    hart0 = stats[0]
    set_timer, stimecmp_writes = int(hart0.group(4)), int(hart0.group(5))
    # The kernel programs each tick through stimecmp (Sstc), not SBI.
    assert stimecmp_writes > 50, hart0.group(0)
    assert set_timer <= 2, hart0.group(0)
