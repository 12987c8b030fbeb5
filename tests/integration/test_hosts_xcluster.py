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
import time

import pytest

from conftest import IMAGE, INITRD, require_kit, require_tern
from netns import Cluster, TERND, wait_until


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    require_tern()
    require_kit()
    if not TERND.is_file():
        pytest.fail(f"{TERND} is not built (run `make`)")
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
  <machine name="db" template="kit" host="h2" priority="1"><ready delay="4"/></machine>
  <machine name="web1" template="kit" host="h3" priority="2"><depends on="db"/></machine>
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
        # The dependants became ready only after db's 4 s gate, across hosts.
        for m in ("web1", "web2"):
            assert ms[m]["ready_at"] >= ms["db"]["ready_at"], doc
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
