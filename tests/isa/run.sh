#!/bin/bash
# Differential ISA tests: build the bare-metal programs in tests/isa/, run
# each on QEMU (the oracle) and on build/tern, and compare the text between
# the ISA-BEGIN and ISA-END markers.
#   tests/isa/run.sh                 build, run both, compare (default)
#   tests/isa/run.sh --qemu-only [NAME...]  print QEMU's output only
#   tests/isa/run.sh --tern-only NAME       print tern's output for one test
#   tests/isa/run.sh NAME...         compare only the named tests
# Environment: TERN (default build/tern), QEMU (default qemu-system-riscv64),
# CROSS (default riscv64-linux-gnu-), ISA_TIMEOUT (seconds per run, default 20).
# Programs land in build/isa/; raw logs there are NAME.{qemu,tern}.raw.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$ROOT/build/isa
TERN=${TERN:-$ROOT/build/tern}
QEMU=${QEMU:-qemu-system-riscv64}
CROSS=${CROSS:-riscv64-linux-gnu-}
TIMEOUT=${ISA_TIMEOUT:-20}
CFLAGS="-nostdlib -ffreestanding -march=rv64gc -mabi=lp64d -mcmodel=medany -O2
        -mno-relax -fno-builtin -fno-stack-protector -fno-pic -static
        -Wall -Wextra -Wno-unused-parameter -Wl,--build-id=none -Wl,--no-warn-rwx-segments -I$HERE/rt"

mode=both
case "${1:-}" in
    --qemu-only) mode=qemu; shift ;;
    --tern-only) mode=tern; shift
                 [ $# -eq 1 ] || { echo "usage: $0 --tern-only NAME" >&2; exit 2; } ;;
    -h|--help)   sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac

all_tests() {
    for f in "$HERE"/*.c "$HERE"/*.S; do
        [ -e "$f" ] || continue
        b=$(basename "$f"); echo "${b%.*}"
    done | sort -u
}
if [ $# -gt 0 ]; then tests="$*"; else tests=$(all_tests); fi

# ---- build ----
command -v "${CROSS}gcc" >/dev/null || {
    echo "isa: ${CROSS}gcc not found (apt-get install gcc-riscv64-linux-gnu)" >&2; exit 1; }
mkdir -p "$OUT/rt"
RT_OBJS=
for s in crt0.S trap.S lib.c; do
    o=$OUT/rt/${s%.*}.o
    "${CROSS}gcc" $CFLAGS -c "$HERE/rt/$s" -o "$o" || exit 1
    RT_OBJS="$RT_OBJS $o"
done
build() {
    local name=$1 src
    for src in "$HERE/$name.c" "$HERE/$name.S"; do
        [ -e "$src" ] && break
    done
    [ -e "$src" ] || { echo "isa: no source for $name" >&2; return 1; }
    "${CROSS}gcc" $CFLAGS -T "$HERE/rt/link.ld" -o "$OUT/$name.elf" \
        $RT_OBJS "$src" -lgcc || return 1
    "${CROSS}objcopy" -O binary "$OUT/$name.elf" "$OUT/$name.bin"
}
for t in $tests; do build "$t" || { echo "isa: build of $t failed" >&2; exit 1; }; done

# ---- run ----
# Extract the marked region (without \r) from a raw console log.
extract() { tr -d '\r' < "$1" | sed -n '/^ISA-BEGIN$/,/^ISA-END$/p'; }

run_qemu() {   # $1 = name, writes $OUT/$1.qemu.raw
    timeout "$TIMEOUT" "$QEMU" -M virt -smp 1 -m 128M -nographic -bios default \
        -kernel "$OUT/$1.bin" < /dev/null > "$OUT/$1.qemu.raw" 2>&1
}
run_tern() {   # $1 = name, writes $OUT/$1.tern.raw
    timeout "$TIMEOUT" "$TERN" run --kernel "$OUT/$1.bin" --memory 128M \
        < /dev/null > "$OUT/$1.tern.raw" 2>"$OUT/$1.tern.err"
}

if [ "$mode" = qemu ]; then
    for t in $tests; do
        run_qemu "$t"
        echo "===== $t (qemu)"
        extract "$OUT/$t.qemu.raw"
        grep -q '^ISA-END' "$OUT/$t.qemu.raw" || { echo "!! $t: no ISA-END"; tail -5 "$OUT/$t.qemu.raw"; }
    done
    exit 0
fi

if [ ! -x "$TERN" ]; then
    echo "isa: $TERN does not exist; build it first (make all)" >&2
    exit 1
fi

if [ "$mode" = tern ]; then
    run_tern "$tests"; rc=$?
    extract "$OUT/$tests.tern.raw"
    grep -q '^ISA-END' "$OUT/$tests.tern.raw" || {
        echo "!! $tests: no ISA-END (exit $rc); raw tail:"; tail -20 "$OUT/$tests.tern.raw"
        cat "$OUT/$tests.tern.err"; }
    exit 0
fi

pass=0; fail=0
for t in $tests; do
    run_qemu "$t" & qp=$!
    run_tern "$t"; trc=$?
    wait $qp
    extract "$OUT/$t.qemu.raw" > "$OUT/$t.expected"
    extract "$OUT/$t.tern.raw" > "$OUT/$t.actual"
    why=
    if ! grep -q '^ISA-END$' "$OUT/$t.expected"; then
        why="QEMU produced no ISA-END (oracle broken?)"
    elif ! grep -q '^ISA-END$' "$OUT/$t.actual"; then
        why="tern produced no ISA-END (exit status $trc)"
    elif ! cmp -s "$OUT/$t.expected" "$OUT/$t.actual"; then
        why="output differs"
    fi
    if [ -z "$why" ]; then
        echo "PASS $t"; pass=$((pass + 1))
    else
        echo "FAIL $t: $why"; fail=$((fail + 1))
        diff -u --label "qemu/$t" --label "tern/$t" "$OUT/$t.expected" "$OUT/$t.actual" | head -60
        if [ -s "$OUT/$t.tern.err" ]; then
            echo "--- tern stderr:"; tail -10 "$OUT/$t.tern.err"
        fi
    fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
