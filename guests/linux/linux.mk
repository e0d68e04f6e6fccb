# linux.mk: the Linux guest images, from Debian bookworm's arm64 packages. `make linux` builds
#   build/linux/Image              the kernel of linux-image-arm64 (plain arm64 Image)
#   build/linux/config             that kernel's .config, to check what it was built with
#   build/linux/modules/*.ko       that kernel's own modules for vsock, disk and net (LINUX_MODULES)
#   build/linux/socat/             Debian's socat and exactly the shared objects it loads
#   build/linux/initramfs.cpio.gz  busybox-static, /init, memprobe, ticks, pmc, vsockt, hwbp,
#                                  vault and udhcpc's script (guests/linux/), the modules and socat
# The .debs are cached in build/cache/: after the first build nothing uses the network.
# `rm -rf build/cache` picks up Debian's newest kernel at the next build.

BUILD ?= build
CROSS ?= aarch64-linux-gnu-
PYTHON ?= python3

LINUX_DIR    := $(BUILD)/linux
LINUX_CACHE  := $(BUILD)/cache
LINUX_IMAGES := $(LINUX_DIR)/Image $(LINUX_DIR)/initramfs.cpio.gz
LINUX_GUEST  := READELF=$(CROSS)readelf sh scripts/linux-guest.sh
# The kernel's modules the initramfs carries, as paths under its package's kernel/ (/init loads
# them): virtio-mmio, and vsock over virtio (over loopback, with `pv.loopback`, for native tests);
# virtio-blk and ext4 for /data (ext4 needs jbd2, mbcache and crc16, and both ext4 and jbd2 ask
# the crypto API for crc32c, which in this kernel is crc32c_generic); virtio-net (which needs
# net_failover and failover) for eth0.
LINUX_MODULES := drivers/virtio/virtio_mmio net/vmw_vsock/vsock \
                 net/vmw_vsock/vmw_vsock_virtio_transport_common \
                 net/vmw_vsock/vmw_vsock_virtio_transport net/vmw_vsock/vsock_loopback \
                 drivers/block/virtio_blk crypto/crc32c_generic lib/crc16 fs/mbcache fs/jbd2/jbd2 \
                 fs/ext4/ext4 net/core/failover drivers/net/net_failover drivers/net/virtio_net
LINUX_KOS    := $(patsubst %,$(LINUX_DIR)/modules/%.ko,$(notdir $(LINUX_MODULES)))
# A Linux program, not a bare-metal guest: glibc, linked statically so the initramfs needs no
# loader.
LINUX_CFLAGS := -Wall -Wextra -Werror -Wshadow -Wconversion -Wvla -Wmissing-prototypes \
                -std=gnu11 -O2 -static -s

.PHONY: linux
linux: $(LINUX_IMAGES)

# The kernel's config and modules come out of the same package, with the Image.
$(LINUX_DIR)/Image $(LINUX_DIR)/config $(LINUX_KOS) &: scripts/linux-guest.sh \
                                                       guests/linux/linux.mk
	$(LINUX_GUEST) kernel $(LINUX_CACHE) $(LINUX_DIR) $(LINUX_MODULES)

$(LINUX_DIR)/busybox: scripts/linux-guest.sh
	$(LINUX_GUEST) busybox $(LINUX_CACHE) $(LINUX_DIR)

# socat.list names every file of build/linux/socat/ for mkcpio.py.
$(LINUX_DIR)/socat.list: scripts/linux-guest.sh
	$(LINUX_GUEST) socat $(LINUX_CACHE) $(LINUX_DIR)

$(LINUX_DIR)/memprobe $(LINUX_DIR)/vsockt $(LINUX_DIR)/hwbp: $(LINUX_DIR)/%: guests/linux/%.c guests/linux/cli.h \
                                                                       guests/linux/linux.mk
	@mkdir -p $(dir $@)
	$(CROSS)gcc $(LINUX_CFLAGS) $< -o $@

# vault speaks the vault's CBOR with the vault's own codec (portable C).
$(LINUX_DIR)/vault: guests/linux/vault.c guests/linux/cli.h guests/vault/cbor.c guests/vault/cbor.h \
                    guests/linux/linux.mk
	@mkdir -p $(dir $@)
	$(CROSS)gcc $(LINUX_CFLAGS) -Iguests/vault guests/linux/vault.c guests/vault/cbor.c -o $@

# pvctl speaks the management service's wire format (hv/include/pv/manage_abi.h) to CID 2.
$(LINUX_DIR)/pvctl: guests/linux/pvctl.c guests/linux/cli.h hv/include/pv/manage_abi.h \
                    guests/linux/linux.mk
	@mkdir -p $(dir $@)
	$(CROSS)gcc $(LINUX_CFLAGS) -Ihv/include $< -o $@

# No C library at all: a counter read and one write(2); pmc: a perf counter around a command.
$(LINUX_DIR)/ticks $(LINUX_DIR)/pmc: $(LINUX_DIR)/%: guests/linux/%.c \
                                      guests/linux/linux.mk
	@mkdir -p $(dir $@)
	$(CROSS)gcc $(LINUX_CFLAGS) -nostdlib -ffreestanding -fno-stack-protector $< -o $@

$(LINUX_DIR)/initramfs.cpio.gz: guests/linux/initramfs.list guests/linux/init \
                                guests/linux/udhcpc.script scripts/mkcpio.py \
                                $(LINUX_DIR)/busybox $(LINUX_DIR)/memprobe $(LINUX_DIR)/ticks $(LINUX_DIR)/pmc \
                                $(LINUX_DIR)/vsockt $(LINUX_DIR)/hwbp $(LINUX_DIR)/vault $(LINUX_KOS) \
                                $(LINUX_DIR)/socat.list
	$(PYTHON) scripts/mkcpio.py $< $@
# pvctl, beside the prerequisites above.
$(LINUX_DIR)/initramfs.cpio.gz: $(LINUX_DIR)/pvctl
