# test_hosts_xcluster.py: a cluster project placed across three hosts (three
# network namespaces with a ternd each, one etcd; netns.Cluster). Pins are
# honoured, the unpinned machine goes first-fit, a dependency on another host
# holds its dependants back until it is ready, `tern cluster status --json`
# names each machine's host, the guests count on the hosts the status names,
# `tern cluster migrate` moves one with progress, and the agents' clusters
# API lists the project and takes it down.
import json
import os
import subprocess

import pytest

from conftest import IMAGE, INITRD
from netns import Cluster, wait_until, require_ternd


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    require_ternd()
    c = Cluster(tmp_path_factory.mktemp("xcluster"), n=3)
    yield c
    c.close()


def project(path, name):
    path.write_text(f"""<?xml version="1.0"?>
<!DOCTYPE project SYSTEM "tern-cluster.dtd">
<project name="{name}">
  <template name="kit" memory="256M">
    <kernel path="{IMAGE}"/>
    <initrd path="{INITRD}"/>
    <append>console=ttyS0 tern.bench=dirty</append>
  </template>
  <machine name="db" template="kit" host="h2" priority="1"><ready console="DIRTY tick=3 "/></machine>
  <machine name="web1" template="kit" host="h3" priority="2"><depends on="db"/><ready delay="1"/></machine>
  <machine name="web2" template="kit" priority="2"><depends on="db"/></machine>
</project>
""")
    return path


def status(c, name):
    r = c.tern("cluster", "status", name, "--json", timeout=60)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    return doc, {m["name"]: m for m in doc["machines"]}


def test_up_across_hosts(cluster, tmp_path):
    name = f"xc{os.getpid() % 10000}"
    f = project(tmp_path / "p.xml", name)
    folder = f"/tmp/txc{os.getpid()}"
    subprocess.run(["rm", "-rf", folder])
    try:
        r = cluster.tern("cluster", "up", f, "--dir", folder, timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "db: on h2" in r.stdout and "web1: on h3" in r.stdout and "web2: on h1" in r.stdout, r.stdout
        doc, ms = status(cluster, name)
        assert {m: ms[m]["host"] for m in ms} == {"db": "h2", "web1": "h3", "web2": "h1"}, doc
        assert all(ms[m]["state"] == "running" for m in ms), doc
        # The dependants became ready only after db's console gate (its guest
        # printed tick 3, searched by h2's agent), across hosts.
        for m in ("web1", "web2"):
            assert ms[m]["ready_at"] >= ms["db"]["ready_at"], doc
        # The gate's question, asked of h1's agent, is passed on to h2's.
        for text, want in (("DIRTY%20tick%3D3%20", True), ("NEVER%20PRINTED", False)):
            st, body = cluster.agents[0].api("GET", f"/api/v1/vms/{name}.db/console-log?match={text}")
            assert st == 200 and body["match"] is want, (text, st, body)
        order = [l.split("] ", 1)[1] for l in r.stdout.splitlines() if "] " in l and "starting" in l]
        assert order[0].startswith("db:"), r.stdout
        # Each guest runs and counts on the host the status names.
        for m, h in (("db", "h2"), ("web1", "h3"), ("web2", "h1")):
            a = cluster.agent(h)
            wait_until(lambda: len(a.ticks(f"{name}.{m}")) >= 2, 240, f"{m} to count on {h}")
        # The dashboard's view, from any agent.
        st, body = cluster.agents[2].api("GET", "/api/v1/clusters")
        assert st == 200, body
        p = next(p for p in body["clusters"] if p["name"] == name)
        assert p["state"] == "running" and {m["name"]: m["host"] for m in p["machines"]} == \
            {"db": "h2", "web1": "h3", "web2": "h1"}, p
        assert all({"name", "priority", "host", "state", "ready_at"} <= set(m) for m in p["machines"]), p
        # Migrate web2 from h1 to h2 with progress; the status follows it.
        before = max(cluster.agent("h1").ticks(f"{name}.web2"))
        r = cluster.tern("cluster", "migrate", name, "web2", "--to", "h2", timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "web2: on h2" in r.stdout and "migrating from h1 to h2" in r.stderr, r.stderr
        wait_until(lambda: status(cluster, name)[1]["web2"]["state"] == "running", 30, "web2 to run on h2")
        doc, ms = status(cluster, name)
        assert ms["web2"]["host"] == "h2", doc
        a2 = cluster.agent("h2")
        wait_until(lambda: a2.ticks(f"{name}.web2") and max(a2.ticks(f"{name}.web2")) > before + 2, 60,
                   "web2 to count on h2")
        # Migrating to a host that does not exist is refused; web2 stays.
        r = cluster.tern("cluster", "migrate", name, "web2", "--to", "h9", timeout=120)
        assert r.returncode != 0 and "h9" in r.stderr, r.stderr
        # Down through the API: every VM of the project goes, then the record.
        st, body = cluster.agents[0].api("POST", f"/api/v1/clusters/{name}/down")
        assert st == 202, body
        wait_until(lambda: cluster.agents[0].api("GET", f"/api/v1/clusters/{name}")[0] == 404, 120,
                   "the project's record to go")
        st, vms = cluster.agents[0].api("GET", "/api/v1/vms")
        assert not [v for v in vms["vms"] if v["name"].startswith(name + ".")], vms
    finally:
        cluster.tern("cluster", "down", name, timeout=120)
        for a in cluster.agents:
            a.kill_vms()
        subprocess.run(["rm", "-rf", folder])


def test_up_refusals(cluster, tmp_path):
    f = tmp_path / "bad.xml"
    f.write_text(project(tmp_path / "p.xml", "xbad").read_text().replace('host="h3"', 'host="h7"'))
    r = cluster.tern("cluster", "up", f, "--dir", f"/tmp/txb{os.getpid()}", timeout=60)
    assert r.returncode == 1 and f"{f}:10: machine 'web1': no host 'h7'" in r.stderr, r.stderr
    r = cluster.tern("cluster", "up", f, "--capacity", "2", timeout=60)
    assert r.returncode == 2 and "--capacity" in r.stderr, r.stderr
    st, body = cluster.agents[0].api("POST", "/api/v1/clusters", {"file": "relative.xml"})
    assert st == 400 and "file" in body["error"], body
    st, body = cluster.agents[0].api("GET", "/api/v1/clusters/nosuch")
    assert st == 404, body
    # Through the API, what cannot be placed is refused at once, with why,
    # and nothing is recorded or started.
    st, body = cluster.agents[0].api("POST", "/api/v1/clusters", {"file": str(f)})
    assert st == 409 and f"{f}:10: machine 'web1': no host 'h7'" in body["error"], body
    assert cluster.agents[0].api("GET", "/api/v1/clusters/xbad")[0] == 404


def test_switch_spans_hosts(cluster, tmp_path):
    """One project switch over three hosts: each host's vde_switch is cabled
    to the hub's. A probe port on host 3's switch pings the guests on hosts
    1 and 2, before and after one of them migrates to host 3."""
    name = f"xs{os.getpid() % 10000}"
    machines = ""
    for i, h in ((1, "h1"), (2, "h2"), (3, "h3")):
        machines += (f'  <machine name="m{i}" template="kit" host="{h}" priority="{i}">\n'
                     f'    <append>console=ttyS0 tern.ip=10.77.0.{i}/24 tern.bench=dirty</append>\n'
                     f'    <nic switch="lan0"/>\n  </machine>\n')
    f = tmp_path / "s.xml"
    f.write_text(f"""<?xml version="1.0"?>
<!DOCTYPE project SYSTEM "tern-cluster.dtd">
<project name="{name}">
  <template name="kit" memory="256M">
    <kernel path="{IMAGE}"/>
    <initrd path="{INITRD}"/>
  </template>
  <switch name="lan0"/>
{machines}</project>
""")
    folder = f"/tmp/txs{os.getpid()}"
    subprocess.run(["rm", "-rf", folder])
    h3 = cluster.agent("h3")
    probe = None
    try:
        r = cluster.tern("cluster", "up", f, "--dir", folder, timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr
        for i, h in ((1, "h1"), (2, "h2"), (3, "h3")):
            a = cluster.agent(h)
            wait_until(lambda: "TERN-NET-UP eth0" in a.console(f"{name}.m{i}"), 240, f"m{i} to configure eth0")
        # m1 asked first: h1 is the hub; h2 and h3 are cabled to it.
        st, body = cluster.agents[0].api("GET", f"/api/v1/clusters/{name}")
        assert st == 200, body
        assert "cable to the hub" in cluster.agent("h2").log_text()
        sock = h3.state_dir / "sw" / f"{name}.lan0"
        assert (sock / "ctl").exists(), list((h3.state_dir / "sw").iterdir())
        ns3 = cluster.nss[2]
        probe = subprocess.Popen(["ip", "netns", "exec", ns3, "vde_plug", f"vde://{sock}", "tap://tprobe"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_until(lambda: subprocess.run(["ip", "-n", ns3, "link", "show", "tprobe"],
                                          capture_output=True).returncode == 0, 20, "the probe's tap")
        subprocess.run(["ip", "-n", ns3, "addr", "add", "10.77.0.99/24", "dev", "tprobe"], check=True)
        subprocess.run(["ip", "-n", ns3, "link", "set", "tprobe", "up"], check=True)

        def pings(addr):
            return subprocess.run(["ip", "netns", "exec", ns3, "ping", "-c", "1", "-W", "1", addr],
                                  capture_output=True).returncode == 0
        for addr in ("10.77.0.1", "10.77.0.2", "10.77.0.3"):
            wait_until(lambda: pings(addr), 60, f"{addr} to answer across hosts")
        # An address no guest has does not answer: the pings are real.
        assert not pings("10.77.0.77")
        # m2 moves from h2 to h1; it answers from there.
        r = cluster.tern("cluster", "migrate", name, "m2", "--to", "h1", timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr
        wait_until(lambda: pings("10.77.0.2"), 30, "m2 to answer after the migration")
        assert pings("10.77.0.1")
        # Down: the agents take their switches and cables away.
        r = cluster.tern("cluster", "down", name, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        for a in cluster.agents:
            wait_until(lambda: not (a.state_dir / "sw" / f"{name}.lan0").exists() and not a.switch_pids(), 20,
                       f"{a.name}'s switch and cable to go")
    finally:
        if probe:
            probe.terminate()
            probe.wait(timeout=10)
        cluster.tern("cluster", "down", name, timeout=120)
        for a in cluster.agents:
            a.kill_vms()
        subprocess.run(["rm", "-rf", folder])
