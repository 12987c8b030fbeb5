# test_net.py: virtio-net as the guest sees it. User networking (libslirp):
# DHCP, a download from a host HTTP server checked by md5, and a guest service
# reached through hostfwd. VDE: two tern VMs on one vde_switch ping each other
# (and, with TERN_SLOW_TESTS=1, tern and QEMU). TAP: a guest in a network
# namespace pings the host end (root only). Bad --net values fail cleanly.
import contextlib
import hashlib
import http.server
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

import conftest
from conftest import IMAGE, INITRD, TERN, require_kit, require_tern


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def http_server(root):
    """python's http.server on 127.0.0.1, serving `root`; yields the port."""
    handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(*a, directory=str(root), **kw)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()


GUEST_WWW = "/tmp/www"
FWD_PAGE = "tern guest says hello through hostfwd\n"


@pytest.fixture(scope="module")
def user_guest(request):
    """One guest on user networking, configured by DHCP at boot, with two
    hostfwd rules to a guest httpd on port 80 (host address given, and not)."""
    require_tern()
    require_kit()
    http_port, spare_port = free_port(), free_port()
    g = conftest.Guest(
        name=f"{request.module.__name__}-user",
        append="tern.net=dhcp",
        extra_args=("--net", f"user,mac=52:54:00:ab:cd:ef,hostfwd=tcp:127.0.0.1:{http_port}-:80,"
                             f"hostfwd=tcp::{spare_port}-10.0.2.15:80"))
    try:
        g.boot()
        g.run("dmesg -n 1")
    except Exception:
        g.close()
        raise
    g.http_port, g.spare_port = http_port, spare_port
    yield g
    g.close()


def test_user_dhcp_configures_the_guest(user_guest):
    g = user_guest
    assert "TERN-NET-UP eth0 10.0.2.15/24" in g.output
    assert g.run("cat /sys/class/net/eth0/address").strip() == "52:54:00:ab:cd:ef"
    # The kernel's link watch publishes carrier changes up to a second late
    # (seen as "down" right after udhcpc on a fast boot): wait up to 5 s.
    state = g.run("for i in $(seq 50); do [ \"$(cat /sys/class/net/eth0/operstate)\" = up ] && break; "
                  "sleep 0.1; done; cat /sys/class/net/eth0/operstate")
    assert state.strip() == "up"
    assert "default via 10.0.2.2 dev eth0" in g.run("ip route")
    assert "nameserver 10.0.2.3" in g.run("cat /etc/resolv.conf")
    # The gateway answers ICMP (slirp's own stack).
    assert " 0% packet loss" in g.run("ping -c 2 -W 5 10.0.2.2")


def test_user_download_from_host(user_guest, tmp_path):
    g = user_guest
    blob = os.urandom(3 * 1024 * 1024 + 123)     # odd size: not a multiple of any buffer
    (tmp_path / "blob").write_bytes(blob)
    want = hashlib.md5(blob).hexdigest()
    with http_server(tmp_path) as port:
        out = g.run(f"wget -q -O - http://10.0.2.2:{port}/blob | md5sum", timeout=300)
    assert out.split()[0] == want


def test_user_hostfwd_reaches_guest_httpd(user_guest):
    g = user_guest
    g.run(f"mkdir -p {GUEST_WWW} && printf '{FWD_PAGE.strip()}\\n' > {GUEST_WWW}/hello.txt")
    g.run(f"pidof httpd >/dev/null || httpd -p 80 -h {GUEST_WWW}")
    for port in (g.http_port, g.spare_port):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/hello.txt", timeout=60) as r:
            assert r.read().decode() == FWD_PAGE


def test_user_hostfwd_carries_bulk_data_from_guest(user_guest):
    """Guest -> host through hostfwd: 2 MiB made in the guest, md5 on both ends."""
    g = user_guest
    g.run(f"mkdir -p {GUEST_WWW} && dd if=/dev/urandom of={GUEST_WWW}/big.bin bs=64k count=32 2>/dev/null")
    want = g.run(f"md5sum {GUEST_WWW}/big.bin").split()[0]
    g.run(f"pidof httpd >/dev/null || httpd -p 80 -h {GUEST_WWW}")
    with urllib.request.urlopen(f"http://127.0.0.1:{g.http_port}/big.bin", timeout=120) as r:
        data = r.read()
    assert len(data) == 2 * 1024 * 1024
    assert hashlib.md5(data).hexdigest() == want


def test_user_idle_after_connections(user_guest):
    """After the transfers above (and a host connection opened and dropped at
    once), slirp's sockets must not keep the I/O thread spinning."""
    g = user_guest
    socket.create_connection(("127.0.0.1", g.http_port), timeout=30).close()
    time.sleep(2)

    def cpu_ticks():
        with open(f"/proc/{g.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])

    c0, w0 = cpu_ticks(), time.monotonic()
    time.sleep(5)
    used = (cpu_ticks() - c0) / os.sysconf("SC_CLK_TCK") / (time.monotonic() - w0)
    assert used < 0.2, f"idle guest with user networking uses {used:.0%} of a core"


# ---- VDE ----------------------------------------------------------------------

@pytest.fixture
def vde_switch(tmp_path):
    if not shutil.which("vde_switch"):
        conftest._missing("vde_switch not installed (Debian package vde2; scripts/deps.sh)")
    sock = tmp_path / "switch"
    p = subprocess.Popen(["vde_switch", "--sock", str(sock)], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while not (sock / "ctl").exists():
        if p.poll() is not None or time.monotonic() > deadline:
            p.kill()
            pytest.fail(f"vde_switch did not start: {p.stderr.read().decode()}")
        time.sleep(0.1)
    yield sock
    p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()


def set_ip(g, ifc, addr):
    g.run(f"ip addr add {addr}/24 dev {ifc} && ip link set {ifc} up")


def test_vde_two_tern_vms_ping(guest_factory, vde_switch):
    a = guest_factory(extra_args=("--net", f"vde,sock={vde_switch}"))
    # b has two NICs: eth0 (user) and eth1 on the switch, with the second
    # default MAC, so the two VMs differ without any mac= option.
    b = guest_factory(extra_args=("--net", "user", "--net", f"vde,sock={vde_switch}"))
    a.boot()
    b.boot()
    assert a.run("cat /sys/class/net/eth0/address").strip() == "52:54:00:12:34:56"
    assert b.run("cat /sys/class/net/eth1/address").strip() == "52:54:00:12:34:57"
    set_ip(a, "eth0", "192.168.77.1")
    set_ip(b, "eth1", "192.168.77.2")
    assert " 0% packet loss" in a.run("ping -c 3 -W 10 192.168.77.2", timeout=120)
    assert " 0% packet loss" in b.run("ping -c 3 -W 10 192.168.77.1", timeout=120)
    # Bigger than one receive buffer: ping with 8000-byte payloads (fragments).
    assert " 0% packet loss" in a.run("ping -c 2 -s 8000 -W 10 192.168.77.2", timeout=120)


@pytest.mark.skipif(os.environ.get("TERN_SLOW_TESTS") != "1",
                    reason="slow: tern and QEMU on one switch; set TERN_SLOW_TESTS=1")
def test_vde_tern_and_qemu_ping(guest_factory, vde_switch, tmp_path):
    qemu = shutil.which("qemu-system-riscv64")
    if not qemu:
        pytest.skip("qemu-system-riscv64 not installed")
    a = guest_factory(extra_args=("--net", f"vde,sock={vde_switch}"))
    log = open(tmp_path / "qemu.log", "wb")
    q = subprocess.Popen([qemu, "-M", "virt", "-m", "256M", "-nographic", "-kernel", str(IMAGE),
                          "-initrd", str(INITRD), "-append", "console=ttyS0",
                          "-netdev", f"vde,id=n0,sock={vde_switch}",
                          "-device", "virtio-net-device,netdev=n0,mac=52:54:00:12:34:99"],
                         stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT)
    try:
        a.boot()
        set_ip(a, "eth0", "192.168.77.1")
        # QEMU's guest boots to the same /init; configure it blind, then let it ping.
        deadline = time.monotonic() + 300
        while b"TERN-GUEST-READY" not in (tmp_path / "qemu.log").read_bytes():
            assert q.poll() is None and time.monotonic() < deadline, "QEMU guest did not boot"
            time.sleep(1)
        q.stdin.write(b"ip link; ip addr add 192.168.77.2/24 dev eth0; ip link set eth0 up\n")
        q.stdin.write(b"sleep 2; ping -c 3 -W 10 192.168.77.1 && echo QEMU-PING-\"\"OK\n")
        q.stdin.flush()
        assert " 0% packet loss" in a.run("ping -c 3 -W 10 192.168.77.2", timeout=120)
        deadline = time.monotonic() + 120
        while b"QEMU-PING-OK" not in (tmp_path / "qemu.log").read_bytes():
            assert time.monotonic() < deadline, "QEMU guest could not ping tern's"
            time.sleep(1)
    finally:
        q.kill()
        q.wait(10)
        log.close()


# ---- TAP ----------------------------------------------------------------------

@pytest.fixture
def netns_with_tap(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("the tap test creates a network namespace and a tap device: needs root")
    ns = f"tern-test-{os.getpid()}"
    r = subprocess.run(["ip", "netns", "add", ns], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot create a network namespace here: {r.stderr.strip()}")
    try:
        for cmd in (["ip", "tuntap", "add", "dev", "ttap0", "mode", "tap"],
                    ["ip", "addr", "add", "192.168.78.1/24", "dev", "ttap0"],
                    ["ip", "link", "set", "ttap0", "up"],
                    ["ip", "link", "set", "lo", "up"]):
            subprocess.run(["ip", "netns", "exec", ns, *cmd], check=True, capture_output=True)
        wrapper = tmp_path / "tern-in-ns"
        wrapper.write_text(f"#!/bin/sh\nexec ip netns exec {ns} {TERN} \"$@\"\n")
        wrapper.chmod(0o755)
        yield ns, wrapper
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def test_tap_in_netns(guest_factory, netns_with_tap, monkeypatch):
    ns, wrapper = netns_with_tap
    monkeypatch.setattr(conftest, "TERN", wrapper)
    g = guest_factory(extra_args=("--net", "tap,ifname=ttap0"))
    g.boot()
    set_ip(g, "eth0", "192.168.78.2")
    assert " 0% packet loss" in g.run("ping -c 3 -W 10 192.168.78.1", timeout=120)
    # And the host end reaches a guest service (python, as ping may be absent).
    g.run(f"mkdir -p {GUEST_WWW} && echo tap-ok > {GUEST_WWW}/t.txt && httpd -p 80 -h {GUEST_WWW}")
    fetch = "import urllib.request; print(urllib.request.urlopen('http://192.168.78.2/t.txt', timeout=30).read().decode(), end='')"
    r = subprocess.run(["ip", "netns", "exec", ns, "/usr/bin/python3", "-c", fetch],
                       capture_output=True, text=True, timeout=90)
    assert r.returncode == 0 and r.stdout == "tap-ok\n", r.stdout + r.stderr


# ---- bad input ------------------------------------------------------------------

def run_with_net(*net_args, prefix=()):
    return subprocess.run([*prefix, str(TERN), "run", "--kernel", str(IMAGE), "--initrd", str(INITRD),
                           *net_args], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=60)


def assert_one_line_error(p, needle, codes=(1, 2)):
    assert p.returncode in codes, (p.returncode, p.stderr)
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and needle in lines[0], p.stderr


@pytest.mark.parametrize("spec, needle", [
    ("bogus", "unknown backend 'bogus'"),
    ("", "no backend"),
    ("user,mac=52:54:00:12:34", "bad mac"),
    ("user,mac=01:00:5e:00:00:01", "bad mac"),        # multicast
    ("user,mac=zz:54:00:12:34:56", "bad mac"),
    ("user,hostfwd=tcp:8080:80", "bad hostfwd"),
    ("user,hostfwd=tcp::0-:80", "bad hostfwd"),
    ("user,hostfwd=sctp::8080-:80", "bad hostfwd"),
    ("user,hostfwd=tcp:1.2.3:8080-:80", "bad hostfwd"),
    ("user,sock=/x", "unknown key 'sock'"),
    ("vde", "needs sock=PATH"),
    ("tap", "needs ifname=NAME"),
    ("tap,ifname=waytoolongname0123", "1 to 15 characters"),
    ("user,novalue", "not key=value"),
])
def test_bad_net_options(spec, needle):
    require_tern()
    require_kit()
    assert_one_line_error(run_with_net("--net", spec), needle, codes=(2,))


def test_too_many_nics():
    require_tern()
    require_kit()
    assert_one_line_error(run_with_net(*["--net", "user"] * 5), "at most 4", codes=(2,))


def test_missing_vde_socket(tmp_path):
    require_tern()
    require_kit()
    p = run_with_net("--net", f"vde,sock={tmp_path}/no-such-switch")
    assert_one_line_error(p, "cannot connect to the switch", codes=(1,))


def test_hostfwd_port_in_use():
    require_tern()
    require_kit()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = run_with_net("--net", f"user,hostfwd=tcp:127.0.0.1:{port}-:80")
    assert_one_line_error(p, f"cannot forward host tcp 127.0.0.1:{port}", codes=(1,))


def test_tap_without_permission():
    require_tern()
    require_kit()
    prefix = ()
    if os.geteuid() == 0:
        # As root the tap would be created: drop to nobody for this check.
        if not shutil.which("setpriv"):
            pytest.skip("setpriv (util-linux) missing")
        prefix = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
    p = run_with_net("--net", "tap,ifname=terntest0", prefix=prefix)
    assert_one_line_error(p, "--net tap: cannot", codes=(1,))
    assert "tap 'terntest0'" in p.stderr or "/dev/net/tun" in p.stderr


def test_help_documents_net():
    require_tern()
    p = subprocess.run([str(TERN), "run", "--help"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0
    for word in ("--net", "user", "hostfwd", "vde,sock=PATH", "tap,ifname=NAME"):
        assert word in p.stdout, word
