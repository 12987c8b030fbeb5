#!/usr/bin/env bash
# run.sh: boot, idle and guest workloads (cpu fp proc mem syscall loops) of tern against
# QEMU, as medians and ratios; refreshes docs/BENCHMARKS.md. Usage: bench/run.sh [--quick]
# [--no-docs] [--only W,...]. Env: BENCH_RUNS=5 BENCH_IDLE_RUNS=3 BENCH_WL_RUNS=3 TERN_BIN QEMU_BIN
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

die() { echo "bench: $*" >&2; exit 1; }

quick=() invocation="bench/run.sh"
while [ $# -gt 0 ]; do
    case "$1" in
        --quick|--no-docs) quick+=("$1"); invocation+=" $1" ;;
        --only)
            [ $# -ge 2 ] || die "--only needs a workload (boot idle cpu fp proc mem syscall loops)"
            quick+=("--only" "$2"); invocation+=" --only $2"; shift ;;
        --only=*) quick+=("--only" "${1#--only=}"); invocation+=" $1" ;;
        -h|--help) sed -n '2,4s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) die "unknown option '$1' (try --help)" ;;
    esac
    shift
done

python=/usr/bin/python3
[ -x "$python" ] || die "$python not found (install python3)"

tern=${TERN_BIN:-build/tern}
[ -f "$tern" ] && [ -x "$tern" ] ||
    die "tern binary '$tern' is missing or not executable: run 'make' first (or set TERN_BIN)"
qemu=${QEMU_BIN:-qemu-system-riscv64}
command -v "$qemu" >/dev/null 2>&1 ||
    die "QEMU ('$qemu') not found: install qemu-system-misc ('make deps') or set QEMU_BIN"
qemu=$(command -v "$qemu")
kernel=build/guest/Image initrd=build/guest/initramfs.cpio.gz
[ -f "$kernel" ] && [ -f "$initrd" ] ||
    die "guest kit missing ($kernel, $initrd): run 'guest/build-kit.sh' or 'make bench'"

runs=${BENCH_RUNS:-5} idle_runs=${BENCH_IDLE_RUNS:-3} wl_runs=${BENCH_WL_RUNS:-3}
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer, not '$runs'"
[[ "$idle_runs" =~ ^[0-9]+$ ]] || die "BENCH_IDLE_RUNS must be a number, not '$idle_runs'"
[[ "$wl_runs" =~ ^[1-9][0-9]*$ ]] || die "BENCH_WL_RUNS must be a positive integer, not '$wl_runs'"

# Record the overrides in the command line that goes into the docs.
env_desc=""
for v in TERN_BIN QEMU_BIN BENCH_RUNS BENCH_IDLE_RUNS BENCH_WL_RUNS; do
    [ -n "${!v:-}" ] && env_desc+="$v=${!v} "
done

# Benchmarks on this 2-core machine must never overlap: one run at a time.
lock=/tmp/tern-bench.lock
exec 9>"$lock"
flock -n 9 || die "another bench/run.sh is running (lock $lock)"

exec "$python" "$repo/bench/bench.py" --repo "$repo" --tern "$tern" --qemu "$qemu" \
    --kernel "$kernel" --initrd "$initrd" --runs "$runs" --idle-runs "$idle_runs" \
    --wl-runs "$wl_runs" \
    --invocation "$env_desc$invocation" ${quick[@]+"${quick[@]}"}
