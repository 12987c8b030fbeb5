#!/bin/sh
# fetch_qemu_qmp.sh: QEMU's own Python QMP library (python/qemu/qmp) and
# qmp-shell (scripts/qmp/qmp-shell) from Debian's qemu source package, for
# test_qemu_qmp.py. apt-get source runs with a private configuration (a
# deb-src line for the host's own mirror and suite); the host's apt setup is
# untouched. Only those files are kept, in ~/.cache/tern/qemu-qmp/VERSION/,
# keyed by the source package's version. Prints that folder.
set -eu

CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/tern/qemu-qmp
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
log() { echo "fetch_qemu_qmp: $*" >&2; }
die() { echo "fetch_qemu_qmp: error: $*" >&2; exit 1; }

ready() { [ -f "$1/python/qemu/qmp/__init__.py" ] && [ -f "$1/scripts/qmp/qmp-shell" ]; }
if [ -L "$CACHE/current" ] && ready "$CACHE/current" && [ -z "${TERN_REFETCH:-}" ]; then
    readlink -f "$CACHE/current"
    exit 0
fi

command -v apt-get >/dev/null || die "no apt-get (not a Debian host)"
[ -r "$KEYRING" ] || die "no $KEYRING"
# The host's mirror and suite, from its own sources (deb822 or one-line).
. /etc/os-release
suite=${VERSION_CODENAME:-}
[ -n "$suite" ] || die "no VERSION_CODENAME in /etc/os-release"
mirror=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' \
    /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) \
    if ($i ~ /^https?:/) { print $i; exit } }' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$mirror" ] || die "cannot find the host's Debian mirror in /etc/apt"

work=$CACHE/apt
mkdir -p "$work/state/lists/partial" "$work/cache/archives/partial" "$work/src"
echo "deb-src [signed-by=$KEYRING] $mirror $suite main" > "$work/sources.list"
: > "$work/state/status"
set -- -o Dir::Etc::SourceList="$work/sources.list" -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::State="$work/state" -o Dir::State::status="$work/state/status" \
    -o Dir::Cache="$work/cache" -o APT::Sandbox::User="$(id -un)" -q
log "apt-get update ($mirror $suite, deb-src)"
apt-get "$@" update >&2 || die "apt-get update failed"
rm -f "$work/src/"*
log "apt-get source --download-only qemu"
(cd "$work/src" && apt-get "$@" source --download-only qemu >&2) || die "apt-get source qemu failed"
dsc=$(ls "$work/src/"*.dsc | head -1)
version=$(awk '/^Version:/ { print $2; exit }' "$dsc")
orig=$(ls "$work/src/"*.orig.tar.* | head -1)
dest=$CACHE/qemu-$(echo "$version" | tr ':/' '__')
rm -rf "$dest.tmp"
mkdir -p "$dest.tmp"
top=$(tar -tf "$orig" | head -1 | cut -d/ -f1)
tar -xf "$orig" -C "$dest.tmp" --strip-components=1 "$top/python/qemu/qmp" "$top/scripts/qmp/qmp-shell" ||
    die "$orig has no python/qemu/qmp or scripts/qmp/qmp-shell"
echo "$version" > "$dest.tmp/VERSION"
rm -rf "$dest" "$work/src"
mv "$dest.tmp" "$dest"
ln -sfn "$(basename "$dest")" "$CACHE/current"
ready "$dest" || die "extraction incomplete in $dest"
log "QEMU $version QMP library and qmp-shell in $dest"
echo "$dest"
