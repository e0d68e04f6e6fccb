#!/bin/sh
# mkdisk.sh: make the board's disk image from a config's /disk layout (docs/storage-net.md).
# Usage: mkdisk.sh CONFIG IMAGE [PVPACK]     the layout from `PVPACK --partitions CONFIG`
#        mkdisk.sh --layout FILE IMAGE       the layout from FILE (- reads stdin)
# The layout is one line a partition, in disk order: `<name> <size-mib> <ext4 or ->`. An IMAGE
# that exists is kept, never rewritten: it is the phone's storage. A new one is a sparse file with
# a GPT (Debian's sfdisk: one partition a line, named, 1 MiB aligned, in order) and an ext4 file
# system (mkfs.ext4) in every partition whose fs is ext4. It is built as IMAGE.tmp and renamed,
# so an interrupted run leaves no half-made disk to be kept by the next. A config with no /disk
# gets a GPT with no partitions: the board has its disk all the same.
set -eu
PATH=$PATH:/usr/sbin:/sbin # sfdisk and mkfs.ext4 live there; a user's PATH may lack them
usage() {
	echo "usage: $0 CONFIG IMAGE [PVPACK] | $0 --layout FILE IMAGE" >&2
	exit 2
}
layout_file=""
if [ "${1:-}" = --layout ]; then
	[ $# -eq 3 ] || usage
	layout_file=$2 image=$3
else
	[ $# -eq 2 ] || [ $# -eq 3 ] || usage
	config=$1 image=$2 pvpack=${3:-build/tools/pvpack}
fi
if [ -e "$image" ]; then
	echo "mkdisk: $image exists: kept (delete it to start from a fresh disk)"
	# A disk made for an older layout is kept all the same (it is the phone's data), but said:
	# a partition it lacks is missing for its VM (or the hypervisor, for hv-rpmb).
	if [ -z "$layout_file" ]; then
		want=$("$pvpack" --partitions "$config" 2>/dev/null | awk '{print $1}' | sort | tr '\n' ' ')
	elif [ "$layout_file" = - ]; then
		want=$(awk '$1 !~ /^#/ && NF {print $1}' | sort | tr '\n' ' ')
	else
		want=$(awk '$1 !~ /^#/ && NF {print $1}' "$layout_file" | sort | tr '\n' ' ')
	fi
	have=$(sfdisk -d "$image" 2>/dev/null | sed -n 's/.*name="\([^"]*\)".*/\1/p' | sort |
		tr '\n' ' ')
	if [ "$want" != "$have" ]; then
		echo "mkdisk: warning: $image has the partitions [ $have] but the layout wants" \
			"[ $want]: each one missing is missing to whoever uses it; delete the image to" \
			"make it again (its data is lost)" >&2
	fi
	exit 0
fi

tmp=$image.tmp
cleanup() { rm -f "$tmp" "$tmp.layout" "$tmp.script"; }
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
mkdir -p "$(dirname "$image")"
if [ -z "$layout_file" ]; then
	"$pvpack" --partitions "$config" >"$tmp.layout" || {
		echo "mkdisk: $pvpack --partitions $config failed" >&2
		exit 1
	}
elif [ "$layout_file" = - ]; then
	cat >"$tmp.layout"
else
	cat "$layout_file" >"$tmp.layout"
fi

# Check every line before making anything: names as pvpack allows them (GPT names are what EL2
# looks partitions up by), whole MiB, a file system we know how to make.
bad() {
	echo "mkdisk: layout line $line_no ($name $size $fs): $1" >&2
	exit 1
}
total=0 line_no=0 names=" "
while read -r name size fs extra; do
	line_no=$((line_no + 1))
	case $name in "" | "#"*) continue ;; esac
	[ -z "$extra" ] || bad "more than 3 fields"
	case $name in *[!a-z0-9-]*) bad "name is not [a-z0-9-]" ;; esac
	[ ${#name} -le 15 ] || bad "name is longer than 15 characters"
	case $names in *" $name "*) bad "name used twice" ;; esac
	names="$names$name "
	case $size in "" | *[!0-9]* | 0*) bad "size-mib is not a positive whole number" ;; esac
	case $fs in ext4 | -) ;; *) bad "fs is neither ext4 nor -" ;; esac
	total=$((total + size))
	echo "name=$name, size=${size}MiB" >>"$tmp.script"
done <"$tmp.layout"
[ -f "$tmp.script" ] || : >"$tmp.script"

# 1 MiB before the first partition (sfdisk's alignment; the primary GPT is its first 17 KiB) and
# 1 MiB after the last, which holds the backup GPT (its last 33 sectors).
rm -f "$tmp"
truncate -s $(((total + 2) * 1024 * 1024)) "$tmp"
{
	echo "label: gpt"
	cat "$tmp.script"
} | sfdisk -q "$tmp" >/dev/null

# Make each file system where sfdisk put its partition (its dump: `start=` and `size=` in
# 512-byte sectors), in place: -E offset writes only inside the partition, nodiscard keeps
# mke2fs from punching holes around it, and no lazy init so the guest's kernel has no inode
# tables left to zero in the background (a boot and a benchmark would pay for it).
n=0
while read -r name size fs extra; do
	case $name in "" | "#"*) continue ;; esac
	n=$((n + 1))
	[ "$fs" = ext4 ] || continue
	start=$(sfdisk -d "$tmp" | awk -v n=$n '/ start=/ && ++i == n {
		sub(/.* start= */, ""); sub(/,.*/, ""); print }')
	[ -n "$start" ] || {
		echo "mkdisk: partition $n ($name) is not in sfdisk's dump of $tmp" >&2
		exit 1
	}
	mkfs.ext4 -F -q -b 4096 -L "$name" \
		-E offset=$((start * 512)),nodiscard,lazy_itable_init=0,lazy_journal_init=0 \
		"$tmp" $((size * 1024))k
done <"$tmp.layout"
sfdisk -q --verify "$tmp" >/dev/null
mv "$tmp" "$image"
echo "mkdisk: $image: a GPT of $n partitions, $((total + 2)) MiB (sparse)"
