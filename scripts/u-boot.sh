#!/bin/sh
# u-boot.sh CACHE OUT: Debian's U-Boot for QEMU virt (package u-boot-qemu, qemu_arm64) as OUT,
# the raw image a firmware VM boots (docs/config.md, "Boot modes"). The .deb is kept in CACHE:
# after the first build nothing uses the network.
set -eu
cache=$1 out=$2
mkdir -p "$cache" "$(dirname "$out")"
cached() { ls "$cache"/u-boot-qemu_*_all.deb 2>/dev/null | tail -n 1; }
deb=$(cached)
if [ -z "$deb" ]; then
	sandbox=""
	[ "$(id -u)" = 0 ] && sandbox="-o APT::Sandbox::User=root"
	# shellcheck disable=SC2086 # $sandbox is either empty or two words
	(cd "$cache" && apt-get -q $sandbox download u-boot-qemu)
	deb=$(cached)
fi
[ -n "$deb" ] || { echo "u-boot: u-boot-qemu was not downloaded" >&2; exit 1; }
tmp="$out.tmp"
rm -rf "$tmp" && mkdir -p "$tmp"
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" ./usr/lib/u-boot/qemu_arm64/u-boot.bin
mv "$tmp/usr/lib/u-boot/qemu_arm64/u-boot.bin" "$out"
rm -rf "$tmp"
