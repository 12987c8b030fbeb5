# test_hardening.py: the faults found by hostile testing (issue 15), each
# reproduced against a real guest or the real binary: console input that
# died, snapshot targets, permissions, denial of service, odd inputs.
import os
import time

from conftest import READY_RE
from qmp_client import QMP, wait_socket

from test_qmp import sock_of, vm_name


def test_console_input_typed_before_driver_starts(guest_factory):
    g = guest_factory()
    # Typed while the kernel is still booting: the first byte fills the
    # FIFO-less UART, the driver's FIFO reset then drops it.
    g.send("\n" * 40)
    g.boot()
    assert g.run("echo alive", timeout=30).strip() == "alive"


def test_console_input_survives_system_reset(guest_factory):
    name = vm_name()
    g = guest_factory(extra_args=("--name", name))
    g.boot()
    wait_socket(sock_of(name), g.proc)
    q = QMP(sock_of(name))
    mark = len(g.output)
    q.cmd("system_reset")
    g.send("\n" * 40)
    g.wait_for(READY_RE, timeout=180, start=mark)
    assert g.run("echo alive-again", timeout=30).strip() == "alive-again"
