#!/bin/sh
# linux-guest.sh: fetch Debian bookworm's arm64 kernel and busybox-static into the build cache
# and extract them. Usage: linux-guest.sh kernel|busybox CACHE_DIR OUT_DIR [MODULE...]
#   kernel   OUT_DIR/Image (a plain arm64 Image), OUT_DIR/config (the kernel's .config) and
#            OUT_DIR/modules/NAME.ko for each MODULE, a path under the package's kernel/ without
#            .ko (net/vmw_vsock/vsock): the modules of the same package, so they fit the Image
#   busybox  OUT_DIR/busybox (static arm64 binary)
# The .debs stay in CACHE_DIR: once they are there, nothing touches the network.
set -eu
what=$1 cache=$2 out=$3
shift 3
mkdir -p "$cache" "$out"

# The cached .deb of package $1 (the first if a refresh left several), or nothing.
cached() {
	set -- "$cache/$1"_*_arm64.deb
	[ -f "$1" ] && echo "$1"
}

# arm64 package lists are needed once, to resolve arm64 packages; only root can add them.
ensure_arm64_lists() {
	dpkg --print-foreign-architectures | grep -qx arm64 &&
		apt-cache show busybox-static:arm64 >/dev/null 2>&1 && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "linux-guest: Debian's arm64 package lists are missing; as root run:" >&2
		echo "  dpkg --add-architecture arm64 && apt-get update" >&2
		exit 1
	fi
	echo "linux-guest: adding the arm64 architecture to apt"
	dpkg --add-architecture arm64
	apt-get update -q
}

# Downloads package $1 (name[:arch][=version]) into the cache. apt's sandbox user _apt may not
# write to the cache folder, and as root the download then warns; the user we are is enough.
download() {
	ensure_arm64_lists
	sandbox=""
	[ "$(id -u)" = 0 ] && sandbox="-o APT::Sandbox::User=root"
	# shellcheck disable=SC2086 # $sandbox is either empty or two words
	(cd "$cache" && apt-get -q $sandbox download "$1")
}

# The cached .deb of package $1 (arm64), downloading it first when it is not cached.
fetch() {
	deb=$(cached "$1") || { download "$1:arm64" >&2 && deb=$(cached "$1"); } || {
		echo "linux-guest: $1 was not downloaded" >&2
		exit 1
	}
	echo "$deb"
}

# linux-image-arm64 only depends on the current ABI's package: "linux-image-6.1.0-N-arm64 (= V)".
kernel() {
	meta=$(fetch linux-image-arm64)
	dep=$(dpkg-deb -f "$meta" Depends | sed -n 's/^\(linux-image-[^ ,]*\) (= \([^)]*\)).*/\1 \2/p')
	[ -n "$dep" ] || { echo "linux-guest: unexpected Depends in $meta" >&2; exit 1; }
	pkg=${dep% *} version=${dep#* }
	deb=$(cached "$pkg") || { download "$pkg:arm64=$version" && deb=$(cached "$pkg"); }
	kver=${pkg#linux-image-}
	tmp="$out/kernel.tmp"
	rm -rf "$tmp" "$out/modules" && mkdir -p "$tmp" "$out/modules"
	# Only ./boot and the modules asked for: all of them are about 300 MB unpacked.
	members=""
	for m in "$@"; do
		members="$members ./lib/modules/$kver/kernel/$m.ko"
	done
	# shellcheck disable=SC2086 # $members is a list of paths without spaces
	dpkg-deb --fsys-tarfile "$deb" | tar -xm -C "$tmp" ./boot $members
	for m in "$@"; do
		mv "$tmp/lib/modules/$kver/kernel/$m.ko" "$out/modules/"
	done
	check_module_depends "$out/modules"
	vmlinuz=$(ls "$tmp"/boot/vmlinuz-*)
	# An arm64 Image has the magic "ARM\x64" at offset 0x38 (Documentation/arm64/booting.rst);
	# some distributions ship it gzipped instead.
	if [ "$(od -An -tx1 -j56 -N4 "$vmlinuz" | tr -d ' ')" = 41524d64 ]; then
		cp "$vmlinuz" "$out/Image"
	elif gzip -t "$vmlinuz" 2>/dev/null; then
		gzip -dc "$vmlinuz" >"$out/Image"
	else
		echo "linux-guest: $vmlinuz is neither an arm64 Image nor gzip" >&2
		exit 1
	fi
	cp "$tmp"/boot/config-* "$out/config"
	echo "linux-guest: $(basename "$vmlinuz") ($version) -> $out/Image, $# modules -> $out/modules"
	rm -rf "$tmp"
}

# Every module a module depends on (its .modinfo "depends=", as `modinfo -F depends` shows it) must
# be among the extracted ones, or insmod would fail at boot with "Unknown symbol".
check_module_depends() {
	for ko in "$1"/*.ko; do
		deps=$(tr '\0' '\n' <"$ko" | sed -n 's/^depends=//p' | tr ',' ' ')
		for d in $deps; do
			[ -f "$1/$d.ko" ] || {
				echo "linux-guest: $(basename "$ko") depends on $d.ko, which is not extracted" >&2
				exit 1
			}
		done
	done
}

busybox() {
	deb=$(fetch busybox-static)
	tmp="$out/busybox.tmp"
	rm -rf "$tmp" && mkdir -p "$tmp"
	dpkg-deb --fsys-tarfile "$deb" | tar -xm -C "$tmp" ./bin/busybox
	mv "$tmp/bin/busybox" "$out/busybox"
	rm -rf "$tmp"
	echo "linux-guest: $(basename "$deb") -> $out/busybox"
}

case $what in
kernel) kernel "$@" ;;
busybox) busybox ;;
*) echo "usage: $0 kernel|busybox CACHE_DIR OUT_DIR [MODULE...]" >&2; exit 2 ;;
esac
