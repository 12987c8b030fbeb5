# test_migration.py: live migration over TCP, as the guest sees it. A guest
# program (/bench/dirty) fills memory with per-page patterns, keeps
# rewriting a hot set, verifies every page each second and prints a tick
# counter. After a migration the destination's guest must go on verifying
# (verify=ok) with the counter only moving forward, in every mode; failures
# (a wrong key, a destination that dies, a cancel, a hostile stream) must
# leave the source running and keep the destination from running anything.
import hashlib
import hmac
import itertools
import os
import re
import shutil
import socket
import struct
import subprocess
import time

import pytest

from conftest import sock_of, Guest, make_disk, run_tern, TERN
from qmp_client import QMP, wait_socket

_n = itertools.count(1)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def vm_name(tag):
    return f"mig{tag}-{os.getpid()}-{next(_n)}"


@pytest.fixture
def key(tmp_path):
    k = tmp_path / "key"
    k.write_bytes(os.urandom(32))
    k.chmod(0o600)
    return k


def ticks(text):
    return [int(x) for x in re.findall(r"^DIRTY tick=(\d+) ", text, re.M)]


def run_unticked(g, cmd):
    """A command's console output without the lines that background jobs
    print on the same console (they can land between its lines): /bench/dirty's
    DIRTY ticks and the SMP test's PAR-RUN lines."""
    return re.sub(r"^(DIRTY tick=|PAR-RUN$).*\n", "", g.run(cmd), flags=re.M)


def start_source(guest_factory, key, name, total=32, hot=8, prefix=(), extra=(), args=""):
    g = guest_factory(extra_args=("--name", name, "--migrate-key", key, *extra), prefix=prefix)
    g.boot()
    g.run("dmesg -n 1")
    g.send(f"/bench/dirty {total} {hot} {args}&\n")
    g.wait_for(r"^DIRTY tick=2 ", timeout=60)
    wait_socket(sock_of(name), g.proc)
    return g


def start_dest(guest_factory, key, name, port, host="127.0.0.1", prefix=()):
    return guest_factory(argv=("run", "--incoming", f"tcp:{host}:{port}", "--migrate-key", key,
                               "--name", name), prefix=prefix)


def check_continues(src, dst, min_new=3):
    """The destination's guest goes on where the source's stopped."""
    before = ticks(src.output)
    last = max(before)
    dst.wait_for(rf"^DIRTY tick={last + min_new} ", timeout=60)
    after = ticks(dst.output)
    assert after == sorted(after) and len(set(after)) == len(after), after
    assert after[0] >= last and after[0] <= last + 2, (last, after[:3])
    assert "verify=FAIL" not in src.output + dst.output
    assert "verify=ok" in dst.output


@pytest.mark.parametrize("mode", ["precopy", "stop-copy", "zstd", "postcopy", "postcopy-log",
                                  "no-xbzrle"])
def test_live_migration(guest_factory, key, mode):
    src_name, dst_name = vm_name("s"), vm_name("d")
    src = start_source(guest_factory, key, src_name)
    date_before = int(run_unticked(src, "date +%s"))
    port = free_port()
    dst = start_dest(guest_factory, key, dst_name, port)
    time.sleep(0.3)
    extra = {"precopy": [], "stop-copy": ["--stop-copy"], "zstd": ["--compress"],
             "postcopy": ["--postcopy"],
             "postcopy-log": ["--postcopy", "--device-state", "log"],
             "no-xbzrle": ["--no-xbzrle"]}[mode]
    p = run_tern("migrate", src_name, f"tcp:127.0.0.1:{port}", *extra, timeout=180)
    assert p.returncode == 0, p.stderr
    m = re.search(r"downtime (\d+) ms \(memory (\d+), cpu (\d+), devices (\d+), other (\d+)\)", p.stdout)
    assert m, p.stdout
    # XBZRLE is on unless turned off (test_xbzrle_deltas_rebuild_pages);
    # post-copy and stop-and-copy send pages whole.
    if mode not in ("precopy", "zstd"):
        assert "xbzrle:" not in p.stdout, p.stdout
    # The source quits once the guest runs at the destination.
    assert src.wait_exit(30) == 0
    check_continues(src, dst)
    assert "switched over" in dst.stderr
    assert int(run_unticked(dst, "date +%s")) >= date_before
    q = QMP(sock_of(dst_name))
    assert q.cmd("query-status")["status"] == "running"
    assert dst.poweroff() == 0


def test_xbzrle_deltas_rebuild_pages(guest_factory, key):
    """A 5 ms downtime limit makes pre-copy go past round 2 (which fills the
    cache): the pages /bench/dirty rewrites (two words of each) then travel
    as deltas, far smaller than the pages, and the destination's guest finds
    every page as it wrote it."""
    src_name, dst_name = vm_name("s"), vm_name("d")
    src = start_source(guest_factory, key, src_name)
    port = free_port()
    dst = start_dest(guest_factory, key, dst_name, port)
    time.sleep(0.3)
    p = run_tern("migrate", src_name, f"tcp:127.0.0.1:{port}", "--downtime-ms", "5", timeout=180)
    assert p.returncode == 0, p.stderr
    m = re.search(r"xbzrle: (\d+) pages sent as (\d+) bytes of deltas, (\d+) not cached, "
                  r"(\d+) too changed; cache 64 MiB", p.stdout)
    assert m, p.stdout
    pages, nbytes = int(m.group(1)), int(m.group(2))
    assert pages >= 1000, p.stdout          # the 8 MiB hot set is 2048 pages
    assert nbytes < pages * 100, p.stdout   # two changed words: ~20 bytes a page
    assert src.wait_exit(30) == 0
    check_continues(src, dst)
    assert dst.poweroff() == 0


def test_postcopy_after_precopy_when_precopy_cannot_fit(guest_factory, key):
    """The guest rewrites all of each page of its 8 MiB hot set (no delta
    helps), the link is capped at 100 MB/s and the downtime limit is 20 ms:
    the hot set alone needs ~84 ms, slowed or not. With
    --postcopy-after-precopy the migration switches to post-copy after the
    slowed round; the pause is the device state's, and the destination's
    guest finds every page as it wrote it."""
    src_name, dst_name = vm_name("s"), vm_name("d")
    src = start_source(guest_factory, key, src_name, args="0 full ")
    port = free_port()
    dst = start_dest(guest_factory, key, dst_name, port)
    time.sleep(0.3)
    p = run_tern("migrate", src_name, f"tcp:127.0.0.1:{port}", "--bandwidth", "100",
                 "--downtime-ms", "20", "--postcopy-after-precopy", timeout=180)
    assert p.returncode == 0, p.stderr
    m = re.search(r"pre-copy did not fit the downtime limit after (\d+) rounds: the rest went by "
                  r"post-copy", p.stdout)
    assert m and int(m.group(1)) >= 2, p.stdout
    down = int(re.search(r"downtime (\d+) ms", p.stdout).group(1))
    assert down < 40, p.stdout
    assert src.wait_exit(30) == 0
    check_continues(src, dst)
    assert "post-copy" in dst.stderr
    assert dst.poweroff() == 0


def test_postcopy_after_precopy_excludes_other_modes():
    """(Its QMP parameter's checks are in tests/unit/test_qmp_mig_params.c.)"""
    for other in ("--postcopy", "--stop-copy"):
        p = run_tern("migrate", "nosuchvm", "tcp:127.0.0.1:1", other, "--postcopy-after-precopy")
        assert p.returncode == 2 and "exclude each other" in p.stderr, p.stderr


def wait_migration(q, timeout=120):
    """query-migrate until the migration has ended; returns the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        info = q.cmd("query-migrate")
        if info["status"] in ("completed", "failed", "cancelled"):
            return info
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_query_migrate_and_parameters(guest_factory, key):
    src_name, dst_name = vm_name("s"), vm_name("d")
    src = start_source(guest_factory, key, src_name)
    q = QMP(sock_of(src_name))
    assert q.cmd("query-migrate-parameters")["downtime-limit"] == 300
    q.cmd("migrate-set-parameters", **{"downtime-limit": 200, "compress": "zstd"})
    p = q.cmd("query-migrate-parameters")
    assert p["downtime-limit"] == 200 and p["compress"] == "zstd"
    assert p["x-device-state"] == "save"
    for bad in ({"downtime-limit": 0}, {"mode": "warp"}, {"compress": "gzip"}, {"nope": 1},
                {"x-device-state": "replay"}):
        with pytest.raises(Exception):
            q.cmd("migrate-set-parameters", **bad)
    with pytest.raises(Exception, match="no migration is running"):
        q.cmd("migrate-start-postcopy")
    port = free_port()
    dst = start_dest(guest_factory, key, dst_name, port)
    time.sleep(0.3)
    q.cmd("migrate", uri=f"tcp:127.0.0.1:{port}")
    info = wait_migration(q)
    assert info["status"] == "completed", info
    ram = info["ram"]
    assert ram["total"] == 256 << 20
    assert ram["transferred"] > 0 and ram["normal"] > 0 and ram["dirty-sync-count"] >= 1
    assert info["downtime"] <= info["total-time"]
    bd = info["x-downtime-breakdown"]
    assert set(bd) == {"memory", "cpu", "devices", "other"}
    assert info["x-device-state"]["method"] == "save"
    # The source is paused for good; a second migration is refused.
    assert q.cmd("query-status")["status"] == "postmigrate"
    with pytest.raises(Exception, match="already been migrated"):
        q.cmd("migrate", uri=f"tcp:127.0.0.1:{port}")
    check_continues(src, dst)
    q.cmd("quit")
    assert dst.poweroff() == 0


def test_device_state_by_write_log(guest_factory, key, tmp_path):
    """x-device-state=log: the destination rebuilds every device by replaying
    the guest's logged register writes; the guest then keeps using its disk
    (remounted, so the virtio-blk queue really runs) and its console."""
    img = make_disk(tmp_path)
    src_name, dst_name = vm_name("s"), vm_name("d")
    src = start_source(guest_factory, key, src_name, extra=("--disk", f"file={img}"))
    src.run("mkdir -p /mnt && mount /dev/vda /mnt && echo before > /mnt/f && sync")
    port = free_port()
    dst = start_dest(guest_factory, key, dst_name, port)
    time.sleep(0.3)
    p = run_tern("migrate", src_name, f"tcp:127.0.0.1:{port}", "--device-state", "log",
                 "--keep-source", timeout=180)
    assert p.returncode == 0, p.stderr
    assert re.search(r"device state sent by log; save \d+ bytes", p.stdout), p.stdout
    q = QMP(sock_of(src_name))
    assert q.cmd("query-migrate-parameters")["x-device-state"] == "log"
    ds = q.cmd("query-migrate")["x-device-state"]
    assert ds["method"] == "log", ds
    for form in ("save", "log"):
        assert ds[form]["bytes"] > 0 and ds[form]["encode-us"] > 0, ds
    assert ds["log"]["entries"] > 0, ds
    q.cmd("quit")
    assert src.wait_exit(30) == 0
    assert re.search(r"device state loaded by log in \d+ us", dst.stderr), dst.stderr
    check_continues(src, dst)
    assert run_unticked(dst, "cat /mnt/f") == "before\n"
    out = run_unticked(dst, "echo after > /mnt/g && umount /mnt && mount /dev/vda /mnt && cat /mnt/f /mnt/g")
    assert out == "before\nafter\n"
    assert run_unticked(dst, "echo console ok") == "console ok\n"
    dst.run("umount /mnt")
    assert dst.poweroff() == 0


def source_alive(src):
    n = max(ticks(src.output))
    src.wait_for(rf"^DIRTY tick={n + 2} ", timeout=30)
    assert run_unticked(src, "echo alive") == "alive\n"


def test_wrong_key_refused(guest_factory, key, tmp_path):
    src_name = vm_name("s")
    src = start_source(guest_factory, key, src_name)
    other = tmp_path / "other"
    other.write_bytes(os.urandom(32))
    other.chmod(0o600)
    port = free_port()
    dst = start_dest(guest_factory, other, vm_name("d"), port)
    time.sleep(0.3)
    p = run_tern("migrate", src_name, f"tcp:127.0.0.1:{port}", timeout=60)
    assert p.returncode == 1
    assert "wrong migration key" in p.stderr, p.stderr
    # The destination logs the refusal and keeps waiting for a real source.
    deadline = time.monotonic() + 30
    while "does not hold the migration key" not in dst.stderr and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "rejected a migration connection" in dst.stderr, dst.stderr
    assert "does not hold the migration key" in dst.stderr
    assert dst.proc.poll() is None
    assert "TERN-GUEST-READY" not in dst.output and "DIRTY" not in dst.output
    source_alive(src)


def test_missing_key_and_bad_uris(guest_factory, key, tmp_path):
    p = run_tern("run", "--incoming", "tcp:127.0.0.1:1", timeout=30)
    assert p.returncode == 1 and "--migrate-key" in p.stderr
    p = run_tern("run", "--incoming", "tcp:127.0.0.1:1", "--migrate-key", tmp_path / "nokey", timeout=30)
    assert p.returncode == 1 and "cannot open migration key" in p.stderr
    p = run_tern("run", "--incoming", "tcp:127.0.0.1", "--migrate-key", key, timeout=30)
    assert p.returncode == 1 and "no port" in p.stderr
    p = run_tern("migrate", "x", "udp:1.2.3.4:5", timeout=30)
    assert p.returncode == 2


def test_destination_dies_source_survives(guest_factory, key):
    src_name = vm_name("s")
    src = start_source(guest_factory, key, src_name, total=96, hot=8)
    port = free_port()
    dst = start_dest(guest_factory, key, vm_name("d"), port)
    time.sleep(0.3)
    mig = subprocess.Popen([str(TERN), "migrate", src_name, f"tcp:127.0.0.1:{port}",
                            "--bandwidth", "10"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    time.sleep(2)
    dst.proc.kill()
    out, err = mig.communicate(timeout=60)
    assert mig.returncode == 1, out + err
    assert "keeps running here" in err
    source_alive(src)
    q = QMP(sock_of(src_name))
    assert q.cmd("query-migrate")["status"] == "failed"
    assert q.cmd("query-status")["status"] == "running"


def test_cancel_leaves_source_running(guest_factory, key):
    src_name = vm_name("s")
    src = start_source(guest_factory, key, src_name, total=96, hot=8)
    port = free_port()
    dst = start_dest(guest_factory, key, vm_name("d"), port)
    time.sleep(0.3)
    q = QMP(sock_of(src_name))
    q.cmd("migrate-set-parameters", **{"max-bandwidth": 5_000_000})
    q.cmd("migrate", uri=f"tcp:127.0.0.1:{port}")
    time.sleep(1.5)
    assert q.cmd("query-migrate")["status"] == "active"
    q.cmd("migrate_cancel")
    deadline = time.monotonic() + 30
    while q.cmd("query-migrate")["status"] not in ("cancelled", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert q.cmd("query-migrate")["status"] == "cancelled"
    assert dst.wait_exit(30) == 1          # its stream ended before the switch-over
    assert "DIRTY" not in dst.output
    source_alive(src)


def fake_source(port, key, payload):
    """Connects to a destination, passes the handshake with the right key,
    then sends `payload` as the migration stream."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    hello = s.recv(44, socket.MSG_WAITALL)
    assert hello[:8] == b"TERNMIG1"
    nonce_d = hello[12:44]
    nonce_s = os.urandom(32)
    mac = hmac.new(key, b"src:" + nonce_d + nonce_s, hashlib.sha256).digest()
    s.sendall(b"TERNMIG1" + struct.pack("<I", 1) + nonce_s + mac)
    verdict = s.recv(33, socket.MSG_WAITALL)
    assert verdict[0] == 0
    s.sendall(payload)
    return s


@pytest.mark.parametrize("how,needle", [
    ("garbage", "migration stream"),
    ("truncated", "migration stream"),
])
def test_hostile_stream_refused(guest_factory, key, tmp_path, how, needle):
    port = free_port()
    dst = start_dest(guest_factory, key, vm_name("d"), port)
    time.sleep(0.3)
    k = key.read_bytes()
    if how == "garbage":
        payload = os.urandom(4096)
    else:
        # A valid stream header, then the connection drops mid-section.
        payload = b"TERNSNAP" + struct.pack("<II", 1, 0) + struct.pack("<IHHQ", 1, 0, 1, 500) + b"{"
    s = fake_source(port, k, payload)
    try:
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass        # the destination may have refused and closed already
    assert dst.wait_exit(30) == 1
    assert dst.stderr.strip(), "no error message"
    assert "TERN-GUEST-READY" not in dst.output and dst.output.strip() == ""
    s.close()


NS = [f"ternmig{os.getpid()}a", f"ternmig{os.getpid()}b"]


@pytest.fixture
def two_hosts():
    """Two network namespaces joined by a veth pair: 10.77.0.1 and .2."""
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.skip("network namespaces need root and iproute2")
    a, b = NS
    cmds = [
        ["ip", "netns", "add", a], ["ip", "netns", "add", b],
        ["ip", "link", "add", "vm" + a[-6:], "netns", a, "type", "veth", "peer", "name",
         "vm" + b[-6:], "netns", b],
        ["ip", "-n", a, "addr", "add", "10.77.0.1/24", "dev", "vm" + a[-6:]],
        ["ip", "-n", b, "addr", "add", "10.77.0.2/24", "dev", "vm" + b[-6:]],
        ["ip", "-n", a, "link", "set", "vm" + a[-6:], "up"],
        ["ip", "-n", b, "link", "set", "vm" + b[-6:], "up"],
        ["ip", "-n", a, "link", "set", "lo", "up"], ["ip", "-n", b, "link", "set", "lo", "up"],
    ]
    try:
        for c in cmds:
            subprocess.run(c, check=True, capture_output=True)
        yield a, b
    finally:
        for n in NS:
            subprocess.run(["ip", "netns", "del", n], capture_output=True)


def test_migration_between_two_hosts(guest_factory, key, two_hosts):
    a, b = two_hosts
    src_name, dst_name = vm_name("s"), vm_name("d")
    src = start_source(guest_factory, key, src_name, prefix=("ip", "netns", "exec", a))
    dst = start_dest(guest_factory, key, dst_name, 4444, host="10.77.0.2",
                     prefix=("ip", "netns", "exec", b))
    time.sleep(0.5)
    # The control socket is a file: tern migrate runs anywhere; the
    # connection to 10.77.0.2 is made by the source, inside host a.
    p = run_tern("migrate", src_name, "tcp:10.77.0.2:4444", timeout=180)
    assert p.returncode == 0, p.stderr
    assert src.wait_exit(30) == 0
    check_continues(src, dst)
    assert dst.poweroff() == 0


def wait_status(q, wanted, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        info = q.cmd("query-migrate")
        if info.get("status") in wanted:
            return info
        assert time.monotonic() < deadline, info
        time.sleep(0.05)


def start_pair(guest_factory, key, total, hot):
    """A source running /bench/dirty, a destination waiting for it, and a
    QMP connection to the source."""
    src_name, dst_name = vm_name("s"), vm_name("d")
    src = start_source(guest_factory, key, src_name, total=total, hot=hot)
    port = free_port()
    dst = start_dest(guest_factory, key, dst_name, port)
    time.sleep(0.3)
    return src, dst, QMP(sock_of(src_name)), port, dst_name


def test_postcopy_faults_and_progress(guest_factory, key):
    """Post-copy with the push slowed down: the destination runs before its
    RAM is there, fetches what it touches, and reports it."""
    src, dst, q, port, dst_name = start_pair(guest_factory, key, total=64, hot=16)
    q.cmd("migrate-set-parameters", mode="postcopy", **{"max-bandwidth": 20_000_000})
    assert q.cmd("query-migrate-parameters")["mode"] == "postcopy"
    q.cmd("migrate", uri=f"tcp:127.0.0.1:{port}")
    info = wait_status(q, ("postcopy-active", "completed", "failed"))
    assert info["status"] == "postcopy-active", info
    assert info["downtime"] <= info["total-time"]
    assert q.cmd("query-status")["status"] == "postmigrate"
    with pytest.raises(Exception, match="too late|in progress"):
        q.cmd("migrate", uri=f"tcp:127.0.0.1:{port}")
    wait_socket(sock_of(dst_name), dst.proc)
    qd = QMP(sock_of(dst_name))
    d = qd.cmd("query-migrate")
    assert d["status"] == "postcopy-active", d
    assert 0 < d["x-postcopy"]["received"] < d["x-postcopy"]["pages"]
    # Not before all of its memory is here.
    with pytest.raises(Exception, match="post-copy"):
        qd.cmd("migrate", uri="file:/tmp/never-written")
    info = wait_status(q, ("completed", "failed", "postcopy-paused"))
    assert info["status"] == "completed", info
    assert info["x-postcopy"]["requests"] > 0
    d = wait_status(qd, ("completed", "failed"), timeout=30)
    assert d["status"] == "completed", d
    pc = d["x-postcopy"]
    assert pc["received"] == pc["pages"] > 8192        # at least the 32 MiB the guest filled
    assert pc["faults"] > 0 and pc["requests"] > 0
    assert pc["fault-wait-median-us"] <= pc["fault-wait-max-us"]
    check_continues(src, dst)
    q.cmd("quit")
    assert dst.poweroff() == 0


def test_precopy_switches_to_postcopy(guest_factory, key):
    src, dst, q, port, _ = start_pair(guest_factory, key, total=96, hot=8)
    q.cmd("migrate-set-parameters", **{"max-bandwidth": 20_000_000})
    q.cmd("migrate", uri=f"tcp:127.0.0.1:{port}")
    wait_status(q, ("active",))
    time.sleep(1)
    assert q.cmd("query-migrate")["status"] == "active"      # pre-copy still going
    q.cmd("migrate-start-postcopy")
    info = wait_status(q, ("completed", "failed", "postcopy-paused"), timeout=180)
    assert info["status"] == "completed", info
    assert info["x-rounds"] >= 1
    # The destination says so once its last page is in, maybe after the
    # source has reported "completed".
    dst.wait_stderr("post-copy complete", timeout=60)
    check_continues(src, dst)
    q.cmd("quit")
    assert dst.poweroff() == 0


def start_slow_postcopy(guest_factory, key):
    src, dst, q, port, _ = start_pair(guest_factory, key, total=96, hot=8)
    q.cmd("migrate-set-parameters", mode="postcopy", **{"max-bandwidth": 5_000_000})
    q.cmd("migrate", uri=f"tcp:127.0.0.1:{port}")
    assert wait_status(q, ("postcopy-active", "failed"))["status"] == "postcopy-active"
    dst.wait_for(r"^DIRTY tick=\d+ ", timeout=30)           # it runs there
    return src, dst, q


def test_postcopy_source_dies(guest_factory, key):
    """Pages still on a dead source never come: the destination stops with
    an error instead of running on holes."""
    src, dst, q = start_slow_postcopy(guest_factory, key)
    src.proc.kill()
    assert dst.wait_exit(30) == 1
    assert "post-copy failed" in dst.stderr, dst.stderr
    assert "verify=FAIL" not in dst.output


def test_postcopy_destination_dies_source_takes_back(guest_factory, key):
    """The source holds every page: after the destination dies it keeps
    the guest paused, and 'cont' runs it here again."""
    src, dst, q = start_slow_postcopy(guest_factory, key)
    dst.proc.kill()
    info = wait_status(q, ("postcopy-paused", "completed", "failed"), timeout=60)
    assert info["status"] == "postcopy-paused", info
    assert "cont" in info["error-desc"]
    assert q.cmd("query-status")["status"] == "paused"
    n = max(ticks(src.output))
    time.sleep(1.5)
    assert max(ticks(src.output)) == n                      # it does not run by itself
    q.cmd("cont")
    assert q.cmd("query-status")["status"] == "running"
    assert q.cmd("query-migrate")["status"] == "failed"
    source_alive(src)
    assert "verify=FAIL" not in src.output


def test_postcopy_disk_io_while_pages_arrive(guest_factory, key, tmp_path):
    """Device DMA into pages still on the source: the guest reads and
    writes its disk while post-copy is slowed down, with device state sent
    by write log."""
    img = make_disk(tmp_path)
    src_name, dst_name = vm_name("s"), vm_name("d")
    src = start_source(guest_factory, key, src_name, total=64, hot=8,
                       extra=("--disk", f"file={img}"))
    src.run("mkdir -p /mnt && mount /dev/vda /mnt && dd if=/dev/urandom of=/mnt/r bs=1M count=8 "
            "2>/dev/null && md5sum /mnt/r > /mnt/r.md5 && sync && echo 3 > /proc/sys/vm/drop_caches")
    port = free_port()
    dst = start_dest(guest_factory, key, dst_name, port)
    time.sleep(0.3)
    mig = subprocess.Popen([str(TERN), "migrate", src_name, f"tcp:127.0.0.1:{port}", "--postcopy",
                            "--bandwidth", "10", "--device-state", "log"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    dst.wait_for(r"^DIRTY tick=\d+ ", timeout=60)
    wait_socket(sock_of(dst_name), dst.proc)
    assert QMP(sock_of(dst_name)).cmd("query-migrate")["status"] == "postcopy-active"
    # the page cache was dropped: this reads the disk into fresh pages
    assert run_unticked(dst, "md5sum -c /mnt/r.md5") == "/mnt/r: OK\n"
    assert run_unticked(dst, "cp /mnt/r /mnt/r2 && sync && cmp /mnt/r /mnt/r2 && echo same") == "same\n"
    out, err = mig.communicate(timeout=180)
    assert mig.returncode == 0, out + err
    d = QMP(sock_of(dst_name)).cmd("query-migrate")
    assert d["status"] == "completed" and d["x-postcopy"]["faults"] > 0, d
    check_continues(src, dst)
    dst.run("umount /mnt")
    assert dst.poweroff() == 0


@pytest.mark.parametrize("mode", ["precopy", "postcopy"])
def test_smp_busy_guest_migrates(guest_factory, key, mode):
    """A 4-hart guest, every hart busy (threads on their own host threads):
    /bench/dirty writes and verifies its pages on one, /bench/par's checked
    CRC jobs run on three more. Nothing is lost on the way."""
    src_name, dst_name = vm_name("s"), vm_name("d")
    src = start_source(guest_factory, key, src_name, total=64, hot=16, extra=("--cpus", "4"))
    src.send("(while /bench/par 3 20 | grep -q ' ok$'; do echo PAR-RUN; done; echo PAR-BROKE) &\n")
    src.wait_for(r"^PAR-RUN", timeout=60)
    tids = {c["thread-id"] for c in QMP(sock_of(src_name)).cmd("query-cpus-fast")}
    assert len(tids) == 4                     # one host thread per hart
    port = free_port()
    dst = start_dest(guest_factory, key, dst_name, port)
    time.sleep(0.3)
    p = run_tern("migrate", src_name, f"tcp:127.0.0.1:{port}",
                 *(["--postcopy"] if mode == "postcopy" else []), timeout=180)
    assert p.returncode == 0, p.stderr
    assert src.wait_exit(30) == 0
    check_continues(src, dst)
    def par_runs():
        return len(re.findall(r"^PAR-RUN", dst.output, re.M))
    runs = par_runs()
    deadline = time.monotonic() + 60
    while par_runs() < runs + 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert par_runs() >= runs + 2             # the checked jobs go on there
    assert not re.search(r"^PAR-BROKE", src.output + dst.output, re.M)
    assert run_unticked(dst, "nproc") == "4\n"
    assert dst.poweroff() == 0
