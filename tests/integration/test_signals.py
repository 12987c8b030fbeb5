# test_signals.py: SIGTERM/SIGINT end a running VM cleanly (a one-line reason,
# and exit 3: the VM was killed, the guest did not power off); tiny flat binaries are valid kernels.
import signal

import pytest


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_vm_cleanly(guest_factory, sig):
    g = guest_factory()
    g.boot()
    g.proc.send_signal(sig)
    assert g.wait_exit(30) == 3
    assert f"terminating on signal {int(sig)}" in g.stderr
