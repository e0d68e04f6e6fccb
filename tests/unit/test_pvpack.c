/* test_pvpack.c: unit tests of pvpack's validation, layout and writing, on FDTs built in memory. */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "board.h"
#include "harness.h"
#include "pvpack.h"

#define VM0 "/vms/vm@0"
#define VM1 "/vms/vm@1"
#define MIB (1024ull * 1024)

/* ---- fixtures: image files in a private directory that is also the cwd, so configs name
 * images by constant relative paths ("small.bin"), as the real tool resolves them. */

static char tmp_dir[] = "/tmp/pvpack-unit.XXXXXX";
static const struct {
	const char *name;
	uint64_t size;
} images[] = { { "small.bin", 4096 }, { "mid.bin", 3 * MIB }, { "empty.bin", 0 },
	       { "huge.bin", 127 * MIB } };

static void remove_tmp_dir(void)
{
	DIR *dir = opendir(tmp_dir);
	struct dirent *e;
	while (dir && (e = readdir(dir)))
		if (e->d_name[0] != '.')
			unlink(e->d_name);
	if (dir)
		closedir(dir);
	if (chdir("/") == 0)
		rmdir(tmp_dir);
}

/* Every byte differs from its neighbours, so a misplaced copy cannot compare equal. */
static uint8_t pattern(uint64_t i)
{
	return (uint8_t)(i * 7 + i / 251);
}

static void write_image(const char *name, uint64_t size)
{
	FILE *f = fopen(name, "wb");
	if (!f)
		abort();
	uint64_t written = size > MIB ? MIB : size; /* larger ones are sparse: cheap to make */
	for (uint64_t i = 0; i < written; i++)
		fputc(pattern(i), f);
	if (fclose(f) != 0 || truncate(name, (off_t)size) != 0)
		abort();
}

static void setup(void)
{
	static int done;
	if (done++)
		return;
	if (!mkdtemp(tmp_dir) || chdir(tmp_dir) != 0)
		abort();
	atexit(remove_tmp_dir);
	for (size_t i = 0; i < sizeof(images) / sizeof(images[0]); i++)
		write_image(images[i].name, images[i].size);
}

/* ---- building and editing FDTs with libfdt's read-write API */

static char fdt_buf[1 << 15];

static int must(int err)
{
	if (err < 0) {
		fprintf(stderr, "libfdt: %s\n", fdt_strerror(err));
		abort();
	}
	return err;
}

static int node_at(const char *path)
{
	return must(fdt_path_offset(fdt_buf, path));
}

static void set_cells(const char *path, const char *prop, const uint32_t *cells, int count)
{
	fdt32_t be[8];
	for (int i = 0; i < count; i++)
		be[i] = cpu_to_fdt32(cells[i]);
	must(fdt_setprop(fdt_buf, node_at(path), prop, be, count * 4));
}

static void set_str(const char *path, const char *prop, const char *s)
{
	must(fdt_setprop(fdt_buf, node_at(path), prop, s, (int)strlen(s) + 1));
}

/* fdt_property_string and fdt_setprop_string are macros that trip -Wconversion. */
static void seq_string(void *seq, const char *prop, const char *s)
{
	must(fdt_property(seq, prop, s, (int)strlen(s) + 1));
}

/* Built with the sequential-write API because fdt_add_subnode puts a new node first, and VM
 * order is config order. VM 0 is "alpha" with 16 MiB and 2 vCPUs; the others are "beta",
 * "vm2", "vm3", ... with 2 MiB and 1 vCPU; all load small.bin. All use guest-physical
 * 0x40000000: every VM has its own address space, so that overlap must not be reported. */
static void build_fdt(unsigned vm_count)
{
	static char seq[sizeof(fdt_buf)];
	setup();
	must(fdt_create(seq, sizeof(seq)));
	must(fdt_finish_reservemap(seq));
	must(fdt_begin_node(seq, ""));
	seq_string(seq, "compatible", "pocketvisor,config-v1");
	must(fdt_begin_node(seq, "vms"));
	for (unsigned i = 0; i < vm_count; i++) {
		char node[16], name[16];
		snprintf(node, sizeof(node), "vm@%u", i);
		snprintf(name, sizeof(name), "vm%u", i);
		must(fdt_begin_node(seq, node));
		seq_string(seq, "name", i == 0 ? "alpha" : i == 1 ? "beta" : name);
		fdt32_t memory[4] = { 0, cpu_to_fdt32(0x40000000), 0,
				      cpu_to_fdt32(i == 0 ? 16 * MIB : 2 * MIB) };
		must(fdt_property(seq, "memory", memory, sizeof(memory)));
		must(fdt_property_u32(seq, "vcpus", i == 0 ? 2 : 1));
		seq_string(seq, "image", "small.bin");
		must(fdt_end_node(seq));
	}
	must(fdt_end_node(seq));
	must(fdt_end_node(seq));
	must(fdt_finish(seq));
	must(fdt_open_into(seq, fdt_buf, sizeof(fdt_buf))); /* room for the edits */
}

static void base_fdt(void)
{
	build_fdt(2);
}

/* Runs config_check, printing what it reported when `expected` lines are not what came out. */
static size_t check(struct diag *d, struct pvpack_config *cfg, size_t expected)
{
	size_t n = config_check(fdt_buf, d, cfg);
	if (!EXPECT_EQ(n, expected))
		for (size_t i = 0; i < d->count; i++)
			fprintf(stderr, "  reported: %s\n", d->lines[i]);
	return n;
}

/* ---- one edit, one exact message: the whole error table of docs/config.md */

enum op { OP_CELLS, OP_STR, OP_DEL, OP_NODE, OP_DEL_NODE, OP_RENAME };
struct edit {
	const char *node;
	const char *prop;
	enum op op;
	const char *str;
	int cell_count;
	uint32_t cells[8];
};
#define CELLS(...)                                                                             \
	.op = OP_CELLS, .cell_count = (int)(sizeof((uint32_t[]){ __VA_ARGS__ }) / 4),          \
	.cells = { __VA_ARGS__ }
#define STR(s) .op = OP_STR, .str = (s)

static void apply(const struct edit *e)
{
	switch (e->op) {
	case OP_CELLS:
		set_cells(e->node, e->prop, e->cells, e->cell_count);
		break;
	case OP_STR:
		set_str(e->node, e->prop, e->str);
		break;
	case OP_DEL:
		must(fdt_delprop(fdt_buf, node_at(e->node), e->prop));
		break;
	case OP_NODE: {
		const char *slash = strrchr(e->node, '/');
		int parent = slash == e->node ? 0 : must(fdt_path_offset_namelen(
							    fdt_buf, e->node, (int)(slash - e->node)));
		must(fdt_add_subnode(fdt_buf, parent, slash + 1));
		break;
	}
	case OP_DEL_NODE:
		must(fdt_del_node(fdt_buf, node_at(e->node)));
		break;
	case OP_RENAME:
		must(fdt_set_name(fdt_buf, node_at(e->node), e->str));
		break;
	}
}

static const struct bad_case {
	struct edit edits[2];
	const char *expect;
} bad_cases[] = {
	/* structure */
	{ { { "/", "compatible", .op = OP_DEL } }, "/: missing required property \"compatible\"" },
	{ { { "/", "compatible", STR("acme,config") } },
	  "/: compatible: must be \"pocketvisor,config-v1\", not \"acme,config\"" },
	{ { { "/", "compatible", CELLS(1) } }, "/: compatible: must be a string" },
	{ { { "/", "model", STR("phone") } }, "/: unknown property \"model\"" },
	{ { { "/chosen", NULL, .op = OP_NODE } }, "/chosen: unknown node" },
	{ { { "/vms", "#address-cells", CELLS(1) } }, "/vms: unknown property \"#address-cells\"" },
	{ { { VM0, "colour", STR("red") } }, VM0 ": unknown property \"colour\"" },
	{ { { VM0 "/uart", NULL, .op = OP_NODE } }, VM0 "/uart: unknown node" },
	{ { { "/vms", NULL, .op = OP_DEL_NODE } }, "/: missing required node \"vms\"" },
	{ { { VM0, NULL, .op = OP_DEL_NODE }, { VM1, NULL, .op = OP_DEL_NODE } },
	  "/vms: no VMs (add a vm@<n> node)" },
	{ { { VM1, NULL, .op = OP_RENAME, .str = "guest" } },
	  "/vms/guest: VM node must be named vm@<n>" },
	{ { { VM1, NULL, .op = OP_RENAME, .str = "vm@" } }, "/vms/vm@: VM node must be named vm@<n>" },
	{ { { VM1, NULL, .op = OP_RENAME, .str = "vm@1x" } },
	  "/vms/vm@1x: VM node must be named vm@<n>" },
	/* required properties and their types */
	{ { { VM0, "name", .op = OP_DEL } }, VM0 ": missing required property \"name\"" },
	{ { { VM0, "memory", .op = OP_DEL } }, VM0 ": missing required property \"memory\"" },
	{ { { VM0, "vcpus", .op = OP_DEL } }, VM0 ": missing required property \"vcpus\"" },
	{ { { VM0, "image", .op = OP_DEL } }, VM0 ": missing required property \"image\"" },
	{ { { VM0, "name", CELLS(1) } }, VM0 ": name: must be a string" },
	{ { { VM0, "image", CELLS(1, 2) } }, VM0 ": image: must be a string" },
	{ { { VM0, "vcpus", CELLS(0, 1) } }, VM0 ": vcpus: must be one cell <n>, not 8 bytes" },
	{ { { VM0, "priority", STR("high") } }, VM0 ": priority: must be one cell <n>, not 5 bytes" },
	{ { { VM0, "memory", CELLS(0x40000000, 0x1000000) } },
	  VM0 ": memory: must be four cells <base-hi base-lo size-hi size-lo>, not 8 bytes" },
	{ { { VM0, "load", CELLS(0x40000000) } }, VM0 ": load: must be two cells <hi lo>, not 4 bytes" },
	{ { { VM0, "entry", CELLS(0, 0, 0x40000000) } },
	  VM0 ": entry: must be two cells <hi lo>, not 12 bytes" },
	{ { { VM0, "cpus", STR("ab") } }, VM0 ": cpus: must be a list of cells <a b ...>, not 3 bytes" },
	/* name */
	{ { { VM0, "name", STR("") } }, VM0 ": name: is empty" },
	{ { { VM0, "name", STR("abcdefghijklmnop") } },
	  VM0 ": name: is 16 characters, at most 15 are allowed" },
	{ { { VM0, "name", STR("Alpha") } },
	  VM0 ": name: character 'A' is not allowed (use a-z 0-9 _ -)" },
	{ { { VM0, "name", STR("a\tb") } },
	  VM0 ": name: character '\\x09' is not allowed (use a-z 0-9 _ -)" },
	{ { { VM1, "name", STR("alpha") } }, VM1 ": name: \"alpha\" is already used by /vms/vm@0" },
	/* memory */
	{ { { VM0, "memory", CELLS(0, 0x40100000, 0, 0x1000000) } },
	  VM0 ": memory: base 0x40100000 is not 2 MiB aligned" },
	{ { { VM0, "memory", CELLS(0, 0x40000000, 0, 0x1100000) } },
	  VM0 ": memory: size 0x1100000 is not a multiple of 2 MiB" },
	{ { { VM0, "memory", CELLS(0, 0x40000000, 0, 0) } }, VM0 ": memory: size is 0" },
	{ { { VM0, "memory", CELLS(0, 0xffe00000, 0, 0x400000) } },
	  VM0 ": memory: base 0xffe00000 + size 0x400000 is not below the 4 GiB guest-physical limit" },
	{ { { VM0, "memory", CELLS(0xffffffff, 0xffe00000, 0xffffffff, 0xffe00000) } },
	  VM0 ": memory: base 0xffffffffffe00000 + size 0xffffffffffe00000 is not below the 4 GiB "
	      "guest-physical limit" },
	{ { { VM0, "memory", CELLS(0, 0x09e00000, 0, 0x400000) } },
	  VM0 ": memory: [0x9e00000, 0xa200000) overlaps the guest device window [0x8000000, "
	      "0xa000000)" },
	{ { { VM0, "memory", CELLS(0, 0x40000000, 0, 0x20000000) },
	    { VM1, "memory", CELLS(0, 0x40000000, 0, 0x20000000) } },
	  "/vms: VM RAM needs 1024 MiB, the board has 768 MiB for VMs" },
	/* vCPUs and cores */
	{ { { VM0, "vcpus", CELLS(0) } }, VM0 ": vcpus: 0 is not in 1..8" },
	{ { { VM0, "vcpus", CELLS(9) } }, VM0 ": vcpus: 9 is not in 1..8" },
	{ { { VM0, "cpus", .op = OP_CELLS } }, VM0 ": cpus: is empty" },
	{ { { VM0, "cpus", CELLS(0, 4) } }, VM0 ": cpus: core 4 does not exist (the board has cores 0..3)" },
	{ { { VM0, "pin", CELLS(0) } }, VM0 ": pin: length 1 does not match vcpus 2" },
	{ { { VM0, "pin", CELLS(0, 9) } }, VM0 ": pin: core 9 does not exist (the board has cores 0..3)" },
	{ { { VM0, "cpus", CELLS(0, 1) }, { VM0, "pin", CELLS(0, 2) } },
	  VM0 ": pin: vCPU 1 is on core 2, which is not in cpus" },
	{ { { VM0, "priority", CELLS(256) } }, VM0 ": priority: 256 is not in 0..255" },
	/* image, load, entry */
	{ { { VM0, "image", STR("missing.bin") } },
	  VM0 ": image: cannot open \"missing.bin\": No such file or directory" },
	{ { { VM0, "image", STR("empty.bin") } }, VM0 ": image: \"empty.bin\" is empty" },
	{ { { VM0, "image", STR(".") } }, VM0 ": image: \".\" is not a regular file" },
	{ { { VM1, "image", STR("mid.bin") } },
	  VM1 ": image: \"mid.bin\" is 3145728 bytes but RAM from 0x40000000 holds only 2097152" },
	{ { { VM0, "load", CELLS(0, 0x40fff800) } },
	  VM0 ": image: \"small.bin\" is 4096 bytes but RAM from 0x40fff800 holds only 2048" },
	{ { { VM0, "load", CELLS(0, 0x41000000) } },
	  VM0 ": load: 0x41000000 is outside RAM [0x40000000, 0x41000000)" },
	{ { { VM0, "load", CELLS(0, 0x3ffff000) } },
	  VM0 ": load: 0x3ffff000 is outside RAM [0x40000000, 0x41000000)" },
	{ { { VM0, "entry", CELLS(0, 0x40001000) } },
	  VM0 ": entry: 0x40001000 is outside the image [0x40000000, 0x40001000)" },
	{ { { VM0, "load", CELLS(0, 0x40200000) }, { VM0, "entry", CELLS(0, 0x40000000) } },
	  VM0 ": entry: 0x40000000 is outside the image [0x40200000, 0x40201000)" },
	/* the bundle: 4 KiB header page + 127 MiB + 4 KiB of images + 2 * 4 KiB of DTBs */
	{ { { VM0, "memory", CELLS(0, 0x40000000, 0, 0x8000000) }, { VM0, "image", STR("huge.bin") } },
	  "/: bundle would be 133185536 bytes, more than the 132120576 allowed" },
};

TEST(each_bad_config_reports_exactly_its_message)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *bc = &bad_cases[i];
		struct diag d = { 0, NULL };
		struct pvpack_config cfg;
		base_fdt();
		for (size_t e = 0; e < 2 && bc->edits[e].node; e++)
			apply(&bc->edits[e]);
		if (check(&d, &cfg, 1) >= 1 && !EXPECT_STR(d.lines[0], bc->expect))
			fprintf(stderr, "  (case %zu)\n", i);
		diag_free(&d);
	}
}

/* ---- valid configs and the header they produce */

TEST(defaults_fill_the_header)
{
	struct diag d = { 0, NULL };
	struct pvpack_config cfg;
	base_fdt();
	if (check(&d, &cfg, 0) != 0)
		return;
	const struct pvb_header *h = &cfg.header;
	EXPECT_EQ(h->magic, PVB_MAGIC);
	EXPECT_EQ(h->version, PVB_VERSION);
	EXPECT_EQ(h->header_size, sizeof(struct pvb_header));
	EXPECT_EQ(h->vm_count, 2);
	EXPECT_EQ(h->total_size, 5 * PVB_ALIGN); /* header page, then per VM an image and a DTB page */

	const struct pvb_vm *vm = &h->vms[0];
	EXPECT(memcmp(vm->name, "alpha\0\0\0\0\0\0\0\0\0\0\0", PVB_NAME_SIZE) == 0);
	EXPECT_EQ(vm->ram_base, 0x40000000);
	EXPECT_EQ(vm->ram_size, 16 * MIB);
	EXPECT_EQ(vm->vcpu_count, 2);
	EXPECT_EQ(vm->cpu_mask, 0xf);
	EXPECT_EQ(vm->priority, 0);
	EXPECT_EQ(vm->flags, 0);
	for (unsigned i = 0; i < PVB_MAX_VCPUS; i++)
		EXPECT_EQ(vm->vcpu_pin[i], PVB_NO_PIN);
	EXPECT_EQ(vm->image.offset, PVB_ALIGN);
	EXPECT_EQ(vm->image.size, 4096);
	EXPECT_EQ(vm->image.load, 0x40000000);
	EXPECT_EQ(vm->entry, 0x40000000);
	EXPECT_EQ(vm->dtb.offset, 2 * PVB_ALIGN);
	EXPECT(vm->dtb.size > 0 && vm->dtb.size <= PVB_ALIGN);
	EXPECT_EQ(vm->dtb.load, 0x41000000 - 64 * 1024 - 16 * 1024);
	EXPECT_EQ(vm->initrd.size + vm->initrd.offset + vm->initrd.load, 0);
	EXPECT_STR(cfg.src[0].image_path, "small.bin");
	EXPECT_STR(cfg.src[0].bootargs, "console=ttyAMA0");
	EXPECT_EQ(h->vms[1].image.offset, 3 * PVB_ALIGN);
	EXPECT_STR(h->vms[1].name, "beta");
	EXPECT_EQ(h->vms[2].ram_size, 0);
	diag_free(&d);
}

TEST(explicit_properties_reach_the_header)
{
	struct diag d = { 0, NULL };
	struct pvpack_config cfg;
	base_fdt();
	set_str(VM0, "image", "mid.bin");
	set_cells(VM0, "cpus", (uint32_t[]){ 1, 3 }, 2);
	set_cells(VM0, "pin", (uint32_t[]){ 3, 1 }, 2);
	set_cells(VM0, "priority", (uint32_t[]){ 255 }, 1);
	set_cells(VM0, "load", (uint32_t[]){ 0, 0x40200000 }, 2);
	set_cells(VM0, "entry", (uint32_t[]){ 0, 0x404fffff }, 2); /* the image's last byte */
	if (check(&d, &cfg, 0) != 0)
		return;
	const struct pvb_vm *vm = &cfg.header.vms[0];
	EXPECT_EQ(vm->cpu_mask, 0xa);
	EXPECT_EQ(vm->vcpu_pin[0], 3);
	EXPECT_EQ(vm->vcpu_pin[1], 1);
	EXPECT_EQ(vm->vcpu_pin[2], PVB_NO_PIN);
	EXPECT_EQ(vm->priority, 255);
	EXPECT_EQ(vm->image.load, 0x40200000);
	EXPECT_EQ(vm->image.size, 3 * MIB);
	EXPECT_EQ(vm->entry, 0x404fffff);
	/* mid.bin is 768 pages: its DTB, then beta's image, start on the pages after it */
	EXPECT_EQ(vm->dtb.offset, PVB_ALIGN + 3 * MIB);
	EXPECT_EQ(cfg.header.vms[1].image.offset, 2 * PVB_ALIGN + 3 * MIB);
	EXPECT_EQ(cfg.header.total_size, 4 * PVB_ALIGN + 3 * MIB);
	diag_free(&d);
}

TEST(limits_are_inclusive_where_the_board_allows)
{
	struct diag d = { 0, NULL };
	struct pvpack_config cfg;
	/* RAM ending exactly at 4 GiB, ending exactly where devices start, starting where they end */
	build_fdt(3);
	set_cells(VM0, "memory", (uint32_t[]){ 0, 0xffe00000, 0, 0x200000 }, 4);
	set_cells(VM1, "memory", (uint32_t[]){ 0, 0x07e00000, 0, 0x200000 }, 4);
	set_cells("/vms/vm@2", "memory", (uint32_t[]){ 0, 0x0a000000, 0, 0x200000 }, 4);
	set_cells("/vms/vm@2", "vcpus", (uint32_t[]){ 8 }, 1);
	check(&d, &cfg, 0);
	diag_free(&d);

	/* 8 VMs using exactly the 768 MiB the board has for VMs */
	build_fdt(8);
	set_cells(VM0, "memory", (uint32_t[]){ 0, 0x40000000, 0, 754 * MIB }, 4);
	if (check(&d, &cfg, 0) == 0)
		EXPECT_EQ(cfg.header.vm_count, 8);
	diag_free(&d);
}

TEST(ram_is_added_up_in_2m_blocks)
{
	struct diag d = { 0, NULL };
	struct pvpack_config cfg;
	base_fdt();
	set_cells(VM0, "memory", (uint32_t[]){ 0, 0x40000000, 0, 767 * MIB }, 4);
	if (check(&d, &cfg, 2) == 2) {
		EXPECT_STR(d.lines[0], VM0 ": memory: size 0x2ff00000 is not a multiple of 2 MiB");
		EXPECT_STR(d.lines[1], "/vms: VM RAM needs 770 MiB, the board has 768 MiB for VMs");
	}
	diag_free(&d);
}

TEST(more_than_eight_vms_are_all_checked)
{
	struct diag d = { 0, NULL };
	struct pvpack_config cfg;
	build_fdt(10);
	set_cells("/vms/vm@9", "vcpus", (uint32_t[]){ 0 }, 1);
	set_str("/vms/vm@9", "name", "alpha");
	if (check(&d, &cfg, 3) == 3) {
		EXPECT_STR(d.lines[0], "/vms/vm@9: vcpus: 0 is not in 1..8");
		EXPECT_STR(d.lines[1], "/vms/vm@9: name: \"alpha\" is already used by /vms/vm@0");
		EXPECT_STR(d.lines[2], "/vms: 10 VMs, at most 8 are allowed");
	}
	EXPECT_EQ(cfg.header.vm_count, PVB_MAX_VMS);
	diag_free(&d);
}

TEST(every_problem_is_reported_in_config_order)
{
	struct diag d = { 0, NULL };
	struct pvpack_config cfg;
	base_fdt();
	set_str("/", "compatible", "x");
	set_cells(VM0, "vcpus", (uint32_t[]){ 0 }, 1);
	set_cells(VM0, "priority", (uint32_t[]){ 300 }, 1);
	set_str(VM1, "surprise", "");
	set_str(VM1, "image", "missing.bin");
	if (check(&d, &cfg, 5) == 5) {
		EXPECT_STR(d.lines[0], "/: compatible: must be \"pocketvisor,config-v1\", not \"x\"");
		EXPECT_STR(d.lines[1], VM0 ": vcpus: 0 is not in 1..8");
		EXPECT_STR(d.lines[2], VM0 ": priority: 300 is not in 0..255");
		EXPECT_STR(d.lines[3], VM1 ": unknown property \"surprise\"");
		EXPECT_STR(d.lines[4],
			   VM1 ": image: cannot open \"missing.bin\": No such file or directory");
	}
	diag_free(&d);
}

/* ---- diag, layout, dtc, writing */

TEST(diag_prints_one_prefixed_line_per_problem)
{
	struct diag d = { 0, NULL };
	char *text = NULL;
	size_t len = 0;
	diag_report(&d, "/vms", "%d VMs", 9);
	diag_report(&d, "/", "plain");
	FILE *f = open_memstream(&text, &len);
	if (!EXPECT(f))
		return;
	diag_print(&d, f, "c.dts");
	fclose(f);
	EXPECT_STR(text, "pvpack: c.dts: /vms: 9 VMs\npvpack: c.dts: /: plain\n");
	free(text);
	diag_free(&d);
	EXPECT_EQ(d.count, 0);
}

TEST(payloads_are_placed_on_page_boundaries)
{
	uint64_t cursor = sizeof(struct pvb_header);
	EXPECT_EQ(pack_place(&cursor, 1), PVB_ALIGN);
	EXPECT_EQ(pack_place(&cursor, 0), 0); /* no payload, no offset, cursor unmoved */
	EXPECT_EQ(pack_place(&cursor, PVB_ALIGN), 2 * PVB_ALIGN);
	EXPECT_EQ(cursor, 3 * PVB_ALIGN);
	EXPECT_EQ(pack_end(cursor), 3 * PVB_ALIGN);
	EXPECT_EQ(pack_end(cursor + 1), 4 * PVB_ALIGN);
	cursor = UINT64_MAX - 10; /* absurd sizes saturate instead of wrapping to small ones */
	pack_place(&cursor, 100);
	EXPECT_EQ(pack_end(cursor), UINT64_MAX);
}

/* Runs fn with stderr sent to /dev/null: the failures tested here print, by design. */
static int quietly(int (*fn)(const void *), const void *arg)
{
	fflush(stderr);
	int saved = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY);
	dup2(null, STDERR_FILENO);
	int r = fn(arg);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(null);
	return r;
}

static int compile_quietly(const void *path)
{
	void *fdt;
	int r = dts_compile(path, &fdt);
	free(fdt);
	return r;
}

TEST(dtc_keeps_name_properties_and_rejects_bad_syntax)
{
	setup();
	FILE *f = fopen("c.dts", "w");
	if (!EXPECT(f))
		return;
	/* dtc's legacy checks would reject "alpha" and silently delete "vm" */
	fputs("/dts-v1/;\n/ { vms { vm@0 { name = \"alpha\"; }; vm@1 { name = \"vm\"; }; }; };\n", f);
	fclose(f);
	void *fdt;
	if (EXPECT_EQ(dts_compile("c.dts", &fdt), 0)) {
		EXPECT_STR(fdt_getprop(fdt, fdt_path_offset(fdt, VM0), "name", NULL), "alpha");
		EXPECT_STR(fdt_getprop(fdt, fdt_path_offset(fdt, VM1), "name", NULL), "vm");
		free(fdt);
	}
	f = fopen("c.dts", "w");
	fputs("/dts-v1/;\n/ { x = <1> };\n", f);
	fclose(f);
	EXPECT_EQ(quietly(compile_quietly, "c.dts"), -1);
	EXPECT_EQ(quietly(compile_quietly, "no-such.dts"), -1);
	unlink("c.dts");
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	static uint8_t buf[1 << 23];
	*len = f ? fread(buf, 1, sizeof(buf), f) : 0;
	if (f)
		fclose(f);
	return f ? buf : NULL;
}

TEST(bundle_holds_the_header_then_each_image_at_its_offset)
{
	struct diag d = { 0, NULL };
	struct pvpack_config cfg;
	base_fdt();
	set_str(VM1, "image", "mid.bin");
	set_cells(VM1, "memory", (uint32_t[]){ 0, 0x40000000, 0, 4 * MIB }, 4);
	if (check(&d, &cfg, 0) != 0 || !EXPECT_EQ(pack_write(&cfg, "out.pvb"), 0))
		return;
	size_t len;
	const uint8_t *b = read_file("out.pvb", &len);
	if (!EXPECT(b) || !EXPECT_EQ(len, cfg.header.total_size))
		return;
	EXPECT(memcmp(b, &cfg.header, sizeof(cfg.header)) == 0);
	for (unsigned v = 0; v < 2; v++) {
		const struct pvb_blob *img = &cfg.header.vms[v].image;
		int same = 1;
		for (uint64_t i = 0; i < img->size; i++)
			same &= b[img->offset + i] == (i < MIB ? pattern(i) : 0);
		EXPECT(same);
	}
	EXPECT_EQ(cfg.header.total_size, 4 * PVB_ALIGN + 3 * MIB);
	struct stat st;
	EXPECT(stat("out.pvb", &st) == 0 && (st.st_mode & 0444) == 0444); /* not mkstemp's 0600 */
	unlink("out.pvb");
}

static int pack_quietly(const void *cfg)
{
	return pack_write(cfg, "out.pvb");
}

TEST(failed_write_leaves_the_old_bundle_and_no_temp_file)
{
	struct diag d = { 0, NULL };
	struct pvpack_config cfg;
	base_fdt();
	set_str(VM1, "image", "gone.bin");
	write_image("gone.bin", 4096);
	if (check(&d, &cfg, 0) != 0)
		return;
	write_image("out.pvb", 5); /* the last good bundle */
	unlink("gone.bin");        /* vanishes between check and pack */
	EXPECT_EQ(quietly(pack_quietly, &cfg), -1);
	struct stat st;
	EXPECT(stat("out.pvb", &st) == 0 && st.st_size == 5);
	DIR *dir = opendir(".");
	struct dirent *e;
	while (dir && (e = readdir(dir)))
		EXPECT(strncmp(e->d_name, "out.pvb.", 8) != 0);
	closedir(dir);
	unlink("out.pvb");
}
