#!/usr/bin/env bash
# disk.sh: sequential disk read/write throughput in the guest, tern against QEMU
# (raw and qcow2). Usage: bench/disk.sh [--no-docs]. Env: BENCH_DISK_RUNS=3
# BENCH_DISK_MIB=256 BENCH_DISK_WRITE_MIB=128 BENCH_DISK_FORMATS=raw,qcow2 TERN_BIN QEMU_BIN
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
die() { echo "bench-disk: $*" >&2; exit 1; }

extra=() invocation="bench/disk.sh"
for a in "$@"; do
    case "$a" in
        --no-docs) extra+=("$a"); invocation+=" $a" ;;
        -h|--help) sed -n '2,4s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) die "unknown option '$a' (try --help)" ;;
    esac
done

tern=${TERN_BIN:-build/tern}
[ -x "$tern" ] || die "tern binary '$tern' missing: run 'make' first (or set TERN_BIN)"
qemu=${QEMU_BIN:-qemu-system-riscv64}
command -v "$qemu" >/dev/null 2>&1 || die "QEMU ('$qemu') not found: 'make deps'"
command -v qemu-img >/dev/null 2>&1 || die "qemu-img not found: 'make deps'"
kernel=build/guest/Image initrd=build/guest/initramfs.cpio.gz
[ -f "$kernel" ] && [ -f "$initrd" ] || die "guest kit missing: run 'guest/build-kit.sh'"

env_desc=""
for v in TERN_BIN QEMU_BIN BENCH_DISK_RUNS BENCH_DISK_MIB BENCH_DISK_WRITE_MIB BENCH_DISK_FORMATS; do
    [ -n "${!v:-}" ] && env_desc+="$v=${!v} "
done

# Benchmarks on this 2-core machine must never overlap (the lock bench/run.sh uses).
exec 9>/tmp/tern-bench.lock
flock -n 9 || die "another benchmark is running (lock /tmp/tern-bench.lock)"

exec /usr/bin/python3 "$repo/bench/disk.py" --repo "$repo" --tern "$tern" \
    --qemu "$(command -v "$qemu")" --kernel "$kernel" --initrd "$initrd" \
    --runs "${BENCH_DISK_RUNS:-3}" --disk-mib "${BENCH_DISK_MIB:-256}" \
    --write-mib "${BENCH_DISK_WRITE_MIB:-128}" --formats "${BENCH_DISK_FORMATS:-raw,qcow2}" \
    --invocation "$env_desc$invocation" ${extra[@]+"${extra[@]}"}
