#!/usr/bin/python3
"""bench/copy_storage.py: `tern migrate --copy-storage` between two local
tern processes. A 256 MiB guest with a qcow2 overlay over a 128 MiB raw
base writes 64 MiB of random data into the overlay (dd to /dev/vda), then,
with `--writer`, keeps rewriting 64 KiB blocks during the migration; the
destination names a fresh overlay over its own copy of the base. Prints
each run's `tern migrate` report (total time, downtime and its parts,
stream bytes, disk bytes). Usage: bench/copy_storage.py [--writer] [--runs N]
"""
import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
from conftest import Guest, make_disk, run_tern  # noqa: E402
from test_copy_storage import WRITER  # noqa: E402
from test_migration import free_port, start_source  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--writer", action="store_true", help="keep writing the disk during the migration")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tern-bench-cs-"))
    try:
        (tmp / "src").mkdir()
        (tmp / "dst").mkdir()
        key = tmp / "key"
        key.write_bytes(os.urandom(32))
        key.chmod(0o600)
        base = make_disk(tmp / "src", name="base.img", size="128M")
        shutil.copy(base, tmp / "dst" / "base.img")
        for run in range(a.runs):
            ov = tmp / "src" / f"vm{run}.qcow2"
            run_tern("image", "create", "-f", "qcow2", "-b", str(base), "-F", "raw", str(ov))
            name = f"bcs{os.getpid()}-{run}"
            made = []

            def factory(**kw):
                g = Guest(**kw)
                made.append(g)
                return g
            try:
                src = start_source(factory, key, name, extra=("--disk", f"file={ov},format=qcow2"))
                src.run("dd if=/dev/urandom of=/dev/vda bs=1M seek=40 count=64 conv=fsync 2>/dev/null; echo ok",
                        timeout=300)
                if a.writer:
                    src.run("dd if=/dev/zero of=/tmp/mirror bs=65536 count=32 2>/dev/null; echo ok")
                    src.send(f"({WRITER}) > /tmp/writer.log 2>&1 &\n")
                    time.sleep(1)
                port = free_port()
                factory(argv=("run", "--incoming", f"tcp:127.0.0.1:{port}", "--migrate-key", key,
                              "--name", name + "d", "--disk", f"file={tmp / 'dst' / f'vm{run}.qcow2'},format=qcow2",
                              "--base-dir", tmp / "dst"))
                time.sleep(0.5)
                t0 = time.monotonic()
                p = run_tern("migrate", name, f"tcp:127.0.0.1:{port}", "--copy-storage", timeout=300)
                print(f"run {run} ({'writer' if a.writer else 'idle'}): {time.monotonic() - t0:.2f} s seen "
                      f"by the client, exit {p.returncode}")
                print("\n".join(line for line in p.stdout.splitlines() if "device state" not in line))
                if p.returncode:
                    print(p.stderr[-500:])
            finally:
                for g in made:
                    g.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
