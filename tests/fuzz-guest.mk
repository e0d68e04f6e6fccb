# fuzz-guest.mk: `make fuzz-guest N=ops SEEDS="1 2 3"`: the chaos campaign (guests/chaos) for N
# operations with each seed beside the victim, one QEMU at a time (scripts/fuzz_guest.py).
N     ?= 1000000
SEEDS ?= 0x1 0x2 0x3

.PHONY: fuzz-guest
fuzz-guest: all $(PVPACK) $(GUEST_BINS)
	$(PYTHON) scripts/fuzz_guest.py $(N) $(SEEDS)
