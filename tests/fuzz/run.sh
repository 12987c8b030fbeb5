#!/bin/sh
# run.sh SECONDS FUZZER...: run each libFuzzer binary for SECONDS on its corpus
# (build/fuzz/corpus/NAME, seeded on first use) and fail on the first crash.
# The seeds kept in the tree (tests/fuzz/corpus/NAME) are read as a second
# corpus; the qcow2 corpus is also seeded with small images made by build/tern.
set -eu

secs=$1; shift
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=$repo/build/fuzz

seed_qcow2() {
    dir=$1 tern=$repo/build/tern tmp=$out/seed.tmp
    [ -x "$tern" ] || return 0
    rm -rf "$tmp"; mkdir -p "$tmp"
    head -c 8192 /dev/urandom > "$tmp/base.raw"
    "$tern" image create -c 512 "$tmp/empty.qcow2" 1M
    "$tern" image create -c 512 -b base.raw "$tmp/overlay.qcow2"
    "$tern" image convert -c 512 -O qcow2 "$tmp/base.raw" "$tmp/data.qcow2"
    for f in empty overlay data; do
        printf '\000' | cat - "$tmp/$f.qcow2" > "$dir/seed-$f-rw"
        printf '\001' | cat - "$tmp/$f.qcow2" > "$dir/seed-$f-ro"
    done
    rm -rf "$tmp"
}

for fz in "$@"; do
    name=$(basename "$fz")
    corpus=$out/corpus/$name
    if [ ! -d "$corpus" ]; then
        mkdir -p "$corpus"
        [ "$name" != fuzz_qcow2 ] || seed_qcow2 "$corpus"
    fi
    seeds=
    [ ! -d "$repo/tests/fuzz/corpus/$name" ] || seeds=$repo/tests/fuzz/corpus/$name
    log=$out/$name.log
    echo "fuzz: $name for ${secs}s (log $log)"
    if ! "$fz" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -max_len=65536 \
            -artifact_prefix="$out/$name-" \
            -print_final_stats=1 "$corpus" $seeds > "$log" 2>&1; then
        tail -n 40 "$log"
        echo "fuzz: $name FAILED (crash input saved as $out/$name-crash-*)"
        exit 1
    fi
    runs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    echo "fuzz: $name ok, ${runs:-?} inputs, ${cov:-?} coverage points, no crash"
done
