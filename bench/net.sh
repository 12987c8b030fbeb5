#!/usr/bin/env bash
# net.sh: guest-to-host TCP throughput over user networking, tern against QEMU
# (bench/net.py). Usage: bench/net.sh. Env: BENCH_NET_RUNS=3 BENCH_NET_MIB=16 TERN_BIN QEMU_BIN
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
die() { echo "bench: $*" >&2; exit 1; }

python=/usr/bin/python3
[ -x "$python" ] || die "$python not found (install python3)"
tern=${TERN_BIN:-build/tern}
[ -f "$tern" ] && [ -x "$tern" ] || die "tern binary '$tern' is missing: run 'make' first (or set TERN_BIN)"
qemu=${QEMU_BIN:-qemu-system-riscv64}
command -v "$qemu" >/dev/null 2>&1 || die "QEMU ('$qemu') not found: install qemu-system-misc ('make deps')"
kernel=build/guest/Image initrd=build/guest/initramfs.cpio.gz
[ -f "$kernel" ] && [ -f "$initrd" ] || die "guest kit missing: run 'guest/build-kit.sh'"
runs=${BENCH_NET_RUNS:-3} mib=${BENCH_NET_MIB:-16}
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "BENCH_NET_RUNS must be a positive integer, not '$runs'"
[[ "$mib" =~ ^[1-9][0-9]*$ ]] || die "BENCH_NET_MIB must be a positive integer, not '$mib'"

# Benchmarks on this 2-core machine must never overlap: the same lock as run.sh.
exec 9>/tmp/tern-bench.lock
flock -n 9 || die "another benchmark is running (lock /tmp/tern-bench.lock)"

exec "$python" bench/net.py --repo "$repo" --tern "$tern" --qemu "$(command -v "$qemu")" \
    --kernel "$kernel" --initrd "$initrd" --runs "$runs" --mib "$mib"
