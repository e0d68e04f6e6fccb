#!/bin/sh
# mbedtls.sh: Debian's source package of Mbed TLS, fetched once into the build cache and unpacked
# with Debian's patches applied. Usage: mbedtls.sh CACHE_DIR (e.g. build/cache/mbedtls)
#   CACHE_DIR/src/         the patched source tree; CACHE_DIR/src/.debian-version is written last,
#                          so a tree without it is an interrupted unpack and is redone
#   CACHE_DIR/dl/          the .dsc and tarballs apt-get fetched: with them, no network at all
#   CACHE_DIR/apt/         a private apt: deb-src twins of the system's sources, their lists
# Needs no root and leaves the system's apt configuration and lists alone.
set -eu
[ $# -eq 1 ] || { echo "usage: $0 CACHE_DIR" >&2; exit 2; }
mkdir -p "$1"
cache=$(cd "$1" && pwd)
src=$cache/src dl=$cache/dl apt=$cache/apt
pkg=mbedtls

say() { echo "mbedtls: $*"; }
die() { echo "mbedtls: error: $*" >&2; exit 1; }

# Two builds in one tree (two makes at once) may both find the tree missing: the second waits
# for the first here, then finds it ready.
if command -v flock >/dev/null; then
	exec 9>"$cache/.lock"
	flock 9
fi
if [ -f "$src/.debian-version" ]; then
	say "Debian source $(cat "$src/.debian-version") already unpacked in $src"
	exit 0
fi

# The deb822 stanzas of the system's .sources files that are enabled and carry binary or source
# packages, with Types turned into deb-src; every other field (URIs, Suites, Components,
# Signed-By, even an inline key) is kept as it is.
deb822_src() {
	awk '
	function flush() {
		if (n && !off && deb) { print "Types: deb-src"; for (i = 1; i <= n; i++) print f[i]; print "" }
		n = 0; off = 0; deb = 0; keep = 0
	}
	/^#/ { next }
	/^[ \t]*$/ { flush(); next }
	/^[ \t]/ { if (keep) f[++n] = $0; next }
	{
		name = tolower($0); sub(/:.*/, "", name)
		val = $0; sub(/^[^:]*:[ \t]*/, "", val)
		keep = 1
		if (name == "types") { deb = (" " val " ") ~ /[ \t]deb(-src)?[ \t]/; keep = 0; next }
		if (name == "enabled" && tolower(val) == "no") off = 1
		f[++n] = $0
	}
	END { flush() }' "$@"
}

# One-line entries of sources.list: the deb-src twin of each deb line (options kept).
oneline_src() {
	sed -n 's/^[ \t]*deb\(-src\)\{0,1\}[ \t]\{1,\}/deb-src /p' "$@"
}

private_apt() {
	rm -rf "$apt"
	mkdir -p "$apt/sources.list.d" "$apt/lists/partial" "$apt/cache/archives/partial"
	: >"$apt/sources.list"
	[ -f /etc/apt/sources.list ] && oneline_src /etc/apt/sources.list >"$apt/sources.list"
	set -- /etc/apt/sources.list.d/*.sources
	[ -f "$1" ] && deb822_src "$@" >"$apt/sources.list.d/system.sources"
	for f in /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] && oneline_src "$f" >>"$apt/sources.list"
	done
	count=$(($(grep -c '^deb-src' "$apt/sources.list") +
		$(grep -c '^Types: deb-src' "$apt/sources.list.d/system.sources" 2>/dev/null || :)))
	[ "$count" -gt 0 ] || die "no deb sources in /etc/apt/sources.list{,.d} to mirror as deb-src"
	say "$count system source entries mirrored as deb-src in $apt"
}

# apt-get with the private sources, lists and caches. As root, apt would drop to its _apt user
# for downloads, which may not write to the build tree: the user we are is enough.
apt_private() {
	sandbox=""
	[ "$(id -u)" = 0 ] && sandbox="-o APT::Sandbox::User=root"
	# shellcheck disable=SC2086 # $sandbox is either empty or two words
	apt-get -q $sandbox -o Dir::Etc::SourceList="$apt/sources.list" \
		-o Dir::Etc::SourceParts="$apt/sources.list.d" -o Dir::State::Lists="$apt/lists" \
		-o Dir::Cache="$apt/cache" -o Acquire::Languages=none "$@"
}

# The single .dsc in dl/, or nothing.
dsc_file() {
	set -- "$dl"/*.dsc
	[ $# -eq 1 ] && [ -f "$1" ] && echo "$1"
}

# The " sha256 size name" lines of the .dsc's Checksums-Sha256 field.
dsc_sha256() {
	awk '/^Checksums-Sha256:/ { on = 1; next } on && /^ / { print; next } { on = 0 }' "$1"
}

# Every file the .dsc names is in dl/ with the size and SHA-256 the .dsc gives. (apt-get itself
# checked the .dsc and the files against the Sources index, which the signed Release covers.)
dsc_verify() {
	lines=$(dsc_sha256 "$1")
	[ -n "$lines" ] || { echo "mbedtls: $1 has no Checksums-Sha256" >&2; return 1; }
	echo "$lines" | while read -r sum size name; do
		f=$dl/$name
		[ -f "$f" ] || { echo "mbedtls: $name (named by the .dsc) is missing" >&2; exit 1; }
		[ "$(wc -c <"$f" | tr -d ' ')" = "$size" ] ||
			{ echo "mbedtls: $name is not $size bytes" >&2; exit 1; }
		[ "$(sha256sum "$f" | cut -d' ' -f1)" = "$sum" ] ||
			{ echo "mbedtls: $name does not match its sha256 in the .dsc" >&2; exit 1; }
	done
}

download() {
	command -v apt-get >/dev/null || die "apt-get is needed to fetch Debian's source package"
	private_apt
	say "apt-get update (source indexes only, into $apt/lists)"
	apt_private update >"$apt/update.log" 2>&1 ||
		{ cat "$apt/update.log" >&2; die "apt-get update failed (is Debian's archive reachable?)"; }
	rm -rf "$dl" && mkdir -p "$dl"
	say "apt-get source --download-only $pkg into $dl"
	(cd "$dl" && apt_private source --download-only "$pkg") >"$apt/source.log" 2>&1 ||
		{ cat "$apt/source.log" >&2; die "apt-get source $pkg failed"; }
}

# Without dpkg-dev: the upstream tarball, the debian/ tarball over it, then the patches of
# debian/patches/series in order, as dpkg-source does for format 3.0 (quilt).
unpack_by_hand() {
	dsc=$1 tmp=$2
	format=$(sed -n 's/^Format: *//p' "$dsc")
	[ "$format" = "3.0 (quilt)" ] || die "$dsc: format '$format' needs dpkg-source (dpkg-dev)"
	orig="" debian=""
	for name in $(dsc_sha256 "$dsc" | awk '{ print $3 }'); do
		case $name in
		*.orig.tar.*) orig=$name ;;
		*.debian.tar.*) debian=$name ;;
		*.orig-*) die "$name: component tarballs need dpkg-source (dpkg-dev)" ;;
		esac
	done
	[ -n "$orig" ] || die "$dsc names no .orig tarball"
	[ -n "$debian" ] || die "$dsc names no .debian tarball"
	mkdir -p "$tmp.orig"
	tar -xf "$dl/$orig" -C "$tmp.orig"
	set -- "$tmp.orig"/*
	if [ $# -ne 1 ] || [ ! -d "$1" ]; then
		die "$orig does not hold one top directory"
	fi
	mv "$1" "$tmp" && rmdir "$tmp.orig"
	tar -xf "$dl/$debian" -C "$tmp"
	series=$tmp/debian/patches/series applied=0
	if [ -f "$series" ]; then
		# A series line is a patch name, maybe options after it, or a # comment.
		while read -r p _; do
			case $p in '' | '#'*) continue ;; esac
			(cd "$tmp" && patch -p1 -s -f --no-backup-if-mismatch <"debian/patches/$p") ||
				die "debian/patches/$p does not apply"
			applied=$((applied + 1))
		done <"$series"
	fi
	say "unpacked $orig and $debian, $applied Debian patches applied with patch -p1"
}

if dsc=$(dsc_file) && dsc_verify "$dsc" 2>/dev/null; then
	say "using $(basename "$dsc") and its files, already in $dl"
else
	download
	dsc=$(dsc_file) || die "apt-get source left no single .dsc in $dl"
	dsc_verify "$dsc" || die "$(basename "$dsc") and the files downloaded do not agree"
	say "the $(dsc_sha256 "$dsc" | wc -l | tr -d ' ') files $(basename "$dsc") names match" \
		"its sha256 sums"
fi
version=$(sed -n 's/^Version: *//p' "$dsc")

tmp=$cache/src.tmp
rm -rf "$src" "$tmp" "$tmp.orig"
if command -v dpkg-source >/dev/null; then
	# dpkg-source checks the sums again and applies the patches; the .dsc's signature it can
	# only check with the uploader's key (debian-keyring), so it may warn that it cannot.
	dpkg-source -q --no-copy -x "$dsc" "$tmp" >"$cache/unpack.log" 2>&1 ||
		{ cat "$cache/unpack.log" >&2; die "dpkg-source -x $(basename "$dsc") failed"; }
	say "unpacked with dpkg-source -x (Debian's patches applied)"
else
	unpack_by_hand "$dsc" "$tmp"
fi
mv "$tmp" "$src"
echo "$version" >"$src/.debian-version"
say "Debian source $version ready in $src"
