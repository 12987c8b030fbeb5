# netns.py: the harness for tests of several hosts on one machine. `Agent`
# runs one ternd (optionally inside a network namespace) and talks to its API
# with curl; `Cluster` builds N hosts as network namespaces joined by a
# bridge in a namespace of its own, which also runs one etcd. Addresses come
# from a private /24 used only inside these namespaces. Everything started is
# stopped by pid, and the namespaces are deleted, in close().
import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import IMAGE, INITRD, REPO, TERN, require_kit, require_tern

TERND = REPO / "build" / "ternd"


def require_ternd(kit=True):
    """Fails the test unless tern and ternd are built (and the guest kit,
    with kit)."""
    require_tern()
    if kit:
        require_kit()
    if not TERND.is_file():
        pytest.fail(f"{TERND} is not built (run `make`)")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def dirty_spec(memory="256M"):
    """A guest that counts: /bench/dirty prints DIRTY tick=N every second."""
    return {"kernel": str(IMAGE), "initrd": str(INITRD), "memory": memory,
            "append": "console=ttyS0 tern.bench=dirty"}


def wait_until(pred, timeout, what, step=0.2):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)


class Agent:
    def __init__(self, name, address, port, state_dir, etcd=None, ns=None, extra=(), log_dir=None, tls_dir=None):
        self.name, self.address, self.port = name, address, port
        self.tls_dir = Path(tls_dir) if tls_dir else None
        self.state_dir = Path(state_dir)
        self.log_path = Path(log_dir or self.state_dir.parent) / f"ternd-{name}.log"
        self.etcd, self.ns, self.extra = etcd, ns, list(extra)
        self.prefix = ["ip", "netns", "exec", ns] if ns else []
        self.url = f"{'https' if tls_dir else 'http'}://{address}:{port}"
        self.proc = None
        self.log = None

    def argv(self):
        a = [str(TERND), "--host", self.name, "--listen", f"{self.address}:{self.port}",
             "--state-dir", str(self.state_dir), *self.extra]
        if self.etcd:
            a += ["--etcd", self.etcd]
        if self.tls_dir:
            a += ["--tls-dir", str(self.tls_dir)]
        elif not self.address.startswith("127."):
            a += ["--allow-plain-http"]
        return [*self.prefix, *a]

    def start(self, timeout=30):
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv(), stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(lambda: self.proc.poll() is not None or self.api("GET", "/api/v1/hosts", token=False)[0] == 401,
                   timeout, f"ternd {self.name} to serve")
        assert self.proc.poll() is None, self.log_text()
        return self

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log:
            self.log.close()
            self.log = None

    @property
    def token(self):
        return (self.state_dir / "token").read_text().strip()

    def curl(self, *args, timeout=60):
        # With TLS, a client the way the CLI is: the cluster CA, no certificate.
        tls = ["--cacert", str(self.tls_dir / "ca.crt")] if self.tls_dir else []
        r = subprocess.run([*self.prefix, "curl", "-s", "-m", str(timeout), *tls, *args],
                           capture_output=True, text=True, timeout=timeout + 10)
        return r.stdout

    def api(self, method, path, body=None, token=True, headers=(), timeout=60):
        """(status, parsed JSON or None)."""
        args = ["-X", method, "-w", "\n%{http_code}", "-H", "Content-Type: application/json"]
        if token:
            args += ["-H", f"Authorization: Bearer {token if isinstance(token, str) else self.token}"]
        for h in headers:
            args += ["-H", h]
        if body is not None:
            args += ["--data-binary", json.dumps(body)]
        out = self.curl(*args, self.url + path, timeout=timeout)
        text, _, code = out.rpartition("\n")
        try:
            data = json.loads(text) if text.strip() else None
        except ValueError:
            data = text
        return int(code or 0), data

    # -- VMs on this host ---------------------------------------------------
    def vm_pid(self, vm):
        try:
            return int((self.state_dir / "vms" / vm / "pid").read_text())
        except (OSError, ValueError):
            return None

    def console(self, vm):
        try:
            return (self.state_dir / "vms" / vm / "console.log").read_text(errors="replace")
        except OSError:
            return ""

    def ticks(self, vm):
        import re
        return [int(x) for x in re.findall(r"^DIRTY tick=(\d+) ", self.console(vm), re.M)]

    def switch_pids(self):
        """vde_switch and vde_plug processes of this agent's project switches."""
        mark = f"{self.state_dir}/sw/".encode()
        pids = []
        for d in Path("/proc").iterdir():
            try:
                if d.name.isdigit() and mark in (d / "cmdline").read_bytes():
                    pids.append(int(d.name))
            except OSError:
                pass
        return pids

    def kill_vms(self):
        """Ends every VM this agent's state dir knows of (by pid), and its
        project switches."""
        for pid in self.switch_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for p in (self.state_dir / "vms").glob("*/pid"):
            try:
                pid = int(p.read_text())
                if f"{self.state_dir}/vms/".encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGKILL)
            except (OSError, ValueError):
                pass


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


RARP_COUNTER = r"""
import signal, socket, sys
mac = bytes.fromhex(sys.argv[1].replace(":", ""))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x8035))
s.bind(("br0", 0))
s.settimeout(float(sys.argv[2]))
n = 0
def done(*_):
    print(n, flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, done)
try:
    while True:
        f = s.recv(2048)
        if f[6:12] == mac and f[12:14] == b"\x80\x35":
            n += 1
except socket.timeout:
    pass
done()
"""


class Cluster:
    """N hosts h1..hN as network namespaces on one bridge, one etcd."""

    def __init__(self, tmp_path, n=3, tls=False, extra=(), host_extra=None):
        tag = f"{os.getpid() % 100000}"
        self.tmp = Path(tmp_path)
        self.brns = f"tb{tag}"
        self.nss = [f"th{tag}x{i}" for i in range(1, n + 1)]
        net = 100 + os.getpid() % 150
        self.prefix = f"10.231.{net}"
        self.etcd_url = f"http://{self.prefix}.254:2379"
        self.etcd = None
        self.agents = []
        self._made = []
        try:
            self._net(n)
            self._etcd()
            self.pki = self.tmp / "pki" if tls else None
            if tls:
                self._tern_ok("pki", "init", "--dir", self.pki)
                for i in range(1, n + 1):
                    self._tern_ok("pki", "host", f"h{i}", "--dir", self.pki, "--ip", f"{self.prefix}.{i}")
            for i in range(1, n + 1):
                sd = Path(f"/tmp/tn{tag}h{i}")   # short: control socket paths
                subprocess.run(["rm", "-rf", str(sd)])
                # Sockets per host: three hosts share this machine's /run/tern.
                power = ["--power-cmd-standby", f"touch {sd}.standby", "--power-cmd-wake", f"touch {sd}.wake",
                         "--qmp-dir", f"{sd}/qmp", *extra, *(host_extra(i) if host_extra else ())]
                a = Agent(f"h{i}", f"{self.prefix}.{i}", 8006, sd, etcd=self.etcd_url, ns=self.nss[i - 1],
                          extra=power, log_dir=self.tmp,
                          tls_dir=self.pki / "hosts" / f"h{i}" if tls else None)
                self.agents.append(a)
                a.start()
        except BaseException:
            self.close()
            raise

    def _tern_ok(self, *args):
        r = subprocess.run([str(TERN), *map(str, args)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr

    def _ip(self, *args):
        subprocess.run(["ip", *args], check=True, capture_output=True)

    def _net(self, n):
        self._ip("netns", "add", self.brns)
        self._made.append(self.brns)
        self._ip("-n", self.brns, "link", "set", "lo", "up")
        self._ip("-n", self.brns, "link", "add", "br0", "type", "bridge")
        self._ip("-n", self.brns, "addr", "add", f"{self.prefix}.254/24", "dev", "br0")
        self._ip("-n", self.brns, "link", "set", "br0", "up")
        for i, ns in enumerate(self.nss, 1):
            self._ip("netns", "add", ns)
            self._made.append(ns)
            self._ip("-n", ns, "link", "set", "lo", "up")
            self._ip("link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", f"p{i}",
                     "netns", self.brns)
            # Each host bridges its uplink with its VMs' taps (vmbr), so
            # guests on different hosts share one segment.
            self._ip("-n", ns, "link", "add", "vmbr", "type", "bridge")
            self._ip("-n", ns, "link", "set", "eth0", "master", "vmbr")
            self._ip("-n", ns, "addr", "add", f"{self.prefix}.{i}/24", "dev", "vmbr")
            self._ip("-n", ns, "link", "set", "eth0", "up")
            self._ip("-n", ns, "link", "set", "vmbr", "up")
            self._ip("-n", self.brns, "link", "set", f"p{i}", "master", "br0")
            self._ip("-n", self.brns, "link", "set", f"p{i}", "up")

    def _etcd(self):
        d = self.tmp / "etcd"
        d.mkdir(exist_ok=True)
        c, p = f"http://{self.prefix}.254:2379", f"http://{self.prefix}.254:2380"
        self.etcd_log = open(self.tmp / "etcd.log", "ab")
        self.etcd = subprocess.Popen(
            ["ip", "netns", "exec", self.brns, "etcd", "--name", "t", "--data-dir", str(d / "data"),
             "--listen-client-urls", c, "--advertise-client-urls", c, "--listen-peer-urls", p,
             "--initial-advertise-peer-urls", p, "--initial-cluster", f"t={p}"],
            stdout=self.etcd_log, stderr=subprocess.STDOUT)
        wait_until(lambda: subprocess.run(
            ["ip", "netns", "exec", self.brns, "curl", "-s", "-m", "1", "-X", "POST", c + "/v3/kv/range",
             "-d", '{"key":"AA=="}'], capture_output=True, text=True).stdout.startswith("{"),
            30, "etcd to answer")

    def add_tap(self, host, name):
        """A persistent tap on host's bridge, for `--net tap,ifname=NAME`."""
        ns = self.nss[int(host[1:]) - 1]
        self._ip("-n", ns, "tuntap", "add", "dev", name, "mode", "tap")
        self._ip("-n", ns, "link", "set", name, "master", "vmbr")
        self._ip("-n", ns, "link", "set", name, "up")

    def pingable_vm(self, name, host, taps_on, mac):
        """A counting guest on host with a NIC on a tap (made on every host
        in taps_on) on the hosts' shared segment; returns the IPv6
        link-local address that answers pings (tern.net=dhcp brings eth0 up;
        there is no DHCP server here, link-local is enough)."""
        for h in taps_on:
            self.add_tap(h, f"tp{name}"[:15])
        spec = dirty_spec()
        spec["nets"] = [f"tap,ifname={f'tp{name}'[:15]},mac={mac}"]
        spec["append"] = "console=ttyS0 tern.net=dhcp tern.bench=dirty"
        a = self.agent(host)
        st, body = a.api("POST", "/api/v1/vms", {"name": name, "spec": spec})
        assert st == 201, body
        wait_until(lambda: len(a.ticks(name)) >= 2, 300, f"{name} to count")
        b = bytes.fromhex(mac.replace(":", ""))
        ll = "fe80::%x:%x:%x:%x%%vmbr" % ((b[0] ^ 2) << 8 | b[1], b[2] << 8 | 0xff, 0xfe00 | b[3],
                                          b[4] << 8 | b[5])
        wait_until(lambda: subprocess.run(["ip", "netns", "exec", self.nss[-1], "ping", "-6", "-c", "1", "-W", "1",
                                           ll], capture_output=True).returncode == 0, 60, f"{name} to answer pings")
        return {"ll": ll, "mac": mac}

    def migrate_with_ping(self, name, src, to, target):
        """Migrates name from src to `to` while the last host pings it every
        10 ms; counts the RARP announces on the central bridge. Returns the
        longest gap between replies around the migration, the VM's downtime
        and total time, and the client's view of the total."""
        ping = subprocess.Popen(["ip", "netns", "exec", self.nss[-1], "ping", "-6", "-D", "-i", "0.01", "-W", "1",
                                 target["ll"]], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        capture = subprocess.Popen(["ip", "netns", "exec", self.brns, "/usr/bin/python3", "-c", RARP_COUNTER,
                                    target["mac"], "60"], stdout=subprocess.PIPE, text=True)
        a = self.agent(src)
        try:
            time.sleep(1)
            t0 = time.time()
            st, body = a.api("POST", f"/api/v1/vms/{name}/migrate", {"to": to})
            assert st == 202, body
            rep = wait_until(lambda: (lambda r: r[1] if r[0] == 200 and r[1]["status"] in ("completed", "failed")
                                      else None)(a.api("GET", f"/api/v1/vms/{name}/migration")),
                             300, f"the migration of {name}")
            t1 = time.time()
            time.sleep(2)
        finally:
            ping.terminate()
            out = ping.communicate(timeout=10)[0]
            capture.terminate()
            rarps = int(capture.communicate(timeout=10)[0].strip() or 0)
        assert rep["status"] == "completed", rep
        replies = [float(m.group(1)) for m in
                   re.finditer(r"^\[(\d+\.\d+)\] \d+ bytes from .* icmp_seq=", out, re.M)]
        assert replies and replies[-1] > t1, out[-500:]
        during = [t for t in replies if t0 - 0.5 <= t <= t1 + 2]
        gap = max(b - a for a, b in zip(during, during[1:]))
        return {"gap_ms": gap * 1000, "downtime_ms": rep["progress"]["downtime"],
                "total_ms": rep["progress"]["total-time"], "client_s": t1 - t0, "replies": len(replies),
                "rarps": rarps}

    def etcd_stop(self):
        self.etcd.terminate()
        self.etcd.wait(timeout=20)

    def etcd_start(self):
        self._etcd()

    def agent(self, name):
        return next(a for a in self.agents if a.name == name)

    def tern(self, *args, ns=0, timeout=600):
        """`tern ARGS` run on host ns+1 with the cluster's etcd."""
        env = dict(os.environ, TERN_ETCD=self.etcd_url)
        return subprocess.run(["ip", "netns", "exec", self.nss[ns], str(TERN), *map(str, args)],
                              capture_output=True, text=True, env=env, timeout=timeout)

    def hosts(self):
        r = self.tern("host", "list", "--json")
        assert r.returncode == 0, r.stderr
        return {h["name"]: h for h in json.loads(r.stdout)["hosts"]}

    def close(self):
        for a in self.agents:
            a.stop()
        for a in self.agents:
            a.kill_vms()
        if self.etcd and self.etcd.poll() is None:
            self.etcd.terminate()
            try:
                self.etcd.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.etcd.kill()
        for ns in reversed(self._made):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        for a in self.agents:
            subprocess.run(["rm", "-rf", str(a.state_dir), f"{a.state_dir}.standby", f"{a.state_dir}.wake"])
