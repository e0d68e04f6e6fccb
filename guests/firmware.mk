# firmware.mk: boot loaders built for QEMU virt, run unmodified as firmware VMs (docs/config.md,
# "Boot modes"). `make u-boot` gives build/u-boot/u-boot.bin, Debian's u-boot-qemu (qemu_arm64).
UBOOT := $(BUILD)/u-boot/u-boot.bin

.PHONY: u-boot
u-boot: $(UBOOT)

$(UBOOT): scripts/u-boot.sh
	sh scripts/u-boot.sh $(BUILD)/cache $@
