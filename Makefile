# pocketvisor: `make` builds the EL2 image, `make run` boots a config on QEMU, `make check` tests.
CROSS     ?= aarch64-linux-gnu-
CONFIG    ?= phone
DEVICE    ?= phone
SMP       ?= 2
BUILD     := build
PYTHON    ?= /usr/bin/python3
QEMU      ?= qemu-system-aarch64

HV_CC     := $(CROSS)gcc
HV_OBJCOPY:= $(CROSS)objcopy
HV_SIZE   := $(CROSS)size

# -mcmodel=tiny: the whole image (code, .bss, stacks, tables) spans well under the 1 MiB that
# one ADR reaches, so every address takes one instruction instead of ADRP+ADD (500 bytes less).
# -fno-shrink-wrap: one prologue per function instead of copies on early-return paths (88 bytes
# less; the bench's hot paths measure the same). -fno-ipa-sra: no clones of functions with their
# parameters rewritten beside the originals (88 bytes less). -fno-tree-forwprop,
# -fno-tree-scev-cprop, -fno-tree-loop-im: 700 bytes less, and the bench's rows measure the same
# or fewer instructions (vCPU switch, WFI wake-up, vsock), except the light path's GICD read,
# which forward propagation keeps 2 instructions shorter: exit_light (traps.c) keeps it, by an
# optimize attribute (44 bytes).
WARN      := -Wall -Wextra -Werror -Wshadow -Wconversion -Wvla -Wmissing-prototypes
HV_CFLAGS := $(HV_EXTRA) $(WARN) -std=c11 -ffreestanding -fno-builtin -nostdlib -Os -g -flto \
             -fomit-frame-pointer -mcmodel=tiny -fno-shrink-wrap -fno-ipa-sra \
             -fno-tree-forwprop -fno-tree-scev-cprop -fno-tree-loop-im \
             -mgeneral-regs-only -mcpu=cortex-a53 -mno-outline-atomics -fno-pic -fno-pie -fno-stack-protector \
             -fno-asynchronous-unwind-tables -fno-unwind-tables -ffunction-sections \
             -fdata-sections -fno-common -MMD -MP \
             -Ihv/include -Ihv/arch/aarch64 -Iplat/qemu-virt
HV_LDFLAGS:= -nostdlib -static -no-pie -Wl,--gc-sections -Wl,-T,hv/arch/aarch64/pocketvisor.ld \
             -Wl,--build-id=none -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments

HV_SRCS   := $(wildcard hv/arch/aarch64/*.S hv/arch/aarch64/*.c hv/core/*.c hv/virt/*.c \
               hv/drivers/*.c hv/lib/*.c hv/virtio/*.c)
HV_OBJS   := $(patsubst %,$(BUILD)/%.o,$(HV_SRCS))

# The QEMU board every command boots: the reference board of plat/qemu-virt.
QEMU_BOARD := -M virt,virtualization=on,gic-version=3 -cpu cortex-a57 -m 1G -smp $(SMP) \
              -display none -serial stdio -monitor none -nic none -no-reboot
# The board's own disk and NIC, which the hypervisor drives (docs/storage-net.md): modern
# (version 2) virtio-mmio; the first -device takes the highest slot (0x0a003e00), so the disk
# is there and the NIC just below. The network never leaves QEMU: restrict=on, no forwarding.
# The disk image is the device's storage and persists across runs (`make provision`).
DISK       := $(BUILD)/devices/$(DEVICE)/disk.img
# The device secret (docs/attestation.md), loaded where the board keeps it (board.h
# PLAT_UDS_BASE); the hypervisor reads and zeroes it at boot.
UDS        := $(BUILD)/devices/$(DEVICE)/uds.bin
UDS_BASE   := $(shell sed -n 's/^\#define PLAT_UDS_BASE \(0x[0-9a-fA-F]*\).*/\1/p' plat/qemu-virt/board.h)
QEMU_IO     = -global virtio-mmio.force-legacy=false \
              -drive if=none,id=disk,format=raw,file=$(DISK) -device virtio-blk-device,drive=disk \
              -netdev user,id=net,restrict=on -device virtio-net-device,netdev=net \
              -device loader,file=$(UDS),addr=$(UDS_BASE),force-raw=on
QEMU_HV    = $(QEMU_BOARD) $(QEMU_IO) -kernel $(BUILD)/pocketvisor.bin -initrd $(BUILD)/$(CONFIG).pvb

.PHONY: all deps run provision check stress size bench clean unit system
all: $(BUILD)/pocketvisor.bin

deps:
	@sh scripts/deps.sh

$(BUILD)/%.S.o: %.S
	@mkdir -p $(dir $@)
	$(HV_CC) $(HV_CFLAGS) -D__ASSEMBLY__ -c $< -o $@

$(BUILD)/%.c.o: %.c
	@mkdir -p $(dir $@)
	$(HV_CC) $(HV_CFLAGS) -c $< -o $@

# Flags live here: objects rebuild when they change.
$(HV_OBJS): Makefile

$(BUILD)/pocketvisor.elf: $(HV_OBJS) hv/arch/aarch64/pocketvisor.ld
	$(HV_CC) $(HV_CFLAGS) $(HV_LDFLAGS) $(HV_OBJS) -o $@

$(BUILD)/pocketvisor.bin: $(BUILD)/pocketvisor.elf
	$(HV_OBJCOPY) -O binary $< $@

include tools/pvpack/pvpack.mk
include guests/guests.mk
include guests/linux/linux.mk
include guests/firmware.mk
include tests/unit/unit.mk
include tests/fuzz/fuzz.mk
include bench/bench.mk
include tests/fuzz-guest.mk

# A config's bundle: pvpack validates configs/NAME.dts and packs it with its images.
$(BUILD)/%.pvb: configs/%.dts $(PVPACK) $(GUEST_BINS)
	$(PVPACK) -o $@ $<

# The device's disk from the config's /disk layout, its secret, and the certificate of its
# vault's device key; existing ones are kept (scripts/mkdisk.sh, scripts/mkuds.sh, and the
# factory step, scripts/factory.py: it boots the device once with the command `make run` uses,
# reads the vault's device key and signs it with $(FACTORY)/manufacturer-key.pem, made once;
# docs/vault.md). A re-built hypervisor or vault has another key: delete $(CERT) to certify it.
CERT       := $(BUILD)/devices/$(DEVICE)/device-cert.cbor
FACTORY    := $(BUILD)/factory
provision: deps all $(PVPACK) $(GUEST_BINS) $(LINUX_IMAGES) $(BUILD)/$(CONFIG).pvb
	@sh scripts/mkdisk.sh configs/$(CONFIG).dts $(DISK) $(PVPACK)
	@sh scripts/mkuds.sh $(UDS)
	@$(PYTHON) scripts/factory.py --cert $(CERT) --factory $(FACTORY) --device $(DEVICE) \
		--measure $(PVPACK) $(BUILD)/pocketvisor.bin configs/$(CONFIG).dts -- $(QEMU) $(QEMU_HV)

run: deps all $(LINUX_IMAGES) $(BUILD)/$(CONFIG).pvb provision
	@echo "pocketvisor: $(QEMU) $(QEMU_HV)"
	@$(QEMU) $(QEMU_HV)

size: $(BUILD)/pocketvisor.elf
	@sh scripts/size.sh $<

check: deps all $(PVPACK) $(GUEST_BINS) $(LINUX_IMAGES) $(UBOOT) unit fuzz-slice
	$(PYTHON) -m pytest -q -m "not stress" tests/system

# The stress campaigns (tests marked `stress`), STRESS_RUNS times over; stops at the first failure.
STRESS_RUNS ?= 20
stress: deps all $(PVPACK) $(GUEST_BINS) $(LINUX_IMAGES)
	@for i in $$(seq $(STRESS_RUNS)); do echo "stress: run $$i of $(STRESS_RUNS)"; \
		$(PYTHON) -m pytest -q -m stress tests/system || exit 1; done

clean:
	rm -rf $(BUILD)

-include $(HV_OBJS:.o=.d)
