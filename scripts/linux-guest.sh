#!/bin/sh
# linux-guest.sh: fetch Debian bookworm's arm64 kernel, busybox-static and socat into the build
# cache and extract them. Usage: linux-guest.sh kernel|busybox|socat CACHE_DIR OUT_DIR [MODULE...]
#   kernel   OUT_DIR/Image (a plain arm64 Image), OUT_DIR/config (the kernel's .config) and
#            OUT_DIR/modules/NAME.ko for each MODULE, a path under the package's kernel/ without
#            .ko (net/vmw_vsock/vsock): the modules of the same package, so they fit the Image
#   busybox  OUT_DIR/busybox (static arm64 binary)
#   socat    OUT_DIR/socat/ (socat and the shared objects it loads, at their Debian paths) and
#            OUT_DIR/socat.list, their entries for scripts/mkcpio.py
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

# The packages a .deb depends on: names only, the first of each set of alternatives.
depends() {
	dpkg-deb -f "$1" Depends | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/:any//; s/[[:space:]]//g'
}

# The sonames an ELF file names in NEEDED entries, and its loader (PT_INTERP) as a path.
needed() {
	"$READELF" -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
	"$READELF" -l "$1" | sed -n 's/.*\[Requesting program interpreter: \(.*\)\]/\1/p'
}

# socat and exactly the shared objects the loader maps for it: the closure of its NEEDED entries
# and its loader (PT_INTERP). Each object comes from a package that the package needing it depends
# on (Debian's shlibs make that so), and only the packages that hold one are fetched. Symbolic
# links (soname -> file) stay links, at the paths Debian installs them.
socat() {
	READELF=${READELF:-aarch64-linux-gnu-readelf}
	tmp="$out/socat.tmp" root="$out/socat" list="$out/socat.list"
	rm -rf "$tmp" "$root" && mkdir -p "$tmp" "$root"
	fetched=" "
	unpack socat
	: >"$list.tmp"
	todo=socat:/usr/bin/socat copied=" "
	while [ -n "$todo" ]; do
		# shellcheck disable=SC2086 # $todo is a list of PKG:PATH words
		set -- $todo
		pkg=${1%%:*} path=${1#*:}
		shift
		todo=$*
		case $copied in *" $path "*) continue ;; esac
		copied="$copied$path "
		src=$tmp/$pkg$path
		mkdir -p "$root$(dirname "$path")"
		if [ -L "$src" ]; then
			target=$(readlink "$src")
			ln -s "$target" "$root$path"
			echo "slink $path $target" >>"$list.tmp"
			case $target in /*) ;; *) target=$(dirname "$path")/$target ;; esac
			locate "$pkg" "$target"
			todo="$todo $found"
			continue
		fi
		cp -p "$src" "$root$path"
		echo "file  $path $root$path $(stat -c %a "$src")" >>"$list.tmp"
		for so in $(needed "$src"); do
			case $so in
			/*) locate "$pkg" "$so" ;;
			*) locate "$pkg" "/lib/aarch64-linux-gnu/$so" "/usr/lib/aarch64-linux-gnu/$so" ;;
			esac
			todo="$todo $found"
		done
	done
	mv "$list.tmp" "$list"
	rm -rf "$tmp"
	echo "linux-guest: socat, $(grep -c '^file' "$list") files from$fetched-> $root"
}

# Unpacks package $1 into $tmp/$1, once.
unpack() {
	case $fetched in *" $1 "*) return 0 ;; esac
	deb=$(fetch "$1")
	mkdir -p "$tmp/$1"
	dpkg-deb -x "$deb" "$tmp/$1"
	fetched="$fetched$1 "
}

# Sets $found to PKG:PATH for the first of the paths $2... that an unpacked package holds; if
# none does yet, unpacks the packages that package $1 depends on, one at a time, until one does.
locate() {
	from=$1
	shift
	holds "$@" && return 0
	for dep in $(depends "$(cached "$from")"); do
		case $fetched in *" $dep "*) continue ;; esac
		unpack "$dep"
		holds "$@" && return 0
	done
	echo "linux-guest: none of $* is in $from or a package it depends on" >&2
	exit 1
}

holds() {
	for held_by in $fetched; do
		for held in "$@"; do
			if [ -e "$tmp/$held_by$held" ] || [ -L "$tmp/$held_by$held" ]; then
				found=$held_by:$held
				return 0
			fi
		done
	done
	return 1
}

case $what in
kernel) kernel "$@" ;;
busybox) busybox ;;
socat) socat ;;
*) echo "usage: $0 kernel|busybox|socat CACHE_DIR OUT_DIR [MODULE...]" >&2; exit 2 ;;
esac
