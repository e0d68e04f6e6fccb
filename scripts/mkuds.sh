#!/bin/sh
# mkuds.sh: the device's secret (UDS, docs/attestation.md): 32 random bytes, made once like a
# fused per-device key. Usage: mkuds.sh FILE. An existing FILE is kept, never rewritten: every
# key the device's VMs sealed with depends on it.
set -eu
[ $# -eq 1 ] || { echo "usage: $0 FILE" >&2; exit 2; }
uds=$1
if [ -e "$uds" ]; then
	echo "mkuds: $uds exists: kept"
	exit 0
fi
mkdir -p "$(dirname "$uds")"
umask 077 # readable by its owner only, as a secret
head -c 32 /dev/urandom >"$uds.tmp"
[ "$(wc -c <"$uds.tmp")" -eq 32 ] || { rm -f "$uds.tmp"; echo "mkuds: short read" >&2; exit 1; }
mv "$uds.tmp" "$uds"
echo "mkuds: $uds: a new device secret"
