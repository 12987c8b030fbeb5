#!/bin/sh
# deps.sh: install the Debian packages tern needs to build, test and benchmark.
# Idempotent: checks dpkg first, so a second run is instant and needs no network.
set -eu

# The one list of packages tern needs.
PACKAGES="
build-essential pkg-config libfdt-dev libcmocka-dev python3-pytest
gcc-riscv64-linux-gnu binutils-riscv64-linux-gnu libc6-dev-riscv64-cross
qemu-system-misc opensbi device-tree-compiler qemu-utils
clang libclang-rt-14-dev
cpio gzip xz-utils zstd kmod e2fsprogs
libzstd-dev libslirp-dev libvdeplug-dev vde2 libssl-dev libjansson-dev libxxhash-dev
debian-archive-keyring ca-certificates apt
libxml2-dev libxml2-utils libcurl4-openssl-dev libcivetweb-dev libarchive-dev libext2fs-dev comerr-dev
etcd-server etcd-client mmdebstrap qemu-user-static binfmt-support mtools dosfstools xorriso
iproute2 iputils-ping bridge-utils chromium
arch-test
"

# npm: the machine image may carry its own Node.js (with npm); Debian's npm
# conflicts with such a nodejs, so it is asked for only when npm is missing.
command -v npm >/dev/null 2>&1 || PACKAGES="$PACKAGES nodejs npm"

# One dpkg-query call; a package counts as present only when fully installed.
# shellcheck disable=SC2086
installed=" $(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' $PACKAGES 2>/dev/null |
              awk '$2 == "ii" { print $1 }' | tr '\n' ' ') "
missing=""
for p in $PACKAGES; do
    case "$installed" in
        *" $p "*) ;;
        *) missing="$missing $p" ;;
    esac
done

# The integration tests run `python3 -m pytest`: warn when the python3 first
# on PATH (say a pyenv one) cannot see Debian's python3-pytest.
check_pytest() {
    if ! python3 -c 'import pytest' >/dev/null 2>&1; then
        echo "deps: warning: '$(command -v python3)' cannot import pytest;" \
             "Debian's python3-pytest is for /usr/bin/python3 (put /usr/bin first in PATH)" >&2
    fi
}

if [ -z "$missing" ]; then
    echo "deps: all packages present"
    check_pytest
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing Debian packages:$missing" >&2
    echo "deps: run 'sudo scripts/deps.sh' (or 'sudo make deps') to install them" >&2
    exit 1
fi

echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086
apt-get install -y --no-install-recommends $missing
check_pytest
