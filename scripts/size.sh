#!/bin/sh
# size.sh: the EL2 image's footprint by section (what `make size` prints and the budget test reads).
elf=${1:-build/pocketvisor.elf}
${CROSS:-aarch64-linux-gnu-}size -A "$elf" | awk '
	$1 == ".text" { text = $2 } $1 == ".rodata" { rodata = $2 }
	$1 == ".data" { data = $2 } $1 == ".bss" { bss = $2 }
	END {
		printf "text    %7d\nrodata  %7d\ndata    %7d\nbss     %7d\n", text, rodata, data, bss
		printf "image   %7d  (text+rodata+data)\n", text + rodata + data
	}'
