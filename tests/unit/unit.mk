# unit.mk: host unit tests, built with AddressSanitizer and UBSan and run by `make unit`.
# Add a test binary by appending it to UNIT_TESTS (here or in any makefile) with its own rule;
# UNIT_CFLAGS gives it the sanitizers and the harness (tests/unit/harness.h).
HOST_CC     ?= cc
UNIT_DIR    := $(BUILD)/tests/unit
UNIT_CFLAGS := $(WARN) -std=c11 -D_DEFAULT_SOURCE -g -O1 -fsanitize=address,undefined \
               -fno-omit-frame-pointer -fno-sanitize-recover=all -Itests/unit -Ihv/include \
               -Iplat/qemu-virt
UNIT_TESTS  += $(UNIT_DIR)/test_pvpack

$(UNIT_DIR)/test_pvpack: tests/unit/test_pvpack.c tests/unit/harness.h $(PVPACK_LIB_SRCS) \
                         $(PVPACK_HDRS)
	@mkdir -p $(dir $@)
	$(HOST_CC) $(UNIT_CFLAGS) -Itools/pvpack tests/unit/test_pvpack.c $(PVPACK_LIB_SRCS) \
		-lfdt -o $@

# Second expansion: UNIT_TESTS is read after every makefile has had the chance to append.
# Every binary runs even if one fails, so one broken module does not hide the others' results.
.SECONDEXPANSION:
unit: $$(UNIT_TESTS)
	@status=0; for t in $(UNIT_TESTS); do echo "$$t"; $$t || status=1; done; exit $$status

# The portable hypervisor core on the fake architecture (hv/arch/host).
CORE_SRCS := hv/arch/host/fake.c hv/virt/vflash.c hv/core/bundle.c hv/core/console.c hv/core/log.c \
             hv/core/manage.c hv/core/mmio.c hv/core/passthru.c hv/core/pvtime.c hv/core/smccc.c hv/core/vcpu.c hv/core/vm.c hv/lib/fdt.c \
             hv/lib/fmt.c hv/lib/sha256.c hv/lib/measure.c hv/core/identity.c hv/core/counters.c \
             hv/virt/vgic.c hv/virt/vpl011.c hv/virt/vpsci.c hv/virt/vptimer.c \
             hv/virtio/virtio_mmio.c hv/virtio/virtq.c hv/virtio/vsock.c \
             hv/virtio/blk.c hv/virtio/net.c
UNIT_TESTS += $(UNIT_DIR)/test_core

$(UNIT_DIR)/test_core: tests/unit/test_core.c tests/unit/harness.h tests/unit/bundle.h $(CORE_SRCS) \
                       $(wildcard hv/include/pv/*.h hv/arch/host/*.h)
	@mkdir -p $(dir $@)
	$(HOST_CC) $(UNIT_CFLAGS) -Wno-missing-prototypes -Ihv/arch/host tests/unit/test_core.c \
		$(CORE_SRCS) -lfdt -o $@

# The virtual GICv3 on the fake architecture's list registers.
UNIT_TESTS += $(UNIT_DIR)/test_vgic

$(UNIT_DIR)/test_vgic: tests/unit/test_vgic.c tests/unit/harness.h tests/unit/bundle.h $(CORE_SRCS) \
                       $(wildcard hv/include/pv/*.h hv/arch/host/*.h)
	@mkdir -p $(dir $@)
	$(HOST_CC) $(UNIT_CFLAGS) -Wno-missing-prototypes -Ihv/arch/host tests/unit/test_vgic.c \
		$(CORE_SRCS) -lfdt -o $@

# virtio-mmio, the virtqueue walker and the vsock router, driven as a guest driver would.
UNIT_TESTS += $(UNIT_DIR)/test_virtio

$(UNIT_DIR)/test_virtio: tests/unit/test_virtio.c tests/unit/harness.h tests/unit/bundle.h $(CORE_SRCS) \
                         $(wildcard hv/include/pv/*.h hv/arch/host/*.h)
	@mkdir -p $(dir $@)
	$(HOST_CC) $(UNIT_CFLAGS) -Wno-missing-prototypes -Ihv/arch/host tests/unit/test_virtio.c \
		$(CORE_SRCS) -lfdt -o $@

# guests/lib's virtio driver and vsock layer on the host against a fake device (the test).
GUEST_VSOCK_SRCS := guests/lib/virtio.c guests/lib/vsock.c
UNIT_TESTS += $(UNIT_DIR)/test_guest_vsock

$(UNIT_DIR)/test_guest_vsock: tests/unit/test_guest_vsock.c tests/unit/harness.h \
                              $(GUEST_VSOCK_SRCS) guests/lib/guest.h
	@mkdir -p $(dir $@)
	$(HOST_CC) $(UNIT_CFLAGS) -Wno-missing-prototypes -Iguests/lib tests/unit/test_guest_vsock.c \
		$(GUEST_VSOCK_SRCS) -o $@

# The vsock router under a seeded random-operation loop, checked against a model.
UNIT_TESTS += $(UNIT_DIR)/test_vsock_model

$(UNIT_DIR)/test_vsock_model: tests/unit/test_vsock_model.c tests/unit/harness.h tests/unit/bundle.h $(CORE_SRCS) \
                              $(wildcard hv/include/pv/*.h hv/arch/host/*.h)
	@mkdir -p $(dir $@)
	$(HOST_CC) $(UNIT_CFLAGS) -Wno-missing-prototypes -Ihv/arch/host \
		tests/unit/test_vsock_model.c $(CORE_SRCS) -lfdt -o $@

# virtio-blk's request checks on GPT partitions of the fake disk; the virtio-net switch.
UNIT_TESTS += $(UNIT_DIR)/test_storage

$(UNIT_DIR)/test_storage: tests/unit/test_storage.c tests/unit/harness.h tests/unit/bundle.h $(CORE_SRCS) \
                          $(wildcard hv/include/pv/*.h hv/arch/host/*.h)
	@mkdir -p $(dir $@)
	$(HOST_CC) $(UNIT_CFLAGS) -Wno-missing-prototypes -Ihv/arch/host tests/unit/test_storage.c \
		$(CORE_SRCS) -lfdt -o $@
