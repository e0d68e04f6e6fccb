#!/bin/sh
# deps.sh: install the Debian packages the build and tests need, only those that are missing.
set -e
need=""
# libc6-dev-arm64-cross: glibc for static Linux programs (guests/linux/memprobe.c).
# clang-14 and libclang-rt-14-dev: the fuzz targets (tests/fuzz/fuzz.mk): the compiler, and
# libFuzzer with the sanitizer runtimes.
# fdisk (sfdisk) and e2fsprogs (mkfs.ext4, debugfs): the board's disk image (scripts/mkdisk.sh).
# dpkg-dev (dpkg-source): Mbed TLS from Debian's source package (scripts/mbedtls.sh).
# python3-cryptography and python3-cbor2: the host side of the vault's crypto (test_vcrypto.py,
# test_attest.py, tools/pvverify, scripts/factory.py).
for pkg in make gcc libc6-dev gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu \
	libc6-dev-arm64-cross qemu-system-arm device-tree-compiler libfdt-dev python3 python3-pytest \
	clang-14 libclang-rt-14-dev fdisk e2fsprogs dpkg-dev python3-cryptography python3-cbor2; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need="$need $pkg"
done
[ -z "$need" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$need (run as root, or install them with apt-get)" >&2
	exit 1
fi
echo "deps: installing$need"
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $need
