# test_net_ipv6.py: --net user as QEMU's slirp: IPv6 on fec0::/64 (the guest
# configures itself from router advertisements and reaches a host service
# listening on ::1 through fec0::2), and DHCP giving the VM's name as the
# host name, or the one hostname= names.
import contextlib
import http.server
import itertools
import os
import socket
import threading

import pytest

import conftest

_n = itertools.count(1)


class V6Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6


@contextlib.contextmanager
def http6_server(root):
    """python's http.server on [::1] only, serving root; yields the port."""
    handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(*a, directory=str(root), **kw)
    srv = V6Server(("::1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()


def test_ipv6_address_and_host_service(guest_factory, tmp_path):
    if not socket.has_ipv6:
        pytest.skip("the host has no IPv6 (a listener on ::1 is needed)")
    name = f"v6-{os.getpid()}-{next(_n)}"
    g = guest_factory(append="tern.net=dhcp", extra_args=("--name", name, "--net", "user"))
    g.boot()
    g.run("dmesg -n 1")
    # SLAAC from slirp's router advertisement: fec0::/64 + the MAC's EUI-64
    # (fec0::/10 is site-local scope, as under QEMU).
    out = g.run("for i in $(seq 100); do ip -6 addr show dev eth0 | grep -q 'inet6 fec0::' "
                "&& ! ip -6 addr show dev eth0 | grep -q tentative && break; sleep 0.1; done; "
                "ip -6 addr show dev eth0")
    assert "inet6 fec0::5054:ff:fe12:3456/64 scope site" in out, out
    assert "default via fe80::2 dev eth0" in g.run("ip -6 route")
    assert "fec0::/64 dev eth0" in g.run("ip -6 route")
    page = "tern guest over IPv6\n"
    (tmp_path / "v6.txt").write_text(page)
    with http6_server(tmp_path) as port:
        got = g.run(f"wget -q -O - 'http://[fec0::2]:{port}/v6.txt'")
    assert got == page
    # Without the listener the same address refuses: the page came from ::1.
    g.run(f"wget -q -T 5 -O - 'http://[fec0::2]:{port}/v6.txt'", check=False)
    assert g.last_status != 0


@pytest.mark.parametrize("net, want", [
    ("user", None),                             # the VM's name
    ("user,hostname=web-1.example", "web-1.example"),
])
def test_dhcp_hands_out_the_host_name(guest_factory, net, want):
    name = f"hn_{os.getpid()}_{next(_n)}"       # '_' is no host name character
    g = guest_factory(append="tern.net=dhcp", extra_args=("--name", name, "--net", net))
    g.boot()
    expect = want or name.replace("_", "-")
    assert g.run("hostname").strip() == expect


@pytest.mark.parametrize("bad", ["-x", "a..b", "a_b", "x" * 33, ""])
def test_bad_hostname_is_refused(bad):
    p = conftest.run_tern("run", "--kernel", "/dev/null", "--net", f"user,hostname={bad}")
    assert p.returncode == 2 and "--net: hostname" in p.stderr, p.stderr
