# test_reboot.py: what a guest reboot does. By default tern exits 0; with
# --reboot restart the same VM boots again from a clean machine.
from conftest import READY_RE


def test_reboot_exits_zero_by_default(guest_factory):
    g = guest_factory()
    g.boot()
    g.send("reboot -f\n")
    assert g.wait_exit(60) == 0


def test_reboot_restart_boots_again(guest_factory):
    g = guest_factory(extra_args=("--reboot", "restart"))
    g.boot()
    # Leave a file in the first boot's tmpfs: a real restart loses it.
    g.run("echo first-boot > /tmp/marker")
    first = len(g.output)
    g.send("reboot -f\n")
    g.wait_for(READY_RE, start=first)
    assert g.run("cat /tmp/marker 2>/dev/null || echo gone").strip() == "gone"
    assert g.poweroff() == 0
