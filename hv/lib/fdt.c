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

/* The properties we read. */
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

/* The names we read, by enum prop. Most properties of a board DTB belong to devices we skip,
 * and a board's DTB stores each name once (every node's "reg" points at it), so a name costs a
 * compare of its first byte with each of these, then the offset it was last matched at
 * (walk.known) answers; only a new offset is compared byte by byte. */
static const char prop_names[P_COUNT][19] = {
	"", "#address-cells", "#size-cells", "reg", "compatible", "interrupts",
	"linux,initrd-start", "linux,initrd-end",
};

/* A name that would run past the strings block is no name we read. */
static enum prop prop_kind(struct walk *w, u32 off)
{
	const char *name = (const char *)w->blob + w->strings + off;
	u32 room = w->strings_size - off;
	for (u32 p = P_ADDR_CELLS; p < P_COUNT; p++) {
		if (name[0] != prop_names[p][0])
			continue;
		const char *want = prop_names[p];
		if (w->known[p] == off + 1)
			return p;
		u32 i = 1;
		while (i < room && want[i] && name[i] == want[i])
			i++;
		if (i < room && name[i] == want[i]) {
			w->known[p] = off + 1;
			return p;
		}
	}
	return P_OTHER;
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
	/* The transports' entries past virtio_count are not read: only what precedes them. */
	memset(info, 0, offsetof(struct board_info, virtio_intid));
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
