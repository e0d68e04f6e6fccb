/* fdt.c: a bounded walk over a flattened device tree (DTSpec 0.4, chapter 5) that picks out
 * RAM, the initrd and virtio-mmio transports; every offset is checked against the blob's size before it is read. */
#include <pv/fdt.h>
#include <pv/string.h>

#define FDT_MAGIC 0xd00dfeedu
#define FDT_BEGIN_NODE 1u
#define FDT_END_NODE 2u
#define FDT_PROP 3u
#define FDT_NOP 4u
#define FDT_END 9u

static u32 word(const u8 *p)
{
	u32 v;
	__builtin_memcpy(&v, p, 4);
	return v;
}

static u32 be32(const u8 *p)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return __builtin_bswap32(word(p));
#else
	return word(p);
#endif
}

/* A big-endian number of `cells` 32-bit cells (1 or 2). */
static u64 cells_value(const u8 *p, u32 cells)
{
	return cells == 2 ? (u64)be32(p) << 32 | be32(p + 4) : be32(p);
}

static bool name_is(const char *name, const char *want)
{
	while (*want && *name == *want)
		name++, want++;
	return !*want && (*name == 0 || *name == '@');
}

/* The nodes whose properties we read; every other node's properties are skipped unread. */
enum node_kind { NODE_OTHER, NODE_ROOT, NODE_MEMORY, NODE_CHOSEN, NODE_DEVICE };

/* The properties we read. Most properties of a board DTB belong to devices we skip, so telling
 * a name apart has to cost its first byte or two, not a strlen and a string compare per name. */
enum prop { P_OTHER, P_ADDR_CELLS, P_SIZE_CELLS, P_REG, P_COMPATIBLE, P_INTERRUPTS,
	    P_INITRD_START, P_INITRD_END, P_COUNT };

struct walk {
	const u8 *blob;
	u32 pos, end, strings, strings_size;
	u32 addr_cells, size_cells;
	u64 dev_base; /* the top-level device node being read: its reg, SPI, compatible */
	u32 dev_intid;
	bool dev_virtio;
	u32 known[P_COUNT]; /* 1 + the offset each name was last matched at, or 0 */
};

static enum node_kind classify(const char *name, u32 depth, bool devices)
{
	if (depth == 1)
		return NODE_ROOT;
	if (depth != 2)
		return NODE_OTHER;
	return name_is(name, "memory") ? NODE_MEMORY : name_is(name, "chosen") ? NODE_CHOSEN :
	       devices ? NODE_DEVICE : NODE_OTHER;
}

/* Whether the name is `want` (its `size` bytes include the NUL) within the `room` bytes left in
 * the strings block: a name that would run past it is no name we read. */
static inline __attribute__((always_inline)) bool is(const char *name, u32 room,
						    const char *want, u32 size)
{
	if (size > room)
		return false;
	for (u32 i = 1; i < size; i++) /* name[0] was matched by the caller */
		if (name[i] != want[i])
			return false;
	return true;
}
#define IS(lit) is(name, room, lit, sizeof(lit))

/* A board's DTB stores each name once and every node's "reg" points at it, so the offset a name
 * was last matched at answers for the next property with that name; only a new offset is
 * compared byte by byte. */
static enum prop named(struct walk *w, u32 off, enum prop p, bool match)
{
	if (match)
		w->known[p] = off + 1;
	return match ? p : P_OTHER;
}

static enum prop prop_kind(struct walk *w, u32 off)
{
	const char *name = (const char *)w->blob + w->strings + off;
	u32 room = w->strings_size - off;
	switch (name[0]) {
	case '#':
		return IS("#address-cells") ? P_ADDR_CELLS : IS("#size-cells") ? P_SIZE_CELLS : P_OTHER;
	case 'r':
		return w->known[P_REG] == off + 1 ? P_REG : named(w, off, P_REG, IS("reg"));
	case 'c':
		return w->known[P_COMPATIBLE] == off + 1 ? P_COMPATIBLE :
		       named(w, off, P_COMPATIBLE, IS("compatible"));
	case 'i':
		return w->known[P_INTERRUPTS] == off + 1 ? P_INTERRUPTS :
		       named(w, off, P_INTERRUPTS, IS("interrupts"));
	case 'l':
		return IS("linux,initrd-start") ? P_INITRD_START :
		       IS("linux,initrd-end") ? P_INITRD_END : P_OTHER;
	default:
		return P_OTHER;
	}
}

static void take_prop(struct walk *w, enum node_kind node, enum prop p, const u8 *val, u32 len,
		      struct board_info *info)
{
	if (node == NODE_ROOT) {
		if (p == P_ADDR_CELLS && len == 4)
			w->addr_cells = be32(val);
		else if (p == P_SIZE_CELLS && len == 4)
			w->size_cells = be32(val);
	} else if (node == NODE_MEMORY && p == P_REG &&
		   w->addr_cells <= 2 && w->size_cells <= 2 && w->addr_cells && w->size_cells &&
		   len >= 4 * (w->addr_cells + w->size_cells) && !info->ram_size) {
		info->ram_base = cells_value(val, w->addr_cells);
		info->ram_size = cells_value(val + 4 * w->addr_cells, w->size_cells);
	} else if (node == NODE_DEVICE) {
		if (p == P_COMPATIBLE)
			w->dev_virtio = len == 12 && !memcmp(val, "virtio,mmio", 12);
		else if (p == P_REG && w->addr_cells <= 2 && len >= 4 * w->addr_cells)
			w->dev_base = cells_value(val, w->addr_cells);
		else if (p == P_INTERRUPTS && len >= 8 && be32(val) == 0)
			w->dev_intid = 32 + be32(val + 4);
	} else if (node == NODE_CHOSEN && (len == 4 || len == 8)) {
		if (p == P_INITRD_START)
			info->initrd_start = cells_value(val, len / 4);
		else if (p == P_INITRD_END)
			info->initrd_end = cells_value(val, len / 4);
	}
}

static bool need(const struct walk *w, u32 n)
{
	return n <= w->end - w->pos;
}

/* Steps past a node's name: it ends in the first word holding a zero byte (the name's NUL, and
 * zeros pad it to a word), found a word at a time. False if the block ends first. */
static bool skip_name(struct walk *w)
{
	while (need(w, 4)) {
		u32 v = word(w->blob + w->pos);
		w->pos += 4;
		if ((v - 0x01010101u) & ~v & 0x80808080u)
			return true;
	}
	return false;
}

int fdt_read_board(const void *dtb, u64 max, struct board_info *info, bool devices)
{
	const u8 *b = dtb;
	enum node_kind node = NODE_OTHER;
	u32 depth = 0;
	memset(info, 0, sizeof(*info));
	if (max < 40 || be32(b) != FDT_MAGIC)
		return -1;
	u32 total = be32(b + 4), off_struct = be32(b + 8), off_strings = be32(b + 12);
	u32 size_strings = be32(b + 32), size_struct = be32(b + 36);
	if (total > max || off_struct > total || size_struct > total - off_struct ||
	    off_strings > total || size_strings > total - off_strings)
		return -1;
	struct walk w = { .blob = b, .pos = off_struct, .end = off_struct + size_struct,
			  .strings = off_strings, .strings_size = size_strings,
			  .addr_cells = 2, .size_cells = 1 };

	while (need(&w, 4)) {
		u32 token = be32(b + w.pos);
		w.pos += 4;
		if (token == FDT_BEGIN_NODE) {
			const char *name = (const char *)b + w.pos;
			if (!skip_name(&w))
				return -1;
			node = classify(name, ++depth, devices);
			w.dev_virtio = false;
		} else if (token == FDT_END_NODE) {
			if (depth == 2 && w.dev_virtio && info->virtio_count < FDT_VIRTIO_MAX) {
				info->virtio_base[info->virtio_count] = w.dev_base;
				info->virtio_intid[info->virtio_count++] = w.dev_intid;
			}
			w.dev_virtio = false;
			if (depth-- == 0)
				return -1;
			node = NODE_OTHER; /* properties after a child belong to no node we read */
		} else if (token == FDT_PROP) {
			if (!need(&w, 8))
				return -1;
			u32 len = be32(b + w.pos), nameoff = be32(b + w.pos + 4);
			w.pos += 8;
			if (!need(&w, len) || nameoff >= w.strings_size)
				return -1;
			if (node != NODE_OTHER) {
				enum prop p = prop_kind(&w, nameoff);
				if (p != P_OTHER)
					take_prop(&w, node, p, b + w.pos, len, info);
			}
			w.pos += (len + 3) & ~3u;
			if (w.pos > w.end)
				return -1;
		} else if (token == FDT_END) {
			return info->ram_size ? 0 : -1;
		} else if (token != FDT_NOP) {
			return -1;
		}
	}
	return -1;
}
