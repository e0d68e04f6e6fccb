# pvpack.mk: the host tool that validates configs/*.dts and packs them into boot bundles.
HOST_CC          ?= cc
PVPACK           := $(BUILD)/tools/pvpack
# With the hypervisor's own SHA-256 and measurement record: --measure computes what EL2 will.
PVPACK_SRCS      := $(wildcard tools/pvpack/*.c) hv/lib/sha256.c hv/lib/measure.c
# Everything but main(), for the unit tests to link against.
PVPACK_LIB_SRCS  := $(filter-out tools/pvpack/main.c,$(PVPACK_SRCS))
PVPACK_HDRS      := $(wildcard tools/pvpack/*.h) hv/include/pv/bundle.h plat/qemu-virt/board.h \
                    $(addprefix hv/include/pv/,gic.h vgic.h vpl011.h vptimer.h crypto.h measure.h)
PVPACK_CFLAGS    := $(WARN) -std=c11 -D_DEFAULT_SOURCE -O2 -g -Itools/pvpack -Ihv/include \
                    -Iplat/qemu-virt

$(PVPACK): $(PVPACK_SRCS) $(PVPACK_HDRS)
	@mkdir -p $(dir $@)
	$(HOST_CC) $(PVPACK_CFLAGS) $(PVPACK_SRCS) -lfdt -o $@
