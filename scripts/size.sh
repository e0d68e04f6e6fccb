#!/bin/sh
# size.sh: the EL2 image's footprint by section (what `make size` prints and the budget test reads).
elf=${1:-build/pocketvisor.elf}
${CROSS:-aarch64-linux-gnu-}readelf -SW "$elf" | awk '
	$0 ~ /\]/ {
		sub(/^.*\] */, "")
		name = $1; size = strtonum("0x" $5); flags = $7
		if (name ~ /^\.text/) text += size
		else if (name ~ /^\.rodata/) rodata += size
		else if (name ~ /^\.data/) data += size
		else if (name ~ /^\.bss/) bss += size
	}
	END {
		printf "text    %7d\nrodata  %7d\ndata    %7d\nbss     %7d\nimage   %7d  (text+rodata+data)\n",
			text, rodata, data, bss, text + rodata + data
	}'
