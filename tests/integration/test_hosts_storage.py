# test_hosts_storage.py: storage migration between hosts that share no
# storage (issue 12, "--copy-storage"). Three hosts as network namespaces
# with a ternd each and one etcd (netns.Cluster); each agent has its own
# images folder (ternd --images) with a copy of the base image, h3's with
# one byte changed. A VM on h1 with a qcow2 overlay over its base writes
# 64 MiB of random data, then keeps writing while it migrates to h2 with
# copy_storage; the guest's own checksums match afterwards, the source
# overlay is deleted and the record names h2's copy. Moving it on to h3 is
# refused (the base differs) and it keeps running on h2, its disk intact.
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import IMAGE, INITRD, make_disk, require_kit, require_tern, run_tern
from netns import Cluster, TERND, pid_alive, wait_until
from test_cluster import Console
from test_copy_storage import WRITER

DATA_MB = 64


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    require_tern()
    require_kit()
    if not TERND.is_file():
        pytest.fail(f"{TERND} is not built (run `make`)")
    tmp = tmp_path_factory.mktemp("storage")
    base = make_disk(tmp, name="base.img", size="128M")
    for i in (1, 2, 3):
        (tmp / f"img{i}").mkdir()
        shutil.copy(base, tmp / f"img{i}" / "base.img")
    with open(tmp / "img3" / "base.img", "r+b") as f:
        f.seek(100 << 20)
        f.write(b"X")
    c = Cluster(tmp, n=3, host_extra=lambda i: ["--images", str(tmp / f"img{i}")])
    yield c, tmp
    c.close()


def console(agent, vm):
    c = Console(agent.state_dir / "vms" / vm / "console.sock")
    c.sock.sendall(b"\n")
    c.run("dmesg -n 1")
    return c


def run(con, cmd, timeout=120):
    out, rc = con.run(cmd, timeout)
    assert rc == 0, out
    return out


def sha(text):
    return re.search(r"\b([0-9a-f]{64})\b", text).group(1)


def migrate(src, vm, to, **opts):
    st, body = src.api("POST", f"/api/v1/vms/{vm}/migrate", {"to": to, **opts})
    assert st == 202, body
    return wait_until(lambda: (lambda r: r[1] if r[0] == 200 and r[1]["status"] in ("completed", "failed")
                               else None)(src.api("GET", f"/api/v1/vms/{vm}/migration")),
                      600, f"the migration of {vm}")


def record(c, vm):
    st, body = c.agents[0].api("GET", f"/api/v1/vms/{vm}")
    assert st == 200, body
    return body


def test_copy_storage_across_hosts(cluster):
    c, tmp = cluster
    h1, h2, h3 = c.agent("h1"), c.agent("h2"), c.agent("h3")
    (tmp / "h1disks").mkdir()
    ov = tmp / "h1disks" / "st1.qcow2"
    r = run_tern("image", "create", "-f", "qcow2", "-b", str(tmp / "img1" / "base.img"), "-F", "raw", str(ov))
    assert r.returncode == 0, r.stderr
    spec = {"kernel": str(IMAGE), "initrd": str(INITRD), "memory": "256M", "append": "console=ttyS0",
            "disks": [f"file={ov},format=qcow2"]}
    st, body = h1.api("POST", "/api/v1/vms", {"name": "st1", "host": "h1", "spec": spec})
    assert st == 201, body
    wait_until(lambda: "TERN-GUEST-READY" in h1.console("st1"), 300, "st1 to boot")
    con = console(h1, "st1")
    # 64 MiB of random data into the overlay, then a writer that goes on.
    run(con, f"dd if=/dev/urandom of=/dev/vda bs=1M seek=40 count={DATA_MB} conv=fsync 2>/dev/null; "
             "dd if=/dev/zero of=/tmp/mirror bs=65536 count=32 2>/dev/null; "
             "dd if=/tmp/mirror of=/dev/vda bs=65536 seek=256 count=32 conv=fsync 2>/dev/null", timeout=300)
    before = sha(run(con, f"dd if=/dev/vda bs=1M skip=40 count={DATA_MB} 2>/dev/null | sha256sum"))
    con.sock.sendall(f"({WRITER}) > /tmp/writer.log 2>&1 &\n".encode())
    time.sleep(1)
    con.close()
    pid = h1.vm_pid("st1")
    t0 = time.monotonic()
    rep = migrate(h1, "st1", "h2", copy_storage=True)
    took = time.monotonic() - t0
    assert rep["status"] == "completed", rep
    p = rep["progress"]
    print(f"\ncopy-storage migration h1 -> h2 of {DATA_MB} MiB written: {took:.2f} s seen by the client, "
          f"{p['total-time']} ms in the VMM, downtime {p['downtime']} ms (disk share "
          f"{p['x-downtime-breakdown'].get('disk')} ms); disk {p['disk']['total'] >> 20} MiB held, "
          f"{p['disk']['transferred'] >> 20} MiB sent; {p['ram']['transferred'] >> 20} MiB in the stream in all")
    assert p["disk"]["total"] >= DATA_MB << 20, p
    # The record follows: h2, and h2's copy.
    rec = record(c, "st1")
    assert rec["host"] == "h2"
    disk = rec["spec"]["disks"][0]
    assert str(h2.state_dir) in disk and "format=qcow2" in disk, rec
    copy = re.search(r"file=([^,]+)", disk).group(1)
    wait_until(lambda: not pid_alive(pid), 20, "the source VM to end")
    assert not ov.exists(), "the source overlay was not released"
    assert (tmp / "img1" / "base.img").exists()      # the base stays
    # The guest reads its disk back on h2 (page cache dropped).
    con = console(h2, "st1")
    run(con, "touch /tmp/stop; while ! grep -q WRITER-DONE /tmp/writer.log; do sleep 0.2; done; "
             "sync; echo 3 > /proc/sys/vm/drop_caches")
    after = sha(run(con, f"dd if=/dev/vda bs=1M skip=40 count={DATA_MB} 2>/dev/null | sha256sum"))
    assert after == before
    region = sha(run(con, "dd if=/dev/vda bs=65536 skip=256 count=32 2>/dev/null | sha256sum"))
    assert region == sha(run(con, "sha256sum < /tmp/mirror"))
    n = int(re.search(r"WRITER-DONE (\d+)", run(con, "cat /tmp/writer.log")).group(1))
    assert n > 32, n
    con.close()
    # h2's copy lies over h2's own base (ternd --images).
    assert str(tmp / "img2" / "base.img").encode() in open(copy, "rb").read(4096)

    # h3's base differs: refused before any RAM moved; st1 stays on h2.
    pid2 = h2.vm_pid("st1")
    rep = migrate(h2, "st1", "h3", copy_storage=True)
    assert rep["status"] == "failed", rep
    assert "differs from the source's" in rep["error"] and str(tmp / "img3" / "base.img") in rep["error"], rep
    assert rep["progress"]["ram"]["normal"] == 0, rep["progress"]
    assert record(c, "st1")["host"] == "h2"
    assert pid_alive(pid2) and (h2.state_dir / "vms" / "st1").exists()
    assert not list((h3.state_dir / "vms" / "st1").glob("disk*"))     # no partial copy left
    assert os.path.exists(copy)
    con = console(h2, "st1")
    assert sha(run(con, f"dd if=/dev/vda bs=1M skip=40 count={DATA_MB} 2>/dev/null | sha256sum")) == before
    con.close()


def test_destination_killed_mid_copy(cluster):
    """The destination VM dies while the disk is being copied (slowed to
    2 MB/s): st1 runs on at h2 with its disk, and h1 keeps no partial copy."""
    c, tmp = cluster
    h1, h2 = c.agent("h1"), c.agent("h2")
    copy = re.search(r"file=([^,]+)", record(c, "st1")["spec"]["disks"][0]).group(1)
    st, body = h2.api("POST", "/api/v1/vms/st1/migrate", {"to": "h1", "copy_storage": True, "bandwidth": 2})
    assert st == 202, body
    wait_until(lambda: (h2.api("GET", "/api/v1/vms/st1/migration")[1].get("progress") or {})
               .get("disk", {}).get("transferred", 0) > (4 << 20), 60, "the disk copy to be under way")
    assert list((h1.state_dir / "vms" / "st1").glob("disk*")), "no copy being made on h1"
    subprocess.run(["kill", "-9", str(h1.vm_pid("st1"))])
    rep = wait_until(lambda: (lambda r: r[1] if r[1]["status"] in ("completed", "failed") else None)(
        h2.api("GET", "/api/v1/vms/st1/migration")), 90, "the migration to fail")
    assert rep["status"] == "failed", rep
    assert record(c, "st1")["host"] == "h2"
    wait_until(lambda: not list((h1.state_dir / "vms" / "st1").glob("disk*")), 30, "h1's partial copy to go")
    assert os.path.exists(copy)
    con = console(h2, "st1")
    run(con, "sync; echo 3 > /proc/sys/vm/drop_caches")
    con.close()


def test_evacuate_with_copy_storage(cluster):
    """`tern host evacuate h2 --copy-storage`: st1 goes to h1 (the first
    host by name with room; h1's base matches), with its disk."""
    c, tmp = cluster
    h1, h2 = c.agent("h1"), c.agent("h2")
    copy = re.search(r"file=([^,]+)", record(c, "st1")["spec"]["disks"][0]).group(1)
    con = console(h2, "st1")
    before = sha(run(con, f"dd if=/dev/vda bs=1M skip=40 count={DATA_MB} 2>/dev/null | sha256sum"))
    con.close()
    r = c.tern("host", "evacuate", "h2", "--copy-storage")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "empty" in r.stdout
    rec = record(c, "st1")
    assert rec["host"] == "h1" and str(h1.state_dir) in rec["spec"]["disks"][0], rec
    wait_until(lambda: not os.path.exists(copy), 20, "h2's copy to be released")
    con = console(h1, "st1")
    run(con, "sync; echo 3 > /proc/sys/vm/drop_caches")
    assert sha(run(con, f"dd if=/dev/vda bs=1M skip=40 count={DATA_MB} 2>/dev/null | sha256sum")) == before
    con.close()
    r = c.tern("host", "wake", "h2")
    assert r.returncode == 0, r.stderr
