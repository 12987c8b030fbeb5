#!/bin/sh
# build-kit.sh: build the tern reference guest (Debian trixie riscv64 kernel +
# busybox initramfs) into build/guest/{Image,initramfs.cpio.gz}, plus the same tree
# as an ext4 root disk, build/guest/rootfs.img (made by `tern image from-dir`
# when build/tern exists; boot it with root=/dev/vda). Uses apt with a
# private config under build/guest-cache/, so the host's apt setup is untouched
# and a second run downloads nothing.
set -eu

REPO=$(cd "$(dirname "$0")/.." && pwd)
GUEST_SRC=$REPO/guest
OUT=$REPO/build/guest
CACHE=$REPO/build/guest-cache
SUITE=${TERN_GUEST_SUITE:-trixie}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
TERN=$REPO/build/tern       # makes the root disk (tern image from-dir)

# Modules the guest wants (names with - or _ alike). Their hard and soft
# dependencies are added from the kernel's own modules.dep/modules.softdep;
# built-in ones (modules.builtin) are skipped.
WANT_MODULES="
virtio virtio_ring virtio_mmio virtio_blk virtio_net net_failover failover
virtio_rng rng_core virtio_balloon virtio_console
ext4 jbd2 mbcache crc16 crc32c_generic
rtc_goldfish
virtio_input evdev
"

log() { echo "build-kit: $*" >&2; }
die() { echo "build-kit: error: $*" >&2; exit 1; }

# ---- Guest benchmark programs ---------------------------------------------------
# tests/guest/bench/ is cross-built (incrementally) into build/guest-bench/ and
# goes into the initramfs at /bench/. A rebuilt program makes the initramfs stale.
BENCH_SRC=$REPO/tests/guest/bench
BENCH_OUT=$REPO/build/guest-bench
if [ -f "$BENCH_SRC/Makefile" ]; then
    if command -v riscv64-linux-gnu-gcc >/dev/null 2>&1; then
        make -s --no-print-directory -C "$REPO" -f "$BENCH_SRC/Makefile" O="$BENCH_OUT" >&2 ||
            die "building the guest benchmark programs ($BENCH_SRC) failed"
    else
        log "warning: riscv64-linux-gnu-gcc missing (scripts/deps.sh); no /bench programs"
    fi
fi
bench_in_initramfs_fresh() {
    for f in "$BENCH_OUT/tbench" "$BENCH_OUT/hello" "$BENCH_OUT/workloads"; do
        [ ! -e "$f" ] || [ "$OUT/initramfs.cpio.gz" -nt "$f" ] || return 1
    done
}

# ---- Up to date? -----------------------------------------------------------
if [ -z "${TERN_GUEST_REBUILD:-}" ] &&
   [ -f "$OUT/Image" ] && [ -f "$OUT/initramfs.cpio.gz" ] &&
   [ "$OUT/Image" -nt "$GUEST_SRC/build-kit.sh" ] && [ "$OUT/initramfs.cpio.gz" -nt "$GUEST_SRC/build-kit.sh" ] &&
   [ "$OUT/initramfs.cpio.gz" -nt "$GUEST_SRC/init" ] &&
   [ "$OUT/initramfs.cpio.gz" -nt "$GUEST_SRC/udhcpc.script" ] && bench_in_initramfs_fresh &&
   { [ -f "$OUT/rootfs.img" ] || [ ! -x "$TERN" ]; }; then
    echo "build-kit: guest kit up to date ($(cat "$OUT/kernel-version" 2>/dev/null || echo '?'))"
    exit 0
fi

for tool in apt-get apt-cache dpkg dpkg-deb depmod cpio gzip xz; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found; run scripts/deps.sh"
done
[ -r "$KEYRING" ] || die "$KEYRING missing; install debian-archive-keyring (scripts/deps.sh)"

# ---- Mirror: the same one the host's apt uses --------------------------------
host_mirror() {
    uri=""
    if [ -r /etc/apt/sources.list.d/debian.sources ]; then
        uri=$(awk 'tolower($1) == "uris:" { for (i = 2; i <= NF; i++) print $i }' \
                  /etc/apt/sources.list.d/debian.sources | grep -v security | head -n 1 || true)
    fi
    if [ -z "$uri" ] && [ -r /etc/apt/sources.list ]; then
        uri=$(sed -e 's/#.*//' -e 's/\[[^]]*\]//' /etc/apt/sources.list |
              awk '$1 == "deb" { print $2 }' | grep -v security | head -n 1 || true)
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

# ---- Private apt --------------------------------------------------------------
APTDIR=$CACHE/apt
DEBS=$CACHE/debs
LOCK=$CACHE/packages.lock   # "kernel-deb busybox-deb", the resolved downloads
mkdir -p "$APTDIR/state/lists/partial" "$APTDIR/cache/archives/partial" \
         "$APTDIR/etc" "$DEBS" "$OUT"
touch "$APTDIR/state/status"

apt_private() {
    cmd=$1; shift
    "$cmd" \
        -o Dir::Etc::SourceList="$APTDIR/etc/sources.list" \
        -o Dir::Etc::SourceParts=/dev/null \
        -o Dir::Etc::Preferences=/dev/null \
        -o Dir::Etc::PreferencesParts=/dev/null \
        -o Dir::State="$APTDIR/state" \
        -o Dir::State::status="$APTDIR/state/status" \
        -o Dir::Cache="$APTDIR/cache" \
        -o APT::Architecture=riscv64 \
        -o APT::Architectures::=riscv64 \
        -o APT::Sandbox::User=root \
        "$@"
}

# Newest candidate version of a package in the private lists (empty if none).
pkg_version() {
    apt_private apt-cache show --no-all-versions "$1" 2>/dev/null |
        awk '/^Version:/ { print $2; exit }'
}

fetch_packages() {
    mirror=${TERN_DEBIAN_MIRROR:-$(host_mirror)}
    log "using mirror $mirror ($SUITE, riscv64)"
    echo "deb [arch=riscv64 signed-by=$KEYRING] $mirror $SUITE main" \
        > "$APTDIR/etc/sources.list"
    apt_private apt-get -q update >&2 || die "apt-get update (private, riscv64) failed"

    # linux-image-riscv64 is a metapackage: resolve it to the real image package.
    kpkg=$(apt_private apt-cache show --no-all-versions linux-image-riscv64 |
           awk -F': ' '/^Depends:/ { print $2; exit }' | tr ',|' '\n\n' |
           sed -e 's/(.*//' -e 's/[[:space:]]//g' | grep '^linux-image-[0-9]' | head -n 1)
    [ -n "$kpkg" ] || die "cannot resolve linux-image-riscv64 to a kernel package"
    if [ -z "$(pkg_version "$kpkg")" ] && [ -n "$(pkg_version "$kpkg-unsigned")" ]; then
        kpkg=$kpkg-unsigned
    fi
    log "kernel package: $kpkg $(pkg_version "$kpkg")"

    tmp=$CACHE/download.tmp
    rm -rf "$tmp"; mkdir -p "$tmp"
    (cd "$tmp" && apt_private apt-get -q download "$kpkg" busybox-static >&2) ||
        die "apt-get download failed"
    kdeb=$(cd "$tmp" && ls "$kpkg"_*.deb | head -n 1)
    bdeb=$(cd "$tmp" && ls busybox-static_*.deb | head -n 1)
    [ -n "$kdeb" ] && [ -n "$bdeb" ] || die "downloaded .debs not found"
    # Drop older versions, keep the new ones.
    rm -f "$DEBS"/*.deb
    mv "$tmp"/*.deb "$DEBS"/
    rmdir "$tmp"
    echo "$kdeb $bdeb" > "$LOCK"
}

kdeb="" bdeb=""
if [ -z "${TERN_GUEST_REFRESH:-}" ] && [ -f "$LOCK" ]; then
    read -r kdeb bdeb < "$LOCK" || true
fi
if [ -z "$kdeb" ] || [ ! -f "$DEBS/$kdeb" ] || [ ! -f "$DEBS/$bdeb" ]; then
    fetch_packages
    read -r kdeb bdeb < "$LOCK"
else
    log "using cached $kdeb, $bdeb (TERN_GUEST_REFRESH=1 to re-fetch)"
fi

# ---- Unpack ---------------------------------------------------------------------
# The kernel tree is unpacked (and depmod'ed) once per .deb and kept in the
# cache, so rebuilding the initramfs after editing guest/init is quick.
WORK=$CACHE/work
ROOT=$WORK/root
KTREE=$CACHE/kernel-tree
rm -rf "$WORK"
mkdir -p "$WORK/busybox" "$ROOT"
trap 'rm -rf "$WORK"' EXIT
dpkg -x "$DEBS/$bdeb" "$WORK/busybox"

if [ "$(cat "$KTREE/.from" 2>/dev/null)" != "$kdeb" ]; then
    rm -rf "$KTREE"
    mkdir -p "$KTREE"
    log "unpacking $kdeb"
    dpkg -x "$DEBS/$kdeb" "$KTREE"
    kver=$(ls "$KTREE"/boot/vmlinux-*-riscv64 2>/dev/null | head -n 1)
    [ -n "$kver" ] || die "no /boot/vmlinux-*-riscv64 in $kdeb"
    kver=${kver##*/vmlinux-}
    # The package ships no modules.dep (depmod runs at install time): make
    # one. Offer the tree at both lib/ and usr/lib/ so any depmod finds it.
    [ -e "$KTREE/lib" ] || ln -s usr/lib "$KTREE/lib"
    [ -e "$KTREE/usr/lib/modules" ] || {
        mkdir -p "$KTREE/usr/lib"; ln -s ../../lib/modules "$KTREE/usr/lib/modules"; }
    depmod -b "$KTREE" "$kver" || die "depmod on the full module tree failed"
    echo "$kdeb" > "$KTREE/.from"
fi

vmlinux=$(ls "$KTREE"/boot/vmlinux-*-riscv64 2>/dev/null | head -n 1)
[ -n "$vmlinux" ] || die "no /boot/vmlinux-*-riscv64 in $kdeb"
KVER=${vmlinux##*/vmlinux-}
KMOD=$KTREE/lib/modules/$KVER
[ -d "$KMOD/kernel" ] && [ -s "$KMOD/modules.dep" ] || die "no modules for $KVER in $kdeb"
log "kernel $KVER"

# ---- Module closure ---------------------------------------------------------------
# Prints "M <path>" for each module file to include, "B <name>" for wanted
# modules that are built in and "N <name>" for wanted ones that do not exist.
resolve_modules() {
    awk -v want="$WANT_MODULES" '
        function norm(s) { sub(/.*\//, "", s); sub(/\.ko(\.(xz|zst|gz))?$/, "", s); gsub(/-/, "_", s); return s }
        function add(n,   i, k, d, parts) {
            if (n in seen) return
            seen[n] = 1
            if (!(n in path)) return
            out[++nout] = path[n]
            k = split(deps[n], parts, " ")
            for (i = 1; i <= k; i++) add(norm(parts[i]))
            k = split(soft[n], parts, " ")
            for (i = 1; i <= k; i++) {
                d = parts[i]; gsub(/-/, "_", d)
                if (d in path) add(d)
                else if (d in alias) add(alias[d])
            }
        }
        FILENAME ~ /modules\.dep$/ {
            p = $1; sub(/:$/, "", p); n = norm(p); path[n] = p
            $1 = ""; deps[n] = $0; next
        }
        FILENAME ~ /modules\.builtin$/ { builtin[norm($1)] = 1; next }
        FILENAME ~ /modules\.alias$/ && $1 == "alias" {
            a = $2; gsub(/-/, "_", a); if (!(a in alias)) alias[a] = $3; next
        }
        FILENAME ~ /modules\.softdep$/ && $1 == "softdep" {
            n = $2; gsub(/-/, "_", n)
            for (i = 3; i <= NF; i++) if ($i != "pre:" && $i != "post:") soft[n] = soft[n] " " $i
            next
        }
        END {
            k = split(want, w, /[ \t\n]+/)
            for (i = 1; i <= k; i++) {
                if (w[i] == "") continue
                n = w[i]; gsub(/-/, "_", n)
                if (n in builtin) print "B " n
                else if (!(n in path)) print "N " n
                else add(n)
            }
            for (i = 1; i <= nout; i++) print "M " out[i]
        }
    ' "$KMOD/modules.dep" "$KMOD/modules.builtin" "$KMOD/modules.alias" "$KMOD/modules.softdep"
}
resolve_modules > "$WORK/modules.plan"

# ---- Initramfs tree -----------------------------------------------------------------
for d in bin sbin usr/bin usr/sbin usr/lib etc proc sys dev tmp run root mnt var/log; do
    mkdir -p "$ROOT/$d"
done
install -m 0755 "$WORK/busybox/usr/bin/busybox" "$ROOT/bin/busybox" 2>/dev/null ||
    install -m 0755 "$WORK/busybox/bin/busybox" "$ROOT/bin/busybox"
ln -s busybox "$ROOT/bin/sh"
install -m 0755 "$GUEST_SRC/init" "$ROOT/init"
# udhcpc's default hook: address, route and resolv.conf from the lease.
mkdir -p "$ROOT/etc/udhcpc"
install -m 0755 "$GUEST_SRC/udhcpc.script" "$ROOT/etc/udhcpc/default.script"
# A console node lets the kernel give /init its stdio; without root, /init
# falls back to opening /dev/console itself once devtmpfs is mounted.
mknod -m 0600 "$ROOT/dev/console" c 5 1 2>/dev/null || true
echo "tern-guest" > "$ROOT/etc/hostname"
echo "root:x:0:0:root:/root:/bin/sh" > "$ROOT/etc/passwd"
echo "root:x:0:" > "$ROOT/etc/group"
# Benchmarks: one multi-call binary, linked as /bench/<workload>, and hello.
bench=""
if [ -x "$BENCH_OUT/tbench" ] && [ -x "$BENCH_OUT/hello" ] && [ -r "$BENCH_OUT/workloads" ]; then
    mkdir -p "$ROOT/bench"
    install -m 0755 "$BENCH_OUT/tbench" "$BENCH_OUT/hello" "$ROOT/bench/"
    for w in $(cat "$BENCH_OUT/workloads"); do
        ln -s tbench "$ROOT/bench/$w"
        bench="$bench $w"
    done
    log "benchmarks in /bench:$bench"
fi

MODDIR=$ROOT/lib/modules/$KVER
mkdir -p "$MODDIR"
ln -s ../../lib/modules "$ROOT/usr/lib/modules"
cp "$KMOD/modules.order" "$KMOD/modules.builtin" "$MODDIR/"
[ -f "$KMOD/modules.builtin.modinfo" ] && cp "$KMOD/modules.builtin.modinfo" "$MODDIR/"
: > "$ROOT/etc/modules"
included="" builtin="" missing=""
while read -r kind what; do
    case "$kind" in
    B) builtin="$builtin $what" ;;
    N) missing="$missing $what" ;;
    M)
        mkdir -p "$MODDIR/$(dirname "$what")"
        case "$what" in
        *.ko.xz)  xz -dc "$KMOD/$what" > "$MODDIR/${what%.xz}" ;;
        *.ko.zst) zstd -qdc "$KMOD/$what" > "$MODDIR/${what%.zst}" ;;
        *.ko.gz)  gzip -dc "$KMOD/$what" > "$MODDIR/${what%.gz}" ;;
        *)        cp "$KMOD/$what" "$MODDIR/$what" ;;
        esac
        name=$(basename "$what"); name=${name%%.ko*}
        included="$included $name"
        echo "$name" >> "$ROOT/etc/modules"
        ;;
    esac
done < "$WORK/modules.plan"
# modules.order must name the files as they now are (decompressed .ko).
sed -i -e 's/\.ko\.\(xz\|zst\|gz\)$/.ko/' "$MODDIR/modules.order"
depmod -b "$ROOT" "$KVER" || die "depmod on the initramfs failed"
[ -s "$MODDIR/modules.dep" ] || die "depmod wrote no modules.dep"
log "modules included:$included"
log "modules built in:$builtin"
[ -z "$missing" ] || log "modules not in this kernel:$missing"

# ---- Outputs ------------------------------------------------------------------------
cp "$vmlinux" "$OUT/Image.tmp"
mv "$OUT/Image.tmp" "$OUT/Image"
echo "$KVER" > "$OUT/kernel-version"
{
    echo "kernel-package $kdeb"
    echo "busybox-package $bdeb"
    echo "included$included"
    echo "builtin$builtin"
    echo "missing$missing"
    echo "bench$bench"
} > "$OUT/kit-manifest"
# Fixed timestamps: the same inputs give the same initramfs, byte for byte.
find "$ROOT" -exec touch -h -d @0 {} +
(cd "$ROOT" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
    gzip -9 -n > "$OUT/initramfs.cpio.gz.tmp"
mv "$OUT/initramfs.cpio.gz.tmp" "$OUT/initramfs.cpio.gz"
# The same tree as an ext4 root disk, for root=/dev/vda (guest/init switches to it).
if [ -x "$TERN" ]; then
    rm -f "$OUT/rootfs.img.tmp"
    "$TERN" image from-dir "$ROOT" "$OUT/rootfs.img.tmp" 128M ||
        die "tern image from-dir failed to make the root disk"
    mv "$OUT/rootfs.img.tmp" "$OUT/rootfs.img"
    log "wrote $OUT/rootfs.img (ext4, boot it with --disk file=... and root=/dev/vda)"
else
    rm -f "$OUT/rootfs.img"
    log "warning: $TERN not built yet; no root disk (run make, then this again)"
fi
log "wrote $OUT/Image ($(wc -c < "$OUT/Image") bytes)," \
    "$OUT/initramfs.cpio.gz ($(wc -c < "$OUT/initramfs.cpio.gz") bytes)"
