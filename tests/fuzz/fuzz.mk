# fuzz.mk: libFuzzer targets (clang, ASan + UBSan) over the host builds of what reads hostile
# input: the boot bundle, pvpack's config checks, the board DTB, the vGIC's registers, the trap
# decoders, virtio, the vault's attestation requests and its service requests and licences
# (docs/security.md, "Fuzzing").
#   make fuzz        each target for FUZZ_RUNS executions (2,000,000 each), one after the
#                    other on one core, growing $(BUILD)/fuzz/corpus/<name>
#   make fuzz-slice  each for FUZZ_SLICE_RUNS (20,000) from the checked-in seeds alone, with a
#                    fixed seed: the short run `make check` does
# Seeds: tests/fuzz/corpus/<name>/ (tests/fuzz/mkcorpus.py writes them). A crash, leak or UBSan
# report stops the run; the input is saved as $(BUILD)/fuzz/<name>-crash-<sha1>.
FUZZ_CC         ?= clang-14
FUZZ_DIR        := $(BUILD)/fuzz
FUZZ_RUNS       ?= 2000000
FUZZ_SLICE_RUNS ?= 20000
FUZZ_TARGETS    := bundle pvpack fdt vgic trap virtio vaultreq vaultsvc
FUZZ_BINS       := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
# -fsanitize=fuzzer: coverage instrumentation and libFuzzer's main (libclang-rt-14-dev). The
# sources of several modules are linked together with fake.c's arch hooks, which have no
# prototypes in a header, as in unit.mk: hence -Wno-missing-prototypes.
FUZZ_CFLAGS     := $(WARN) -Wno-missing-prototypes -std=c11 -D_DEFAULT_SOURCE -g -O1 \
                   -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
                   -fno-omit-frame-pointer -Itests/fuzz -Ihv/include -Iplat/qemu-virt
FUZZ_CORE_FLAGS := $(FUZZ_CFLAGS) -Ihv/arch/host
FUZZ_CORE_DEPS  := $(CORE_SRCS) tests/fuzz/fuzz.h tests/fuzz/fuzz.mk \
                   $(wildcard hv/include/pv/*.h hv/arch/host/*.h)

.PHONY: fuzz fuzz-slice fuzz-build
fuzz-build: $(FUZZ_BINS)

# Targets over the portable core on the fake architecture (CORE_SRCS, unit.mk).
$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_CORE_DEPS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CORE_FLAGS) $< $(CORE_SRCS) -lfdt -o $@

# pvpack's checks without main(): a DTB in, config_check's verdict out, checked against EL2's
# reading of the same header (bundle.c).
$(FUZZ_DIR)/fuzz_pvpack: tests/fuzz/fuzz_pvpack.c tests/fuzz/fuzz.h tests/fuzz/fuzz.mk \
                         $(PVPACK_LIB_SRCS) $(PVPACK_HDRS) hv/core/bundle.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Itools/pvpack $< $(PVPACK_LIB_SRCS) hv/core/bundle.c -lfdt -o $@

# The trap decoders are AArch64 code (hv/arch/aarch64/traps.c, sysreg_trap.c): built here with
# host_sysreg.h included first, which turns their system-register accesses into the fuzzer's.
FUZZ_TRAP_SRCS := hv/arch/aarch64/traps.c hv/arch/aarch64/sysreg_trap.c
$(FUZZ_DIR)/fuzz_trap: tests/fuzz/fuzz_trap.c tests/fuzz/host_sysreg.h $(FUZZ_TRAP_SRCS) \
                       $(FUZZ_CORE_DEPS) $(wildcard hv/arch/aarch64/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CORE_FLAGS) -include tests/fuzz/host_sysreg.h $< $(FUZZ_TRAP_SRCS) \
		$(CORE_SRCS) -lfdt -o $@

# The vault's request parser (guests/vault/request.c and cbor.c, portable C) on its own.
FUZZ_VAULT_SRCS := guests/vault/request.c guests/vault/cbor.c
$(FUZZ_DIR)/fuzz_vaultreq: tests/fuzz/fuzz_vaultreq.c tests/fuzz/fuzz.h tests/fuzz/fuzz.mk \
                           $(FUZZ_VAULT_SRCS) guests/vault/request.h guests/vault/cbor.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Iguests/vault $< $(FUZZ_VAULT_SRCS) -o $@

# The keystore, DRM and wallet request parser and the licence parser (svcreq.c, licence.c).
FUZZ_VAULTSVC_SRCS := guests/vault/svcreq.c guests/vault/licence.c guests/vault/cbor.c
$(FUZZ_DIR)/fuzz_vaultsvc: tests/fuzz/fuzz_vaultsvc.c tests/fuzz/fuzz.h tests/fuzz/fuzz.mk \
                           $(FUZZ_VAULTSVC_SRCS) guests/vault/svcreq.h guests/vault/licence.h \
                           guests/vault/cbor.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Iguests/vault $< $(FUZZ_VAULTSVC_SRCS) -o $@

# $(1): target, $(2): executions, $(3): corpus directory new inputs go to, $(4): more options.
# -timeout=10: an input that keeps EL2 busy for seconds is a bug too.
fuzz_run = echo "fuzz: $(1), $(2) runs" && mkdir -p $(3) && \
	$(FUZZ_DIR)/fuzz_$(1) -runs=$(2) -timeout=10 -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_DIR)/$(1)- $(4) $(3) tests/fuzz/corpus/$(1)

# The pvpack seeds name the guest images a config packs; with them built, its image checks
# run on real files.
fuzz: $(FUZZ_BINS) $(GUEST_BINS)
	@set -e; $(foreach t,$(FUZZ_TARGETS),$(call fuzz_run,$(t),$(FUZZ_RUNS),$(FUZZ_DIR)/corpus/$(t));)

fuzz-slice: $(FUZZ_BINS) $(GUEST_BINS)
	@set -e; rm -rf $(FUZZ_DIR)/slice; \
	$(foreach t,$(FUZZ_TARGETS),$(call fuzz_run,$(t),$(FUZZ_SLICE_RUNS),$(FUZZ_DIR)/slice/$(t),-seed=1);)
