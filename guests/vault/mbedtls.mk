# mbedtls.mk: Mbed TLS for our bare-metal guests, from Debian's source package (never vendored):
# scripts/mbedtls.sh fetches and unpacks it into $(MBEDTLS_CACHE), and the modules our config
# (guests/vault/mbedtls_config.h) enables become $(MBEDTLS_LIB), all inside the ignored build/.
# Included by guests/guests.mk after its flags and before its link rules; the guests named in
# MBEDTLS_GUESTS compile against its headers and link the archive. `rm -rf build/cache/mbedtls`
# fetches Debian's newest bookworm version at the next build.

MBEDTLS_CACHE  := $(BUILD)/cache/mbedtls
MBEDTLS_SRC    := $(MBEDTLS_CACHE)/src
MBEDTLS_STAMP  := $(MBEDTLS_SRC)/.debian-version
MBEDTLS_LIB    := $(MBEDTLS_CACHE)/libmbedcrypto.a
MBEDTLS_CONFIG := guests/vault/mbedtls_config.h
MBEDTLS_LIBC   := $(wildcard guests/vault/libc/*.h)

# One library/<module>.c per group of the config, and what they need: ASN.1 for ECDSA's DER
# helpers, constant_time for bignum and the AEAD tag check, platform for calloc/free.
MBEDTLS_MODULES := platform platform_util memory_buffer_alloc constant_time \
                   sha256 md hmac_drbg hkdf bignum ecp ecp_curves ecdsa ecdh asn1parse asn1write \
                   chacha20 poly1305 chachapoly
MBEDTLS_OBJS    := $(MBEDTLS_MODULES:%=$(MBEDTLS_CACHE)/obj/%.o)

# What a file that includes Mbed TLS's headers needs: them (as system headers: their warnings are
# not ours), our config, and our <string.h> and friends (guests/vault/libc) before any other.
MBEDTLS_USE_CFLAGS := -isystem guests/vault/libc -isystem $(MBEDTLS_SRC)/include -Iguests/vault \
                      -DMBEDTLS_CONFIG_FILE='"mbedtls_config.h"'

# Their files: our target flags without our warnings or -Werror (third-party code must not break
# the build; -w), and no C library headers at all: the compiler's freestanding ones and ours.
# A section per function and object, so a guest's --gc-sections keeps only what it calls.
MBEDTLS_CFLAGS = $(filter-out -W% -I%,$(GUEST_CFLAGS)) -w -ffunction-sections -fdata-sections \
                 -nostdinc -isystem guests/vault/libc \
                 -isystem $(shell $(GUEST_CC) -print-file-name=include) \
                 -I$(MBEDTLS_SRC)/include -Iguests/vault -DMBEDTLS_CONFIG_FILE='"mbedtls_config.h"'

# Fetched only when the unpacked tree is missing: the script never touches a complete one.
$(MBEDTLS_STAMP):
	sh scripts/mbedtls.sh $(MBEDTLS_CACHE)

$(MBEDTLS_OBJS): $(MBEDTLS_CACHE)/obj/%.o: $(MBEDTLS_STAMP) $(MBEDTLS_CONFIG) $(MBEDTLS_LIBC) \
                                          guests/vault/mbedtls.mk guests/guests.mk
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(MBEDTLS_CFLAGS) -c $(MBEDTLS_SRC)/library/$*.c -o $@

$(MBEDTLS_LIB): $(MBEDTLS_OBJS)
	rm -f $@
	$(GUEST_AR) rcs $@ $^

MBEDTLS_GUEST_OBJS := $(foreach g,$(MBEDTLS_GUESTS),$(call guest_objs,$(g)))
$(MBEDTLS_GUEST_OBJS): GUEST_CFLAGS += $(MBEDTLS_USE_CFLAGS)
$(MBEDTLS_GUEST_OBJS): $(MBEDTLS_STAMP) $(MBEDTLS_CONFIG) $(MBEDTLS_LIBC) guests/vault/mbedtls.mk
$(foreach g,$(MBEDTLS_GUESTS),$(eval $(g)_LIBS += $(MBEDTLS_LIB)) \
	$(eval $(g)_LDFLAGS += -Wl,--gc-sections))

.PHONY: mbedtls
mbedtls: $(MBEDTLS_LIB)

-include $(MBEDTLS_OBJS:.o=.d)
