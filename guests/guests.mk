# guests.mk: our bare-metal test guests. Each guests/<name>/ plus guests/lib links to
# build/guests/<name>.elf (for native QEMU runs) and <name>.bin (the raw image a config loads).
# Included by the top Makefile; `make -f guests/guests.mk` also works on its own.

BUILD ?= build
CROSS ?= aarch64-linux-gnu-

GUESTS := hello ticker smp attacker victim resetter crasher demo \
          timer sgi rt spinner hog idle pmu bench pingpong flood rtc vault vsbench vsecho \
          vqattack longvictim conform chaos blkattack netspoof vcrypto sealer vaultpoke mgmtpoke

# Guest-physical RAM base each guest is linked at (guest.ld); 16 MiB of RAM each. The --defsym
# must come before -T on the link line, or the script's DEFINED() does not see it.
GUEST_RAM_BASE_DEFAULT := 0x40000000
attacker_RAM_BASE := 0xC0000000
# vqattack.dts puts the (long)victim at the default base, so vqattack aims its "outside RAM"
# rings and buffers at another VM's memory.
vqattack_RAM_BASE := 0x48000000
# chaos.dts likewise: its stores to "unmapped" space aim at the victim's RAM base too.
chaos_RAM_BASE := 0x48000000
# RAM size each guest is linked for (its stacks sit at the top), when not 16 MiB: the bench VMs
# are 2 MiB, so boot measures no more zeroing than a small VM needs.
bench_RAM_SIZE := 0x200000
pingpong_RAM_SIZE := 0x200000

comma := ,
GUEST_CC      := $(CROSS)gcc
GUEST_OBJCOPY := $(CROSS)objcopy
GUEST_CFLAGS  := -Wall -Wextra -Werror -Wshadow -Wconversion -Wvla -Wmissing-prototypes \
                 -std=c11 -ffreestanding -fno-builtin -nostdlib -mgeneral-regs-only -O2 -g \
                 -mstrict-align -mcpu=cortex-a53 -fno-pic -fno-pie -fno-stack-protector \
                 -fno-asynchronous-unwind-tables -fno-unwind-tables -fno-common \
                 -fno-tree-loop-distribute-patterns -MMD -MP -Iguests/lib
GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,-T,guests/lib/guest.ld -Wl,--build-id=none \
                 -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments

GUEST_LIB_SRCS := $(wildcard guests/lib/*.S guests/lib/*.c)
src_to_obj      = $(patsubst guests/%,$(BUILD)/guests/%.o,$(basename $(1)))
# The assembly is linked whole; the C files from an archive, so a guest gets only the modules it
# uses (vsock's buffers are a megabyte of .bss that crt0 would clear at every boot).
GUEST_LIB_ASM_OBJS := $(call src_to_obj,$(filter %.S,$(GUEST_LIB_SRCS)))
GUEST_LIB_ARCHIVE  := $(BUILD)/guests/lib/libguest.a
GUEST_LIB_OBJS := $(GUEST_LIB_ASM_OBJS) $(GUEST_LIB_ARCHIVE)
GUEST_AR       := $(CROSS)ar
GUEST_ELFS     := $(GUESTS:%=$(BUILD)/guests/%.elf)
GUEST_BINS     := $(GUESTS:%=$(BUILD)/guests/%.bin)
guest_objs      = $(call src_to_obj,$(wildcard guests/$(1)/*.S guests/$(1)/*.c))
# Guests built against Mbed TLS: its headers, build/cache/mbedtls/libmbedcrypto.a in their
# <name>_LIBS (linked before libguest.a, which has the string functions it calls) and
# --gc-sections in <name>_LDFLAGS (the library's unused functions, a third of it, dropped).
MBEDTLS_GUESTS := vcrypto vault
include guests/vault/mbedtls.mk
GUEST_ALL_SRCS := $(GUEST_LIB_SRCS) $(foreach g,$(GUESTS),$(wildcard guests/$(g)/*.S guests/$(g)/*.c))
GUEST_ALL_OBJS := $(call src_to_obj,$(GUEST_ALL_SRCS))

.PHONY: guests
guests: $(GUEST_BINS) $(GUEST_ELFS)

# Static pattern rules, and objects named build/guests/<dir>/<file>.o rather than the top
# Makefile's build/<src>.o, so a guest file is never built with the hypervisor's EL2 flags.
$(call src_to_obj,$(filter %.c,$(GUEST_ALL_SRCS))): $(BUILD)/guests/%.o: guests/%.c guests/guests.mk
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@

$(call src_to_obj,$(filter %.S,$(GUEST_ALL_SRCS))): $(BUILD)/guests/%.o: guests/%.S guests/guests.mk
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@

# mgmtpoke speaks the management service's wire format, from the hypervisor's own header.
$(BUILD)/guests/mgmtpoke/main.o: GUEST_CFLAGS += -Ihv/include

$(GUEST_LIB_ARCHIVE): $(call src_to_obj,$(filter %.c,$(GUEST_LIB_SRCS)))
	rm -f $@
	$(GUEST_AR) rcs $@ $^

define guest_rule
$(BUILD)/guests/$(1).elf: $(call guest_objs,$(1)) $$($(1)_LIBS) $(GUEST_LIB_OBJS) guests/lib/guest.ld \
                          guests/guests.mk
	$$(GUEST_CC) $$(GUEST_CFLAGS) \
		-Wl,--defsym=GUEST_RAM_BASE=$$(or $$($(1)_RAM_BASE),$$(GUEST_RAM_BASE_DEFAULT)) \
		$$(if $$($(1)_RAM_SIZE),-Wl$$(comma)--defsym=GUEST_RAM_SIZE=$$($(1)_RAM_SIZE)) \
		$$(GUEST_LDFLAGS) $$($(1)_LDFLAGS) $(call guest_objs,$(1)) $$($(1)_LIBS) \
		$$(GUEST_LIB_OBJS) -o $$@
endef
$(foreach g,$(GUESTS),$(eval $(call guest_rule,$(g))))

$(BUILD)/guests/%.bin: $(BUILD)/guests/%.elf
	$(GUEST_OBJCOPY) -O binary $< $@

-include $(GUEST_ALL_OBJS:.o=.d)
