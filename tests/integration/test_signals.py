# test_signals.py: SIGTERM/SIGINT end a running VM cleanly (exit 0, a one-line
# reason), as they do for QEMU; tiny flat binaries are valid kernels.
import signal

import pytest


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_vm_cleanly(guest_factory, sig):
    g = guest_factory()
    g.boot()
    g.proc.send_signal(sig)
    assert g.wait_exit(30) == 0
    assert f"terminating on signal {int(sig)}" in g.stderr
