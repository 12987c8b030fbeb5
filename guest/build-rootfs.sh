#!/bin/sh
# build-rootfs.sh: build the reference systemd root filesystem, Debian trixie
# riscv64 (mmdebstrap, minbase + systemd, udev, cloud-init, ssh), as
# build/rootfs/trixie.tar.zst and build/rootfs/trixie.img (raw ext4, root=/dev/vda).
# The result is cached under ~/.cache/tern/rootfs/KEY/, keyed by its inputs.
set -eu

REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT=$REPO/build/rootfs
SUITE=${TERN_ROOTFS_SUITE:-trixie}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
KIT_CACHE=$REPO/build/guest-cache
CACHE_TOP=${XDG_CACHE_HOME:-$HOME/.cache}/tern/rootfs
IMG_SIZE=${TERN_ROOTFS_SIZE:-2G}
# What the image holds besides minbase. cloud-init brings python3 and reads a
# NoCloud seed (vfat/iso9660: the modules come from the kit's kernel, below);
# dbus lets hostnamectl and friends work; ifupdown is cloud-init's ENI renderer.
PACKAGES="systemd systemd-sysv udev dbus kmod iproute2 iputils-ping ifupdown
cloud-init openssh-server"
# Kernel module folders left out of the image (hardware a tern guest lacks).
MODULE_EXCLUDES="kernel/sound kernel/drivers/gpu kernel/drivers/media
kernel/drivers/net/wireless kernel/drivers/net/ethernet kernel/drivers/infiniband
kernel/drivers/iio kernel/drivers/staging kernel/drivers/usb kernel/drivers/hid"
ROOT_PASSWORD=tern

log() { echo "build-rootfs: $*" >&2; }
die() { echo "build-rootfs: error: $*" >&2; exit 1; }
now() { date +%s; }

# ---- The kit's kernel: its modules go into the rootfs -------------------------
[ -s "$KIT_CACHE/packages.lock" ] && [ -d "$KIT_CACHE/kernel-tree/lib/modules" ] ||
    "$REPO/guest/build-kit.sh" || die "guest/build-kit.sh failed"
read -r KDEB _ < "$KIT_CACHE/packages.lock"
KTREE=$KIT_CACHE/kernel-tree
KVER=$(ls "$KTREE/lib/modules" | head -n 1)
[ -n "$KVER" ] && [ -d "$KTREE/lib/modules/$KVER/kernel" ] || die "no modules in $KTREE"

# ---- Cache key: everything that shapes the result ------------------------------
KEY=$({ cat "$0"; echo "$PACKAGES|$SUITE|$KDEB|$IMG_SIZE|$MODULE_EXCLUDES"; } |
      sha256sum | cut -c1-16)
CACHE=$CACHE_TOP/$KEY
mkdir -p "$OUT"

publish() {
    # Copy (sparse, reflink when possible) so that a VM writing to
    # build/rootfs/trixie.img never changes the cached copy.
    for f in "$SUITE.tar.zst" "$SUITE.img"; do
        if ! cmp -s "$CACHE/$f.sha256" "$OUT/$f.sha256" 2>/dev/null || [ ! -f "$OUT/$f" ]; then
            log "copying $f from the cache"
            cp --sparse=always --reflink=auto "$CACHE/$f" "$OUT/$f.tmp"
            mv "$OUT/$f.tmp" "$OUT/$f"
            cp "$CACHE/$f.sha256" "$OUT/$f.sha256"
        fi
    done
    cp "$CACHE/manifest" "$OUT/$SUITE.manifest"
    log "$OUT/$SUITE.img and $OUT/$SUITE.tar.zst ready (key $KEY)"
}

if [ -z "${TERN_ROOTFS_REBUILD:-}" ] && [ -f "$CACHE/manifest" ]; then
    log "using cached rootfs $CACHE (TERN_ROOTFS_REBUILD=1 to rebuild)"
    publish
    exit 0
fi

[ "$(id -u)" = 0 ] || die "run as root (mmdebstrap needs it to set owners and device nodes)"
for t in mmdebstrap arch-test mke2fs zstd depmod openssl; do
    command -v "$t" >/dev/null 2>&1 || die "$t missing (make deps)"
done
[ -r "$KEYRING" ] || die "$KEYRING missing; install debian-archive-keyring (make deps)"

# ---- Running riscv64 binaries: binfmt_misc + qemu-user-static -------------------
BINFMT=/proc/sys/fs/binfmt_misc
setup_binfmt() {
    [ -e "$BINFMT/register" ] || modprobe binfmt_misc 2>/dev/null || true
    [ -e "$BINFMT/register" ] || mount -t binfmt_misc binfmt_misc "$BINFMT" ||
        die "cannot mount binfmt_misc on $BINFMT"
    if ! grep -qx enabled "$BINFMT/qemu-riscv64" 2>/dev/null; then
        log "registering qemu-riscv64 with binfmt_misc"
        update-binfmts --enable qemu-riscv64 2>/dev/null || true
    fi
    if ! grep -qx enabled "$BINFMT/qemu-riscv64" 2>/dev/null; then
        q=$(command -v qemu-riscv64-static) || die "qemu-user-static missing (make deps)"
        # The ELF header of a riscv64 executable, as qemu's own binfmt files give it.
        printf '%s' ":qemu-riscv64:M::\\x7fELF\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\xf3\\x00:\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:$q:F" \
            > "$BINFMT/register" || die "cannot register qemu-riscv64 with binfmt_misc"
    fi
    grep -qx enabled "$BINFMT/qemu-riscv64" ||
        die "riscv64 binaries cannot run here (binfmt_misc); the second stage needs them"
}
setup_binfmt

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
MIRROR=${TERN_DEBIAN_MIRROR:-$(host_mirror)}

# ---- Bootstrap ------------------------------------------------------------------
T0=$(now)
WORK=$CACHE_TOP/work.$$
ROOT=$WORK/root
DEBCACHE=$CACHE_TOP/debs        # downloaded .debs, reused by the next build
rm -rf --one-file-system "$WORK"
mkdir -p "$WORK" "$DEBCACHE"
# --one-file-system: never into /proc or /dev of a chroot a killed mmdebstrap left mounted.
trap 'rm -rf --one-file-system "$WORK"' EXIT
trap 'exit 1' INT TERM
log "mmdebstrap $SUITE riscv64 from $MIRROR (minbase +" $PACKAGES ")"
mmdebstrap --variant=minbase --arch=riscv64 --mode=root --format=directory \
    --include="$(echo $PACKAGES | tr ' ' ',')" \
    --aptopt='Acquire::Retries "3"' \
    --skip=essential/unlink --skip=download/empty \
    --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
    --setup-hook="sync-in $DEBCACHE /var/cache/apt/archives/" \
    --customize-hook="sync-out /var/cache/apt/archives $DEBCACHE" \
    --customize-hook='rm -f "$1"/var/cache/apt/archives/*.deb' \
    "$SUITE" "$ROOT" "deb [signed-by=$KEYRING] $MIRROR $SUITE main" >&2 ||
    die "mmdebstrap failed"
T1=$(now)
log "bootstrap took $((T1 - T0)) s"

# ---- Configure for tern: virtio disk root, serial console, known root login ----
log "configuring the root filesystem"
echo "$SUITE" > "$ROOT/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' \
    "$SUITE" > "$ROOT/etc/hosts"
cat > "$ROOT/etc/fstab" <<'EOF'
# <file system> <mount point> <type> <options> <dump> <pass>
/dev/vda	/	ext4	defaults,errors=remount-ro	0	0
EOF
# root's password is "tern"; the serial console logs root in by itself.
hash=$(openssl passwd -6 -salt ternroot "$ROOT_PASSWORD")
sed -i "s|^root:[^:]*:|root:$hash:|" "$ROOT/etc/shadow"
mkdir -p "$ROOT/etc/systemd/system/serial-getty@ttyS0.service.d" \
         "$ROOT/etc/systemd/system/getty.target.wants"
cat > "$ROOT/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf" <<'EOF'
[Service]
ExecStart=
ExecStart=-/sbin/agetty -o '-f -- \\u' --autologin root --keep-baud 115200,57600,38400,9600 - $TERM
EOF
ln -sf /usr/lib/systemd/system/serial-getty@.service \
    "$ROOT/etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service"
# ifupdown: loopback only; cloud-init writes the rest from a NoCloud seed.
mkdir -p "$ROOT/etc/network/interfaces.d"
printf 'auto lo\niface lo inet loopback\n\nsource /etc/network/interfaces.d/*\n' \
    > "$ROOT/etc/network/interfaces"
# cloud-init looks for a NoCloud seed (or a config drive); without one
# ds-identify turns it off (a list of one would skip that check).
mkdir -p "$ROOT/etc/cloud/cloud.cfg.d"
echo "datasource_list: [ NoCloud, ConfigDrive ]" > "$ROOT/etc/cloud/cloud.cfg.d/90_dpkg.cfg"
# A first boot generates its own machine id.
: > "$ROOT/etc/machine-id"
rm -f "$ROOT/var/lib/dbus/machine-id"
rm -rf "$ROOT/var/lib/apt/lists/"* "$ROOT/var/cache/apt/"*.bin

# Slow emulated boots on a loaded host: wait for devices (ttyS0) and units
# longer than systemd's 90 s before failing them.
mkdir -p "$ROOT/etc/systemd/system.conf.d"
printf '[Manager]\nDefaultDeviceTimeoutSec=600s\nDefaultTimeoutStartSec=600s\n' \
    > "$ROOT/etc/systemd/system.conf.d/50-tern.conf"

# The kit's kernel modules (compressed as Debian ships them; kmod reads .ko.xz).
log "adding kernel modules $KVER"
mkdir -p "$ROOT/usr/lib/modules"
excl=""
for e in $MODULE_EXCLUDES; do excl="$excl --exclude=./$e"; done
# shellcheck disable=SC2086
(cd "$KTREE/lib/modules/$KVER" && tar -cf - $excl .) |
    (mkdir -p "$ROOT/usr/lib/modules/$KVER" && cd "$ROOT/usr/lib/modules/$KVER" && tar -xf -)
rm -f "$ROOT/usr/lib/modules/$KVER/build" "$ROOT/usr/lib/modules/$KVER/source"
depmod -b "$ROOT" "$KVER" 2>/dev/null || depmod -b "$ROOT/usr" "$KVER" ||
    die "depmod on the rootfs failed"
[ -s "$ROOT/usr/lib/modules/$KVER/modules.dep" ] || die "depmod wrote no modules.dep"

# /usr is final: mark /etc and /var up to date with it, so that a first boot
# skips ldconfig, the journal catalog and systemd-update-done
# (ConditionNeedsUpdate), which cost a minute on an emulated CPU.
for d in etc var; do
    printf 'TIMESTAMP_NSEC=%s000000000\n' "$(stat -c %Y "$ROOT/usr")" > "$ROOT/$d/.updated"
    touch -r "$ROOT/usr" "$ROOT/$d/.updated"
done

# ---- Outputs: a tarball and a raw ext4 image, into the cache --------------------
STAGE=$WORK/out
mkdir -p "$STAGE"
log "packing $SUITE.tar.zst"
tar --numeric-owner --xattrs --xattrs-include='*' --acls -C "$ROOT" -cf - . |
    zstd -q -T2 -12 > "$STAGE/$SUITE.tar.zst" || die "tar | zstd failed"
log "making $SUITE.img ($IMG_SIZE, ext4)"
truncate -s "$IMG_SIZE" "$STAGE/$SUITE.img"
mke2fs -q -F -t ext4 -L "$SUITE-root" -d "$ROOT" "$STAGE/$SUITE.img" || die "mke2fs -d failed"
T2=$(now)
for f in "$SUITE.tar.zst" "$SUITE.img"; do
    (cd "$STAGE" && sha256sum "$f" > "$f.sha256")
done
{
    echo "suite $SUITE"
    echo "mirror $MIRROR"
    echo "kernel $KVER ($KDEB)"
    echo "packages $(echo $PACKAGES)"
    echo "root-password $ROOT_PASSWORD"
    echo "installed $(dpkg-query --admindir="$ROOT/var/lib/dpkg" -W -f "\${Package}\\n" | wc -l) packages"
    echo "bootstrap-seconds $((T1 - T0))"
    echo "total-seconds $((T2 - T0))"
} > "$STAGE/manifest"
rm -rf "$CACHE"
mkdir -p "$CACHE_TOP"
mv "$STAGE" "$CACHE"
# Older builds (other keys) are dropped: one rootfs is about 700 MB.
for old in "$CACHE_TOP"/*; do
    case "${old##*/}" in
    "$KEY") ;;
    [0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]*) rm -rf "$old" ;;
    esac
done
log "built in $((T2 - T0)) s (bootstrap $((T1 - T0)) s); cached in $CACHE"
publish
