/* bootargs.c: the kernel command line pvpack puts in the guest DTB's /chosen, and its key=value words. */
#include "guest.h"

/* Flattened device tree layout (Devicetree Specification 0.4, chapter 5): big-endian cells. */
#define FDT_MAGIC 0xd00dfeedu
#define FDT_BEGIN_NODE 1u
#define FDT_END_NODE 2u
#define FDT_PROP 3u
#define FDT_NOP 4u
#define FDT_MAX_SIZE 0x10000u           /* pvpack's DTB window is 16 KiB */

/* Byte loads only: with the MMU off memory is Device, where an unaligned load faults. */
static uint32_t be32(const volatile uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool name_is(const volatile uint8_t *s, const char *want)
{
	while (*want && *s == (uint8_t)*want) {
		s++;
		want++;
	}
	return !*want && !*s;
}

const char *bootargs(uint64_t dtb)
{
	const volatile uint8_t *fdt = (const volatile uint8_t *)(uintptr_t)dtb;

	if (!dtb || (dtb & 3) || be32(fdt) != FDT_MAGIC || be32(fdt + 4) > FDT_MAX_SIZE)
		return NULL;
	uint32_t size = be32(fdt + 4), off = be32(fdt + 8), strings = be32(fdt + 12);
	while (off + 4 <= size) {
		uint32_t token = be32(fdt + off);
		off += 4;
		if (token == FDT_BEGIN_NODE) {
			while (off < size && fdt[off])
				off++;
			off = (off + 4) & ~3u; /* the name's NUL, then padding to a cell */
		} else if (token == FDT_PROP && off + 8 <= size) {
			uint32_t len = be32(fdt + off), name = be32(fdt + off + 4);
			off += 8;
			if (strings + name < size && name_is(fdt + strings + name, "bootargs") && len &&
			    off + len <= size && !fdt[off + len - 1])
				return (const char *)(uintptr_t)(fdt + off);
			off = (off + len + 3) & ~3u;
		} else if (token != FDT_END_NODE && token != FDT_NOP) {
			break; /* FDT_END, or something we do not understand */
		}
	}
	return NULL;
}

/* Parses a number in C syntax: 0x... hex, else decimal. */
static bool parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	unsigned base = 10, digits = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (;; s++, digits++) {
		unsigned d;
		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			break;
		v = v * base + d;
	}
	if (!digits || (*s && *s != ' '))
		return false;
	*out = v;
	return true;
}

bool bootarg_u64(const char *args, const char *key, uint64_t *out)
{
	for (const char *w = args; w && *w;) {
		const char *k = key, *p = w;
		while (*k && *p == *k) {
			p++;
			k++;
		}
		if (!*k && *p == '=')
			return parse_u64(p + 1, out);
		while (*w && *w != ' ')
			w++;
		while (*w == ' ')
			w++;
	}
	return false;
}
