# test_hosts_tls.py: three hosts whose agents run with --tls-dir (host
# folders from `tern pki`): the API is HTTPS (the CLI verifies agents with
# the CA it finds in etcd), agents call each other with their host
# certificates, a project spans two hosts over a TLS switch cable, and a
# machine migrates between them over TLS. A client certificate from another
# CA is refused in the handshake, before any request is read.
import os
import subprocess

import pytest

from conftest import IMAGE, INITRD, TERN
from netns import Cluster, TERND, wait_until, require_ternd


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    require_ternd()
    c = Cluster(tmp_path_factory.mktemp("tlscluster"), n=3, tls=True)
    yield c
    c.close()


def test_https_only_and_other_ca_refused(cluster, tmp_path):
    a = cluster.agents[0]
    assert a.url.startswith("https://")
    assert a.api("GET", "/api/v1/hosts")[0] == 200
    assert a.api("GET", "/api/v1/hosts", token=False)[0] == 401
    # Plain HTTP to the HTTPS port gets no answer.
    assert a.curl("-o", "/dev/null", "-w", "%{http_code}", f"http://{a.address}:{a.port}/api/v1/hosts") in ("000", "")
    # A certificate from another CA: refused in the handshake.
    evil = tmp_path / "evil"
    for args in (("pki", "init", "--dir", evil), ("pki", "host", "h9", "--dir", evil)):
        r = subprocess.run([str(TERN), *map(str, args)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    h9 = evil / "hosts" / "h9"
    r = subprocess.run(["ip", "netns", "exec", cluster.nss[1], "curl", "-s", "-m", "10", "--cacert",
                        str(a.tls_dir / "ca.crt"), "--cert", str(h9 / "host.crt"), "--key", str(h9 / "host.key"),
                        "-H", f"Authorization: Bearer {a.token}", "-X", "POST", "-d", "{}",
                        f"{a.url}/api/v1/hosts/h1/standby"], capture_output=True, text=True)
    assert r.returncode != 0 and r.stdout == "", (r.returncode, r.stdout)
    assert "a client was refused" in a.log_text() and "certificate" in a.log_text()
    assert cluster.hosts()["h1"]["power"] == "on"      # nothing moved
    # The server's certificate is checked too: another CA's agent is not trusted.
    r = subprocess.run(["ip", "netns", "exec", cluster.nss[1], "curl", "-s", "-m", "10", "--cacert",
                        str(h9 / "ca.crt"), f"{a.url}/api/v1/hosts"], capture_output=True, text=True)
    assert r.returncode == 60, r.returncode           # peer certificate cannot be verified
    # A non-loopback agent without --tls-dir (or --allow-plain-http) does not start.
    r = subprocess.run(["ip", "netns", "exec", cluster.nss[2], str(TERND), "--host", "hx", "--listen",
                        f"{cluster.prefix}.3:8099", "--state-dir", str(tmp_path / "hx")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "--tls-dir" in r.stderr, r.stderr


def test_cluster_over_tls(cluster, tmp_path):
    name = f"tl{os.getpid() % 10000}"
    f = tmp_path / "p.xml"
    f.write_text(f"""<?xml version="1.0"?>
<!DOCTYPE project SYSTEM "tern-cluster.dtd">
<project name="{name}">
  <template name="kit" memory="256M">
    <kernel path="{IMAGE}"/>
    <initrd path="{INITRD}"/>
  </template>
  <switch name="lan0"/>
  <machine name="m1" template="kit" host="h1" priority="1">
    <append>console=ttyS0 tern.ip=10.78.0.1/24 tern.bench=dirty</append><nic switch="lan0"/></machine>
  <machine name="m2" template="kit" host="h2" priority="2">
    <append>console=ttyS0 tern.ip=10.78.0.2/24 tern.bench=dirty</append><nic switch="lan0"/></machine>
</project>
""")
    folder = f"/tmp/txt{os.getpid()}"
    subprocess.run(["rm", "-rf", folder])
    probe = None
    try:
        # The CLI has only the etcd URL: it trusts the CA the agents publish there.
        r = cluster.tern("cluster", "up", f, "--dir", folder, timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr
        h1, h2 = cluster.agent("h1"), cluster.agent("h2")
        for a, m in ((h1, "m1"), (h2, "m2")):
            wait_until(lambda: len(a.ticks(f"{name}.{m}")) >= 2, 240, f"{m} to count")
        assert "cable to the hub" in h2.log_text()
        # The switch spans h1 and h2 over the TLS cable: a probe on h2's switch reaches m1.
        ns2 = cluster.nss[1]
        sock = h2.state_dir / "sw" / f"{name}.lan0"
        probe = subprocess.Popen(["ip", "netns", "exec", ns2, "vde_plug", f"vde://{sock}", "tap://tprobe"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: subprocess.run(["ip", "-n", ns2, "link", "show", "tprobe"],
                                          capture_output=True).returncode == 0, 20, "the probe's tap")
        subprocess.run(["ip", "-n", ns2, "addr", "add", "10.78.0.99/24", "dev", "tprobe"], check=True)
        subprocess.run(["ip", "-n", ns2, "link", "set", "tprobe", "up"], check=True)
        wait_until(lambda: subprocess.run(["ip", "netns", "exec", ns2, "ping", "-c", "1", "-W", "1", "10.78.0.1"],
                                          capture_output=True).returncode == 0, 60, "m1 to answer over the TLS cable")
        # Live migration between the agents: the API calls and the stream are TLS.
        before = max(h1.ticks(f"{name}.m1"))
        r = cluster.tern("cluster", "migrate", name, "m1", "--to", "h2", timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr
        wait_until(lambda: h2.ticks(f"{name}.m1") and max(h2.ticks(f"{name}.m1")) > before + 2, 60,
                   "m1 to count on h2")
        assert "verify=FAIL" not in h2.console(f"{name}.m1")
        cmd = open(f"/proc/{h2.vm_pid(f'{name}.m1')}/cmdline", "rb").read().split(b"\0")
        assert b"--migrate-tls" in cmd, cmd
    finally:
        if probe:
            probe.terminate()
            probe.wait(timeout=10)
        cluster.tern("cluster", "down", name, timeout=120)
        for a in cluster.agents:
            a.kill_vms()
        subprocess.run(["rm", "-rf", folder])
