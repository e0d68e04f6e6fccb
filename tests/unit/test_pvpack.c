/* test_pvpack.c: unit tests of pvpack's validation, layout and writing, on FDTs built in memory. */
#include <dirent.h>
#include <elf.h>
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

/* An arm64 Linux Image (booting.rst header, little-endian) of 4 KiB with the given fields. */
#define LINUX_FILE_SIZE 4096u
static void write_linux(const char *name, uint64_t text_offset, uint64_t image_size,
			uint64_t flags)
{
	uint8_t img[LINUX_FILE_SIZE];
	for (unsigned i = 0; i < sizeof(img); i++)
		img[i] = pattern(i);
	uint64_t fields[3] = { text_offset, image_size, flags };
	memcpy(img + 8, fields, sizeof(fields)); /* the host is little-endian, as pvpack asserts */
	memcpy(img + 56, "ARM\x64", 4);
	FILE *f = fopen(name, "wb");
	if (!f || fwrite(img, 1, sizeof(img), f) != sizeof(img) || fclose(f) != 0)
		abort();
}

/* An ELF64 file: header, program headers at phoff, segment data from 0x1000 to 0x2000. */
struct elf_spec {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[10];
};

#define SEG(type, off, addr, filesz, memsz) { type, PF_R, off, addr, addr, filesz, memsz, 0x1000 }
/* Two loadable segments with a gap and a note between them; the second has 8 KiB of bss. */
static const struct elf_spec good_elf = {
	.eh = { .e_ident = { 0x7f, 'E', 'L', 'F', ELFCLASS64, ELFDATA2LSB, EV_CURRENT },
		.e_type = ET_EXEC, .e_machine = EM_AARCH64, .e_version = EV_CURRENT,
		.e_entry = 0x40000010, .e_phoff = 64, .e_ehsize = 64, .e_phentsize = 56,
		.e_phnum = 3 },
	.ph = { SEG(PT_LOAD, 0x1000, 0x40000000, 0x100, 0x100), SEG(PT_NOTE, 0x1000, 0, 0x10, 0),
		SEG(PT_LOAD, 0x1100, 0x40003000, 0x80, 0x2000) },
};

static void write_elf(const char *name, const struct elf_spec *e)
{
	static uint8_t file[0x2000];
	memset(file, 0, sizeof(file));
	memcpy(file, &e->eh, sizeof(e->eh));
	if (e->eh.e_phoff == 64)
		memcpy(file + 64, e->ph, sizeof(e->ph));
	for (unsigned i = 0x1000; i < sizeof(file); i++)
		file[i] = pattern(i);
	FILE *f = fopen(name, "wb");
	if (!f || fwrite(file, 1, sizeof(file), f) != sizeof(file) || fclose(f) != 0)
		abort();
}

/* Each bad ELF is the good one with one thing changed. */
static void write_elf_variants(void)
{
	struct elf_spec e;
#define VARIANT(name, change)                                                                  \
	do {                                                                                   \
		e = good_elf;                                                                  \
		change;                                                                        \
		write_elf(name, &e);                                                           \
	} while (0)
	VARIANT("good.elf", (void)0);
	VARIANT("elf32.elf", e.eh.e_ident[EI_CLASS] = ELFCLASS32);
	VARIANT("be.elf", e.eh.e_ident[EI_DATA] = ELFDATA2MSB);
	VARIANT("x86.elf", e.eh.e_machine = EM_X86_64);
	VARIANT("dyn.elf", e.eh.e_type = ET_DYN);
	VARIANT("phoff.elf", e.eh.e_phoff = 0x1fe0);
	VARIANT("filesz.elf", e.ph[2].p_filesz = 0x3000);
	VARIANT("segfile.elf", e.ph[2].p_offset = 0x1fc0);
	VARIANT("outside.elf", e.ph[2].p_paddr = 0x40fff000);
	VARIANT("overlap.elf", e.ph[2].p_paddr = 0x400000f0);
	VARIANT("noload.elf", e.eh.e_phnum = 2; e.ph[0].p_type = PT_NULL);
	VARIANT("entry.elf", e.eh.e_entry = 0x40005000);
	VARIANT("many.elf", e.eh.e_phnum = 10; for (int i = 0; i < 10; i++) e.ph[i] =
		(Elf64_Phdr)SEG(PT_LOAD, 0x1000, 0x40000000 + 0x1000 * (uint64_t)i, 0x10, 0x10));
#undef VARIANT
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
	write_linux("Image", 0x80000, LINUX_FILE_SIZE + MIB, 0xa);
	write_linux("old.Image", 0x80000, 0, 0);
	write_linux("be.Image", 0, LINUX_FILE_SIZE, 0xb);
	write_linux("short.Image", 0, LINUX_FILE_SIZE - 1, 0xa);
	write_linux("far.Image", PVPACK_2M, LINUX_FILE_SIZE, 0xa);
	write_linux("fixed.Image", 0, LINUX_FILE_SIZE, 0x2);
	write_linux("big.Image", 0, 16 * MIB - 64 * 1024, 0xa);
	write_elf_variants();
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
	fdt32_t be[16];
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

enum op { OP_CELLS, OP_STR, OP_STRS, OP_DEL, OP_NODE, OP_DEL_NODE, OP_RENAME };
struct edit {
	const char *node;
	const char *prop;
	enum op op;
	const char *str;
	int len; /* OP_STRS: bytes of str, with every NUL */
	int cell_count;
	uint32_t cells[8];
};
#define CELLS(...)                                                                             \
	.op = OP_CELLS, .cell_count = (int)(sizeof((uint32_t[]){ __VA_ARGS__ }) / 4),          \
	.cells = { __VA_ARGS__ }
#define STR(s) .op = OP_STR, .str = (s)
/* A string list written as one literal with embedded NULs: "a\0b". */
#define STRS(lit) .op = OP_STRS, .str = (lit), .len = (int)sizeof(lit)
/* Raw bytes, such as a MAC: the literal without its NUL. */
#define BYTES(lit) .op = OP_STRS, .str = (lit), .len = (int)sizeof(lit) - 1

static void apply(const struct edit *e)
{
	switch (e->op) {
	case OP_CELLS:
		set_cells(e->node, e->prop, e->cells, e->cell_count);
		break;
	case OP_STR:
		set_str(e->node, e->prop, e->str);
		break;
	case OP_STRS:
		must(fdt_setprop(fdt_buf, node_at(e->node), e->prop, e->str, e->len));
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

#define MAX_EDITS 4
static const struct bad_case {
	struct edit edits[MAX_EDITS];
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
	      "0xa004000)" },
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
	/* arm64 Linux Images */
	{ { { VM0, "image", STR("be.Image") } },
	  VM0 ": image: \"be.Image\" is a big-endian Linux Image (only little-endian ones can boot)" },
	{ { { VM0, "image", STR("old.Image") } },
	  VM0 ": image: \"old.Image\" is a Linux Image from before v3.17 (image_size is 0), which is "
	      "not supported" },
	{ { { VM0, "image", STR("short.Image") } },
	  VM0 ": image: \"short.Image\" is a Linux Image whose image_size 4095 is smaller than the "
	      "file" },
	{ { { VM0, "image", STR("far.Image") } },
	  VM0 ": image: \"far.Image\" is a Linux Image with text_offset 0x200000, not below 2 MiB" },
	{ { { VM0, "image", STR("Image") }, { VM0, "entry", CELLS(0, 0x40080000) } },
	  VM0 ": entry: cannot be set for a Linux Image (it starts at its first byte)" },
	{ { { VM0, "image", STR("Image") }, { VM0, "load", CELLS(0, 0x40100000) } },
	  VM0 ": load: 0x40100000 is not 2 MiB aligned, as a Linux Image's base must be" },
	{ { { VM0, "image", STR("Image") }, { VM0, "load", CELLS(0, 0x41000000) } },
	  VM0 ": load: 0x41000000 is outside RAM [0x40000000, 0x41000000)" },
	{ { { VM0, "image", STR("fixed.Image") }, { VM0, "load", CELLS(0, 0x40200000) } },
	  VM0 ": load: 0x40200000 is above the RAM base, but this Linux Image (flags bit 3 clear) "
	      "could not use the RAM below it" },
	{ { { VM0, "image", STR("big.Image") }, { VM0, "load", CELLS(0, 0x40200000) } },
	  VM0 ": image: \"big.Image\" needs 16711680 bytes (image_size) at 0x40200000 but RAM from "
	      "there holds only 14680064" },
	{ { { VM0, "image", STR("big.Image") } },
	  VM0 ": image: [0x40000000, 0x40ff0000) overlaps the DTB [0x40fec000, 0x40ff0000)" },
	/* ELF executables */
	{ { { VM0, "image", STR("elf32.elf") } },
	  VM0 ": image: \"elf32.elf\" is an ELF file but not ELF64 little-endian" },
	{ { { VM0, "image", STR("be.elf") } },
	  VM0 ": image: \"be.elf\" is an ELF file but not ELF64 little-endian" },
	{ { { VM0, "image", STR("x86.elf") } },
	  VM0 ": image: \"x86.elf\" is an ELF file for another machine than AArch64" },
	{ { { VM0, "image", STR("dyn.elf") } },
	  VM0 ": image: \"dyn.elf\" is an ELF file but not an executable (ET_EXEC)" },
	{ { { VM0, "image", STR("phoff.elf") } },
	  VM0 ": image: \"phoff.elf\" has program headers outside the file" },
	{ { { VM0, "image", STR("filesz.elf") } },
	  VM0 ": image: \"filesz.elf\" has segment 2 with p_filesz larger than p_memsz" },
	{ { { VM0, "image", STR("segfile.elf") } },
	  VM0 ": image: \"segfile.elf\" has segment 2 outside the file" },
	{ { { VM0, "image", STR("outside.elf") } },
	  VM0 ": image: \"outside.elf\" has segment 2 at [0x40fff000, +0x2000) outside RAM "
	      "[0x40000000, 0x41000000)" },
	{ { { VM0, "image", STR("overlap.elf") } },
	  VM0 ": image: \"overlap.elf\" has segments 0 and 2 overlapping" },
	{ { { VM0, "image", STR("noload.elf") } },
	  VM0 ": image: \"noload.elf\" has no loadable segments" },
	{ { { VM0, "image", STR("many.elf") } },
	  VM0 ": image: \"many.elf\" has more than 8 loadable segments" },
	{ { { VM0, "image", STR("entry.elf") } },
	  VM0 ": image: \"entry.elf\" has entry 0x40005000 outside its segments [0x40000000, "
	      "0x40005000)" },
	{ { { VM0, "image", STR("good.elf") }, { VM0, "load", CELLS(0, 0x40000000) } },
	  VM0 ": load: cannot be set for an ELF image (its program headers place it)" },
	{ { { VM0, "image", STR("good.elf") }, { VM0, "entry", CELLS(0, 0x40000010) } },
	  VM0 ": entry: cannot be set for an ELF image (its e_entry gives it)" },
	/* the top of RAM: PV-time area, DTB window, initrd */
	{ { { VM0, "load", CELLS(0, 0x40ff0000) } },
	  VM0 ": image: [0x40ff0000, 0x40ff1000) overlaps the hypervisor's PV-time area "
	      "[0x40ff0000, 0x41000000)" },
	{ { { VM0, "load", CELLS(0, 0x40fec000) } },
	  VM0 ": image: [0x40fec000, 0x40fed000) overlaps the DTB [0x40fec000, 0x40ff0000)" },
	{ { { VM0, "load", CELLS(0, 0x40e00000) }, { VM0, "initrd", STR("mid.bin") } },
	  VM0 ": image: [0x40e00000, 0x40e01000) overlaps the initrd [0x40cec000, 0x40fec000)" },
	{ { { VM1, "initrd", STR("mid.bin") } },
	  VM1 ": initrd: \"mid.bin\" is 3145728 bytes but RAM below the DTB at 0x401ec000 holds only "
	      "2015232" },
	{ { { VM0, "initrd", STR("missing.bin") } },
	  VM0 ": initrd: cannot open \"missing.bin\": No such file or directory" },
	{ { { VM0, "initrd", STR("empty.bin") } }, VM0 ": initrd: \"empty.bin\" is empty" },
	{ { { VM0, "initrd", STR(".") } }, VM0 ": initrd: \".\" is not a regular file" },
	{ { { VM0, "initrd", CELLS(1) } }, VM0 ": initrd: must be a string" },
	{ { { VM0, "bootargs", CELLS(1) } }, VM0 ": bootargs: must be a string" },
	/* vsock: its node, the CID, the connect entries */
#define VS0 VM0 "/vsock"
#define VS1 VM1 "/vsock"
#define VSOCK0 { VS0, NULL, .op = OP_NODE }
#define VSOCK1 { VS1, NULL, .op = OP_NODE }
	{ { VSOCK0, { VS0, "port", CELLS(5000) } }, VS0 ": unknown property \"port\"" },
	{ { VSOCK0, { VS0 "/peer", NULL, .op = OP_NODE } }, VS0 "/peer: unknown node" },
	{ { { VM0 "/vsock@0", NULL, .op = OP_NODE } }, VM0 "/vsock@0: unknown node" },
	{ { VSOCK0, { VS0, "cid", CELLS(0, 3) } }, VS0 ": cid: must be one cell <n>, not 8 bytes" },
	{ { VSOCK0, { VS0, "cid", CELLS(0) } }, VS0 ": cid: 0 is not in 3..4294967294" },
	{ { VSOCK0, { VS0, "cid", CELLS(2) } }, VS0 ": cid: 2 is not in 3..4294967294" },
	{ { VSOCK0, { VS0, "cid", CELLS(0xffffffff) } },
	  VS0 ": cid: 4294967295 is not in 3..4294967294" },
	{ { VSOCK0, { VS0, "cid", CELLS(7) }, VSOCK1, { VS1, "cid", CELLS(7) } },
	  VS1 ": cid: 7 is already used by /vms/vm@0" },
	{ { VSOCK0, VSOCK1, { VS1, "cid", CELLS(3) } }, VS1 ": cid: 3 is already used by /vms/vm@0" },
	{ { VSOCK0, { VS0, "cid", CELLS(4) }, VSOCK1 },
	  VS1 ": cid: 4 (the default: 3 + its index in /vms) is already used by /vms/vm@0" },
	{ { VSOCK0, { VS0, "connect", STR("nosuch:5000") } },
	  VS0 ": connect: \"nosuch:5000\" names no VM" },
	{ { VSOCK0, { VS0, "connect", STR(":5000") } }, VS0 ": connect: \":5000\" names no VM" },
	{ { VSOCK0, { VS0, "connect", STR("alpha:5000") } },
	  VS0 ": connect: \"alpha:5000\" names this VM itself" },
	{ { VSOCK0, { VS0, "connect", STR("beta:5000") } },
	  VS0 ": connect: \"beta:5000\" names /vms/vm@1, which has no vsock node" },
	{ { VSOCK0, VSOCK1, { VS0, "connect", STR("beta") } },
	  VS0 ": connect: \"beta\" is not \"<vm>:<port>\" or \"<vm>:*\"" },
	{ { VSOCK0, VSOCK1, { VS0, "connect", STR("") } },
	  VS0 ": connect: \"\" is not \"<vm>:<port>\" or \"<vm>:*\"" },
	{ { VSOCK0, VSOCK1, { VS0, "connect", STR("beta:50x0") } },
	  VS0 ": connect: \"beta:50x0\" has a bad port (use a decimal number in 0..4294967294, or *)" },
	{ { VSOCK0, VSOCK1, { VS0, "connect", STR("beta:") } },
	  VS0 ": connect: \"beta:\" has a bad port (use a decimal number in 0..4294967294, or *)" },
	{ { VSOCK0, VSOCK1, { VS0, "connect", STR("beta:4294967295") } },
	  VS0 ": connect: \"beta:4294967295\" has a bad port (use a decimal number in "
	      "0..4294967294, or *)" },
	{ { VSOCK0, VSOCK1, { VS0, "connect", STR("beta:99999999999999999999") } },
	  VS0 ": connect: \"beta:99999999999999999999\" has a bad port (use a decimal number in "
	      "0..4294967294, or *)" },
	{ { VSOCK0, VSOCK1, { VS0, "connect", STR("beta:+1") } },
	  VS0 ": connect: \"beta:+1\" has a bad port (use a decimal number in 0..4294967294, or *)" },
	{ { VSOCK0, VSOCK1, { VS0, "connect", STR("beta:**") } },
	  VS0 ": connect: \"beta:**\" has a bad port (use a decimal number in 0..4294967294, or *)" },
	{ { VSOCK0, VSOCK1, { VS0, "connect", STRS("beta:5000\0beta:5000") } },
	  VS0 ": connect: \"beta:5000\" is listed twice" },
	{ { VSOCK0, VSOCK1, { VS0, "connect", STRS("beta:*\0beta:*") } },
	  VS0 ": connect: \"beta:*\" is listed twice" },
	{ { VSOCK0, VSOCK1, { VS0, "connect", STRS("beta:5000\0beta:05000") } },
	  VS0 ": connect: \"beta:05000\" overlaps \"beta:5000\"" },
	{ { VSOCK0, VSOCK1, { VS0, "connect", STRS("beta:5000\0beta:*") } },
	  VS0 ": connect: \"beta:*\" overlaps \"beta:5000\"" },
	{ { VSOCK0, VSOCK1, { VS0, "connect", STRS("beta:*\0beta:5000") } },
	  VS0 ": connect: \"beta:5000\" overlaps \"beta:*\"" },
	{ { VSOCK0, VSOCK1,
	    { VS0, "connect", STRS("beta:1\0beta:2\0beta:3\0beta:4\0beta:5\0beta:6\0beta:7\0"
				   "beta:8\0beta:9") } },
	  VS0 ": connect: has 9 entries, at most 8 are allowed" },
	{ { VSOCK0, VSOCK1, { VS0, "connect", CELLS(1) } },
	  VS0 ": connect: must be one or more strings" },
	{ { VSOCK0, VSOCK1, { VS0, "connect", .op = OP_CELLS } },
	  VS0 ": connect: must be one or more strings" },
	/* the disk layout: /disk and its partitions */
#define DISK { "/disk", NULL, .op = OP_NODE }
#define PART(name) { "/disk/" name, NULL, .op = OP_NODE }
#define SIZE(name, mib) { "/disk/" name, "size-mib", CELLS(mib) }
	{ { DISK }, "/disk: no partitions (add one child node per partition)" },
	{ { DISK, { "/disk", "fs", STR("ext4") }, PART("data"), SIZE("data", 1) },
	  "/disk: unknown property \"fs\"" },
	{ { { "/disk@0", NULL, .op = OP_NODE } }, "/disk@0: unknown node" },
	{ { DISK, PART("data") }, "/disk/data: missing required property \"size-mib\"" },
	{ { DISK, PART("data"), SIZE("data", 0) }, "/disk/data: size-mib: 0 is not in 1..65536" },
	{ { DISK, PART("data"), SIZE("data", 65537) },
	  "/disk/data: size-mib: 65537 is not in 1..65536" },
	{ { DISK, PART("data"), SIZE("data", 1), { "/disk/data", "fs", STR("btrfs") } },
	  "/disk/data: fs: must be \"ext4\", not \"btrfs\"" },
	{ { DISK, PART("data"), SIZE("data", 1), { "/disk/data", "fs", CELLS(1) } },
	  "/disk/data: fs: must be a string" },
	{ { DISK, PART("data"), SIZE("data", 1), { "/disk/data/p1", NULL, .op = OP_NODE } },
	  "/disk/data/p1: unknown node" },
	{ { DISK, PART("open_data"), SIZE("open_data", 1) },
	  "/disk/open_data: partition name: character '_' is not allowed (use a-z 0-9 -)" },
	{ { DISK, PART("data@1"), SIZE("data@1", 1) },
	  "/disk/data@1: partition name: character '@' is not allowed (use a-z 0-9 -)" },
	{ { DISK, PART("abcdefghijklmnop"), SIZE("abcdefghijklmnop", 1) },
	  "/disk/abcdefghijklmnop: partition name: is 16 characters, at most 15 are allowed" },
	{ { DISK, PART("a"), SIZE("a", 65535), PART("b") },
	  "/disk/b: missing required property \"size-mib\"" }, /* and no total: b's size is unknown */
	/* a VM's disks */
	{ { { VM0, "disks", STR("data") } }, VM0 ": disks: \"data\" names no partition in /disk" },
	{ { DISK, PART("data"), SIZE("data", 1), { VM0, "disks", STR("") } },
	  VM0 ": disks: \"\" names no partition in /disk" },
	{ { DISK, PART("data"), SIZE("data", 1), { VM0, "disks", STR("dat") } },
	  VM0 ": disks: \"dat\" names no partition in /disk" },
	{ { DISK, PART("data"), SIZE("data", 1), { VM0, "disks", STR("data:") } },
	  VM0 ": disks: \"data:\" has an unknown flag (the only one is \":ro\")" },
	{ { DISK, PART("data"), SIZE("data", 1), { VM0, "disks", STR("data:ro:ro") } },
	  VM0 ": disks: \"data:ro:ro\" has an unknown flag (the only one is \":ro\")" },
	{ { DISK, PART("data"), SIZE("data", 1), { VM0, "disks", STRS("data:ro\0data:ro") } },
	  VM0 ": disks: partition \"data\" is listed twice" },
	{ { DISK, PART("data"), SIZE("data", 1), { VM0, "disks", .op = OP_CELLS } },
	  VM0 ": disks: must be one or more strings" },
	/* net */
#define NET0 { VM0 "/net", NULL, .op = OP_NODE }
#define NET1 { VM1 "/net", NULL, .op = OP_NODE }
	{ { NET0, { VM0 "/net", "uplink", STR("yes") } },
	  VM0 "/net: uplink: is a flag and takes no value (write \"uplink;\")" },
	{ { NET0, { VM0 "/net", "mac", CELLS(1) } },
	  VM0 "/net: mac: must be 6 bytes [xx xx xx xx xx xx], not 4 bytes" },
	{ { NET0, { VM0 "/net", "mac", STRS("\x02\x00\x00\x00\x00\x00") } },
	  VM0 "/net: mac: must be 6 bytes [xx xx xx xx xx xx], not 7 bytes" },
	{ { NET0, { VM0 "/net", "mac", BYTES("\xff\xff\xff\xff\xff\xff") } },
	  VM0 "/net: mac: ff:ff:ff:ff:ff:ff is a multicast address (bit 0 of the first byte must be "
	      "clear)" },
	{ { NET0, { VM0 "/net", "mac", BYTES("\0\0\0\0\0\0") } },
	  VM0 "/net: mac: 00:00:00:00:00:00 is not a valid address" },
	{ { NET0, { VM0 "/net", "peers", STR("beta") } },
	  VM0 "/net: peers: \"beta\" names /vms/vm@1, which has no net node" },
	{ { NET0, NET1, { VM0 "/net", "peers", STR("beta") } },
	  VM0 "/net: peers: \"beta\" does not list \"alpha\" in its own peers (peers must be "
	      "mutual)" },
	{ { NET0, { VM0 "/net", "peers", STR("alpha") } },
	  VM0 "/net: peers: \"alpha\" names this VM itself" },
	{ { NET0, { VM0 "/net", "peers", STR("") } }, VM0 "/net: peers: \"\" names no VM" },
	{ { NET0, { VM0 "/net", "peers", CELLS(1) } },
	  VM0 "/net: peers: must be one or more strings" },
	{ { NET0, NET1, { VM1 "/net", "mac", BYTES("\x02\xbb\x85\xed\x20\x2b") } },
	  VM1 "/net: mac: 02:bb:85:ed:20:2b is already used by /vms/vm@0" }, /* alpha's default */
	{ { NET0, { VM0 "/net", "vlan", CELLS(1) } }, VM0 "/net: unknown property \"vlan\"" },
	{ { { VM0 "/net@0", NULL, .op = OP_NODE } }, VM0 "/net@0: unknown node" },
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
		for (size_t e = 0; e < MAX_EDITS && bc->edits[e].node; e++)
			apply(&bc->edits[e]);
		size_t n = check(&d, &cfg, 1);
		if (n == 0 || (n >= 1 && !EXPECT_STR(d.lines[0], bc->expect)))
			fprintf(stderr, "  (case %zu: %s)\n", i, bc->expect);
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
	/* RAM ending exactly at 4 GiB, ending exactly where devices start, starting at the first 2 MiB line after them */
	build_fdt(3);
	set_cells(VM0, "memory", (uint32_t[]){ 0, 0xffe00000, 0, 0x200000 }, 4);
	set_cells(VM1, "memory", (uint32_t[]){ 0, 0x07e00000, 0, 0x200000 }, 4);
	set_cells("/vms/vm@2", "memory", (uint32_t[]){ 0, 0x0a200000, 0, 0x200000 }, 4);
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

/* ---- image formats, the top of RAM and the guest DTB */

static const struct pvb_vm *check_vm0(struct diag *d, struct pvpack_config *cfg)
{
	return check(d, cfg, 0) == 0 ? &cfg->header.vms[0] : NULL;
}

TEST(linux_image_goes_at_its_base_plus_text_offset)
{
	struct diag d = { 0, NULL };
	struct pvpack_config cfg;
	base_fdt();
	set_str(VM0, "image", "Image");
	const struct pvb_vm *vm = check_vm0(&d, &cfg);
	if (vm) {
		EXPECT_EQ(vm->image.load, 0x40080000);
		EXPECT_EQ(vm->entry, 0x40080000);
		EXPECT_EQ(vm->image.size, LINUX_FILE_SIZE); /* the bss is not copied ... */
		EXPECT_EQ(cfg.src[0].image_end, 0x40080000 + LINUX_FILE_SIZE + MIB); /* ... but kept */
	}
	/* flags bit 3 set: any 2 MiB aligned base */
	set_cells(VM0, "load", (uint32_t[]){ 0, 0x40400000 }, 2);
	if ((vm = check_vm0(&d, &cfg)))
		EXPECT_EQ(vm->entry, 0x40480000);
	diag_free(&d);
}

TEST(elf_segments_become_one_zero_filled_payload)
{
	struct diag d = { 0, NULL };
	struct pvpack_config cfg;
	base_fdt();
	set_str(VM0, "image", "good.elf");
	const struct pvb_vm *vm = check_vm0(&d, &cfg);
	if (!vm || !EXPECT_EQ(pack_write(&cfg, "out.pvb"), 0))
		return;
	EXPECT_EQ(vm->image.load, 0x40000000);
	EXPECT_EQ(vm->image.size, 0x5000); /* to the end of the second segment's bss */
	EXPECT_EQ(vm->entry, 0x40000010);
	EXPECT_EQ(cfg.src[0].image_piece_count, 2);
	size_t len;
	const uint8_t *b = read_file("out.pvb", &len);
	if (!EXPECT(b) || !EXPECT(len >= vm->image.offset + vm->image.size))
		return;
	const uint8_t *img = b + vm->image.offset;
	int same = 1;
	for (uint64_t i = 0; i < vm->image.size; i++) {
		uint8_t want = i < 0x100		       ? pattern(0x1000 + i)
			       : i >= 0x3000 && i < 0x3080 ? pattern(0x1100 + i - 0x3000)
							   : 0;
		same &= img[i] == want;
	}
	EXPECT(same);
	unlink("out.pvb");
	diag_free(&d);
}

static const void *dtb_prop(const void *dtb, const char *path, const char *name, int *len)
{
	int node = fdt_path_offset(dtb, path);
	return node < 0 ? NULL : fdt_getprop(dtb, node, name, len);
}

static uint32_t dtb_cell(const void *dtb, const char *path, const char *name, int i)
{
	int len;
	const fdt32_t *p = dtb_prop(dtb, path, name, &len);
	return p && len >= 4 * (i + 1) ? fdt32_ld(&p[i]) : 0xdeadbeef;
}

TEST(guest_dtb_describes_ram_cpus_devices_and_initrd)
{
	struct diag d = { 0, NULL };
	struct pvpack_config cfg;
	base_fdt();
	set_str(VM0, "initrd", "mid.bin");
	set_str(VM0, "bootargs", "console=ttyAMA0 quiet");
	const struct pvb_vm *vm = check_vm0(&d, &cfg);
	if (!vm)
		return;
	const void *dtb = cfg.src[0].dtb;
	int len;
	if (!EXPECT_EQ(fdt_check_full(dtb, vm->dtb.size), 0))
		return;
	EXPECT_EQ(vm->initrd.load, 0x40cec000); /* page aligned right below the DTB window */
	EXPECT_EQ(vm->initrd.size, 3 * MIB);
	EXPECT_STR(dtb_prop(dtb, "/", "compatible", NULL), "linux,dummy-virt");
	EXPECT_STR(dtb_prop(dtb, "/", "model", NULL), "pocketvisor");
	EXPECT_EQ(dtb_cell(dtb, "/", "interrupt-parent", 0), dtb_cell(dtb, "/intc@8000000", "phandle", 0));
	EXPECT_EQ(dtb_cell(dtb, "/memory@40000000", "reg", 1), 0x40000000);
	EXPECT_EQ(dtb_cell(dtb, "/memory@40000000", "reg", 3), 16 * MIB);
	EXPECT_EQ(dtb_cell(dtb, "/reserved-memory/pvtime@40ff0000", "reg", 3), 0x10000);
	EXPECT(dtb_prop(dtb, "/reserved-memory/pvtime@40ff0000", "no-map", &len) && len == 0);
	EXPECT_EQ(dtb_cell(dtb, "/cpus/cpu@1", "reg", 0), 1);
	EXPECT_STR(dtb_prop(dtb, "/cpus/cpu@1", "enable-method", NULL), "psci");
	EXPECT(fdt_path_offset(dtb, "/cpus/cpu@2") < 0);
	EXPECT_STR(dtb_prop(dtb, "/psci", "method", NULL), "hvc");
	EXPECT_EQ(dtb_cell(dtb, "/intc@8000000", "reg", 5), PLAT_GUEST_GICR_BASE);
	EXPECT_EQ(dtb_cell(dtb, "/intc@8000000", "reg", 7), 2 * 0x20000);
	EXPECT_EQ(dtb_cell(dtb, "/timer", "interrupts", 4), 14);
	EXPECT_EQ(dtb_cell(dtb, "/pl011@9000000", "interrupts", 1), 1);
	EXPECT(dtb_prop(dtb, "/pl011@9000000", "clock-names", &len) && len == 17);
	EXPECT_STR(dtb_prop(dtb, "/chosen", "bootargs", NULL), "console=ttyAMA0 quiet");
	EXPECT_STR(dtb_prop(dtb, "/chosen", "stdout-path", NULL), "/pl011@9000000");
	const fdt64_t *start = dtb_prop(dtb, "/chosen", "linux,initrd-start", &len);
	const fdt64_t *end = dtb_prop(dtb, "/chosen", "linux,initrd-end", NULL);
	if (EXPECT(start && end && len == 8)) {
		EXPECT_EQ(fdt64_ld(start), 0x40cec000);
		EXPECT_EQ(fdt64_ld(end), 0x40fec000);
	}
	/* without an initrd, no initrd properties */
	EXPECT(!dtb_prop(cfg.src[1].dtb, "/chosen", "linux,initrd-start", NULL));
	diag_free(&d);
}

TEST(bootargs_up_to_linux_limit_fit_the_dtb_window)
{
	struct diag d = { 0, NULL };
	struct pvpack_config cfg;
	static char args[PVPACK_BOOTARGS_MAX + 2];
	build_fdt(1);
	set_cells(VM0, "vcpus", (uint32_t[]){ 8 }, 1);
	memset(args, 'x', PVPACK_BOOTARGS_MAX);
	set_str(VM0, "bootargs", args);
	const struct pvb_vm *vm = check_vm0(&d, &cfg);
	if (vm)
		EXPECT(vm->dtb.size <= PVPACK_DTB_SIZE / 2);
	args[PVPACK_BOOTARGS_MAX] = 'x';
	set_str(VM0, "bootargs", args);
	if (check(&d, &cfg, 1) == 1)
		EXPECT_STR(d.lines[0], VM0 ": bootargs: is 2048 characters, at most 2047 are allowed");
	diag_free(&d);
}

/* ---- physical devices */

/* vm/devices/name with compatible, reg (base, size pairs) and interrupts (INTIDs). */
static void add_device(const char *vm, const char *name, const char *compat, size_t compat_len,
		       const uint64_t *reg, int reg_count, const uint32_t *irqs, int irq_count)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/devices", vm);
	int devices = fdt_path_offset(fdt_buf, path);
	if (devices < 0)
		devices = must(fdt_add_subnode(fdt_buf, node_at(vm), "devices"));
	int dev = must(fdt_add_subnode(fdt_buf, devices, name));
	uint32_t cells[16];
	for (int i = 0; i < reg_count; i++) {
		cells[4 * i] = (uint32_t)(reg[2 * i] >> 32), cells[4 * i + 1] = (uint32_t)reg[2 * i];
		cells[4 * i + 2] = (uint32_t)(reg[2 * i + 1] >> 32);
		cells[4 * i + 3] = (uint32_t)reg[2 * i + 1];
	}
	must(fdt_setprop(fdt_buf, dev, "compatible", compat, (int)compat_len));
	snprintf(path, sizeof(path), "%s/devices/%s", vm, name);
	set_cells(path, "reg", cells, 4 * reg_count);
	if (irq_count)
		set_cells(path, "interrupts", irqs, irq_count);
}

#define PL031 "arm,pl031\0arm,primecell"

TEST(devices_reach_the_header_and_the_guest_dtb)
{
	struct diag d = { 0, NULL };
	struct pvpack_config cfg;
	base_fdt();
	/* fdt_add_subnode puts a node first: added last, the RTC is the first device */
	add_device(VM0, "gpio@9030000", "acme,gpio", sizeof("acme,gpio"),
		   (uint64_t[]){ 0x9030000, 0x2000 }, 1, (uint32_t[]){ 95, 32 }, 2);
	add_device(VM0, "rtc@1", PL031, sizeof(PL031), (uint64_t[]){ 0x9010000, 0x1000 }, 1,
		   (uint32_t[]){ 34 }, 1);
	add_device(VM1, "rtc@9010000", "acme,nothing", sizeof("acme,nothing"),
		   (uint64_t[]){ 0x9fff000, 0x1000 }, 1, NULL, 0);
	const struct pvb_vm *vm = check_vm0(&d, &cfg);
	if (!vm)
		return;
	EXPECT_EQ(vm->dev_regions[0].base, 0x9010000);
	EXPECT_EQ(vm->dev_regions[0].size, 0x1000);
	EXPECT_EQ(vm->dev_regions[1].base, 0x9030000);
	EXPECT_EQ(vm->dev_regions[1].size, 0x2000);
	EXPECT_EQ(vm->dev_spis, (1ull << 2) | (1ull << 63) | 1ull);
	EXPECT_EQ(cfg.header.vms[1].dev_regions[0].base, 0x9fff000); /* the window's last page */
	EXPECT_EQ(cfg.header.vms[1].dev_spis, 0);
	const void *dtb = cfg.src[0].dtb;
	int len;
	EXPECT(fdt_check_full(dtb, vm->dtb.size) == 0);
	/* named after the first region, whatever the config's unit address */
	EXPECT(dtb_prop(dtb, "/rtc@9010000", "compatible", &len) && len == sizeof(PL031));
	EXPECT_EQ(dtb_cell(dtb, "/rtc@9010000", "reg", 1), 0x9010000);
	EXPECT_EQ(dtb_cell(dtb, "/rtc@9010000", "interrupts", 0), 0); /* SPI */
	EXPECT_EQ(dtb_cell(dtb, "/rtc@9010000", "interrupts", 1), 2);
	EXPECT_EQ(dtb_cell(dtb, "/rtc@9010000", "interrupts", 2), 4); /* level-high */
	EXPECT_EQ(dtb_cell(dtb, "/rtc@9010000", "clocks", 0), dtb_cell(dtb, "/apb-pclk", "phandle", 0));
	EXPECT_STR(dtb_prop(dtb, "/rtc@9010000", "clock-names", NULL), "apb_pclk");
	EXPECT(dtb_prop(dtb, "/gpio@9030000", "interrupts", &len) && len == 24);
	EXPECT_EQ(dtb_cell(dtb, "/gpio@9030000", "interrupts", 1), 63);
	EXPECT_EQ(dtb_cell(dtb, "/gpio@9030000", "interrupts", 4), 0);
	EXPECT(!dtb_prop(dtb, "/gpio@9030000", "clocks", NULL)); /* not a primecell */
	EXPECT(fdt_path_offset(cfg.src[1].dtb, "/rtc@9fff000") >= 0);
	EXPECT(fdt_path_offset(cfg.src[1].dtb, "/gpio@9030000") < 0); /* VM 0's only */
	diag_free(&d);
}

TEST(device_problems_are_each_reported)
{
	struct diag d = { 0, NULL };
	struct pvpack_config cfg;
	base_fdt();
	add_device(VM0, "a@0", PL031, sizeof(PL031),
		   (uint64_t[]){ 0x9010000, 0x1000, 0x9020000, 0x1000, 0x9050000, 0x1000 }, 3,
		   (uint32_t[]){ 31, 33, 40 }, 3);
	add_device(VM1, "b@0", "x", 1, (uint64_t[]){ 0x9020000, 0x3000 }, 1, (uint32_t[]){ 40 }, 1);
	if (check(&d, &cfg, 6) == 6) {
		EXPECT_STR(d.lines[0], VM0 "/devices/a@0: interrupts: 31 is not the INTID of an SPI the "
			   "virtual GIC has (32..95)");
		EXPECT_STR(d.lines[1], VM0 "/devices/a@0: interrupts: INTID 33 is the UART's, the "
			   "hypervisor's console");
		EXPECT_STR(d.lines[2], VM0 "/devices: 3 MMIO regions, at most 2 are allowed per VM");
		EXPECT_STR(d.lines[3], VM1 "/devices/b@0: compatible: must be one or more non-empty "
			   "strings");
		EXPECT_STR(d.lines[4], VM1 "/devices/b@0: reg: [0x9020000, 0x9023000) overlaps "
			   "[0x9020000, 0x9021000) of " VM0 "/devices/a@0");
		EXPECT_STR(d.lines[5], VM1 "/devices/b@0: interrupts: INTID 40 is also given to "
			   VM0 "/devices/a@0");
	}
	diag_free(&d);
}

/* ---- vsock */

static void add_vsock(const char *vm, int cid, const char *connect, size_t connect_len)
{
	char path[64];
	int node = must(fdt_add_subnode(fdt_buf, node_at(vm), "vsock"));
	if (cid >= 0)
		must(fdt_setprop_u32(fdt_buf, node, "cid", (uint32_t)cid));
	snprintf(path, sizeof(path), "%s/vsock", vm);
	if (connect)
		must(fdt_setprop(fdt_buf, node_at(path), "connect", connect, (int)connect_len));
}

#define VM2 "/vms/vm@2"
#define VM3 "/vms/vm@3"

TEST(vsock_cids_and_rules_reach_the_header_and_the_guest_dtb)
{
	struct diag d = { 0, NULL };
	struct pvpack_config cfg;
	build_fdt(4);
	/* alpha names beta before beta's node is read: names resolve over the whole config */
	static const char alpha_connect[] = "beta:0\0beta:4294967294\0vm2:*";
	add_vsock(VM0, -1, alpha_connect, sizeof(alpha_connect));
	add_vsock(VM1, 42, "alpha:22", sizeof("alpha:22"));
	add_vsock(VM2, -1, NULL, 0); /* vm3 has none */
	if (check(&d, &cfg, 0) != 0)
		return;
	const struct pvb_vm *vm = cfg.header.vms;
	EXPECT_EQ(vm[0].cid, 3); /* PVB_CID_FIRST_VM + index */
	EXPECT_EQ(vm[0].rule_count, 3);
	EXPECT_EQ(vm[0].connect[0].cid, 42);
	EXPECT_EQ(vm[0].connect[0].port, 0);
	EXPECT_EQ(vm[0].connect[1].cid, 42);
	EXPECT_EQ(vm[0].connect[1].port, 4294967294u);
	EXPECT_EQ(vm[0].connect[2].cid, 5);
	EXPECT_EQ(vm[0].connect[2].port, PVB_PORT_ANY);
	EXPECT_EQ(vm[0].connect[3].cid + vm[0].connect[3].port, 0);
	EXPECT_EQ(vm[1].cid, 42);
	EXPECT_EQ(vm[1].rule_count, 1);
	EXPECT_EQ(vm[1].connect[0].cid, 3);
	EXPECT_EQ(vm[1].connect[0].port, 22);
	EXPECT_EQ(vm[2].cid, 5);
	EXPECT_EQ(vm[2].rule_count, 0); /* accepts only */
	EXPECT_EQ(vm[3].cid, 0);        /* no device */
	EXPECT_EQ(vm[3].rule_count, 0);

	const void *dtb = cfg.src[0].dtb;
	const char *node = "/virtio_mmio@a000000";
	int len;
	if (!EXPECT_EQ(fdt_check_full(dtb, vm[0].dtb.size), 0))
		return;
	EXPECT_STR(dtb_prop(dtb, node, "compatible", &len), "virtio,mmio");
	EXPECT_EQ(len, sizeof("virtio,mmio"));
	EXPECT(dtb_prop(dtb, node, "reg", &len) && len == 16);
	EXPECT_EQ(dtb_cell(dtb, node, "reg", 0), 0);
	EXPECT_EQ(dtb_cell(dtb, node, "reg", 1), PLAT_GUEST_VIRTIO_BASE);
	EXPECT_EQ(dtb_cell(dtb, node, "reg", 2), 0);
	EXPECT_EQ(dtb_cell(dtb, node, "reg", 3), PLAT_GUEST_VIRTIO_STRIDE);
	EXPECT(dtb_prop(dtb, node, "interrupts", &len) && len == 12);
	EXPECT_EQ(dtb_cell(dtb, node, "interrupts", 0), 0);  /* SPI */
	EXPECT_EQ(dtb_cell(dtb, node, "interrupts", 1), 16); /* INTID 48 */
	EXPECT_EQ(dtb_cell(dtb, node, "interrupts", 2), 1);  /* edge rising */
	EXPECT(dtb_prop(dtb, node, "dma-coherent", &len) && len == 0);
	/* the root's interrupt-parent, the GIC, applies, as for every other device */
	EXPECT(!dtb_prop(dtb, node, "interrupt-parent", NULL));
	EXPECT_EQ(dtb_cell(dtb, "/", "interrupt-parent", 0), dtb_cell(dtb, "/intc@8000000", "phandle", 0));
	EXPECT(fdt_path_offset(cfg.src[2].dtb, node) >= 0);
	EXPECT(fdt_path_offset(cfg.src[3].dtb, node) < 0);
	diag_free(&d);
}

TEST(vsock_problems_are_each_reported_in_order)
{
	struct diag d = { 0, NULL };
	struct pvpack_config cfg;
	build_fdt(3);
	static const char connect[] = "x\0nosuch:1\0beta:1\0alpha:1\0vm2:q\0vm2:7\0vm2:7";
	add_vsock(VM0, 1, connect, sizeof(connect));
	add_vsock(VM2, 3, NULL, 0); /* no clash: vm@0 gave cid 1 (bad), so 3 is not its CID */
	if (check(&d, &cfg, 7) == 7) {
		EXPECT_STR(d.lines[0], VS0 ": cid: 1 is not in 3..4294967294");
		EXPECT_STR(d.lines[1], VS0 ": connect: \"x\" is not \"<vm>:<port>\" or \"<vm>:*\"");
		EXPECT_STR(d.lines[2], VS0 ": connect: \"nosuch:1\" names no VM");
		EXPECT_STR(d.lines[3], VS0 ": connect: \"beta:1\" names /vms/vm@1, which has no vsock "
			   "node");
		EXPECT_STR(d.lines[4], VS0 ": connect: \"alpha:1\" names this VM itself");
		EXPECT_STR(d.lines[5], VS0 ": connect: \"vm2:q\" has a bad port (use a decimal number "
			   "in 0..4294967294, or *)");
		EXPECT_STR(d.lines[6], VS0 ": connect: \"vm2:7\" is listed twice");
	}
	diag_free(&d);
}

/* ---- disks and net */

/* /disk with the partitions in order: fdt_add_subnode puts each new node first, so the last is
 * added first. size-mib 1 + i, fs "ext4" on the even ones. */
static void add_layout(const char *const *names, int count)
{
	int disk = must(fdt_add_subnode(fdt_buf, 0, "disk"));
	for (int i = count; i-- > 0;) {
		int part = must(fdt_add_subnode(fdt_buf, disk, names[i]));
		must(fdt_setprop_u32(fdt_buf, part, "size-mib", 1 + (uint32_t)i));
		if (i % 2 == 0)
			must(fdt_setprop(fdt_buf, part, "fs", "ext4", sizeof("ext4")));
	}
}

static void set_strs(const char *path, const char *prop, const char *list, size_t len)
{
	must(fdt_setprop(fdt_buf, node_at(path), prop, list, (int)len));
}

/* A net node with uplink if asked and peers if given (a literal list: "a\0b"). */
static void add_net(const char *vm, int uplink, const char *peers, size_t peers_len)
{
	char path[64];
	int node = must(fdt_add_subnode(fdt_buf, node_at(vm), "net"));
	if (uplink)
		must(fdt_setprop(fdt_buf, node, "uplink", NULL, 0));
	snprintf(path, sizeof(path), "%s/net", vm);
	if (peers)
		set_strs(path, "peers", peers, peers_len);
}

TEST(default_mac_is_02_then_the_low_five_bytes_of_fnv1a_64)
{
	/* FNV-1a 64 test vectors (draft-eastlake-fnv): "" 0xcbf29ce484222325, "a"
	 * 0xaf63dc4c8601ec8c, "foobar" 0x85944171f73967e8. */
	static const struct {
		const char *name;
		uint8_t mac[6];
	} cases[] = {
		{ "", { 0x02, 0xe4, 0x84, 0x22, 0x23, 0x25 } },
		{ "a", { 0x02, 0x4c, 0x86, 0x01, 0xec, 0x8c } },
		{ "foobar", { 0x02, 0x71, 0xf7, 0x39, 0x67, 0xe8 } },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t mac[6];
		net_default_mac(cases[i].name, mac);
		if (!EXPECT(memcmp(mac, cases[i].mac, 6) == 0))
			fprintf(stderr, "  (name \"%s\")\n", cases[i].name);
	}
}

TEST(disk_layout_reaches_the_config_and_prints_in_order)
{
	static const char *const names[] = { "open-data", "media", "vault-data" };
	struct diag d = { 0, NULL };
	struct pvpack_config cfg;
	char out[256] = { 0 };
	base_fdt();
	add_layout(names, 3);
	if (check(&d, &cfg, 0) != 0)
		return;
	EXPECT_EQ(cfg.layout.count, 3);
	EXPECT_STR(cfg.layout.parts[1].name, "media");
	EXPECT_EQ(cfg.layout.parts[1].size_mib, 2);
	EXPECT(cfg.layout.parts[1].fs == NULL);
	FILE *f = fmemopen(out, sizeof(out) - 1, "w");
	if (!EXPECT(f != NULL))
		return;
	disk_print_layout(&cfg.layout, f);
	fclose(f);
	EXPECT_STR(out, "open-data 1 ext4\nmedia 2 -\nvault-data 3 ext4\n");
	diag_free(&d);
}

TEST(disk_partition_names_are_unique_even_in_a_hand_made_fdt)
{
	static const char *const names[] = { "a", "b" };
	struct diag d = { 0, NULL };
	struct pvpack_config cfg;
	base_fdt();
	add_layout(names, 2);
	must(fdt_set_name(fdt_buf, node_at("/disk/b"), "a")); /* dtc would have merged them */
	if (check(&d, &cfg, 1) == 1)
		EXPECT_STR(d.lines[0], "/disk/a: partition name: \"a\" is already used by an earlier "
			   "partition");
	diag_free(&d);
}

TEST(disk_partitions_past_the_limit_and_the_total_are_reported)
{
	struct diag d = { 0, NULL };
	struct pvpack_config cfg;
	base_fdt();
	int disk = must(fdt_add_subnode(fdt_buf, 0, "disk"));
	for (int i = 0; i < 17; i++) {
		char name[16];
		snprintf(name, sizeof(name), "p%d", i);
		must(fdt_setprop_u32(fdt_buf, must(fdt_add_subnode(fdt_buf, disk, name)), "size-mib",
				     4096));
	}
	if (check(&d, &cfg, 2) == 2) {
		EXPECT_STR(d.lines[0], "/disk: 17 partitions, at most 16 are allowed");
		EXPECT_STR(d.lines[1], "/disk: the partitions add up to 69632 MiB, at most 65536 are "
			   "allowed");
	}
	EXPECT_EQ(cfg.layout.count, 16);
	diag_free(&d);
}

TEST(disks_reach_the_header_in_order_with_their_flags)
{
	static const char *const names[] = { "open-data", "media" };
	static const char alpha_disks[] = "media:ro\0open-data";
	struct diag d = { 0, NULL };
	struct pvpack_config cfg;
	build_fdt(3);
	add_layout(names, 2);
	set_strs(VM0, "disks", alpha_disks, sizeof(alpha_disks));
	set_str(VM1, "disks", "media:ro");
	if (check(&d, &cfg, 0) != 0)
		return;
	const struct pvb_vm *vm = cfg.header.vms;
	EXPECT_STR(vm[0].disks[0].part, "media");
	EXPECT_EQ(vm[0].disks[0].flags, PVB_DISK_RO);
	EXPECT_STR(vm[0].disks[1].part, "open-data");
	EXPECT_EQ(vm[0].disks[1].flags, 0);
	EXPECT_STR(vm[1].disks[0].part, "media");
	EXPECT_EQ(vm[1].disks[0].flags, PVB_DISK_RO);
	EXPECT_EQ(vm[1].disks[1].part[0], '\0');
	EXPECT_EQ(vm[2].disks[0].part[0], '\0');
	diag_free(&d);
}

/* A partition is shared only if every VM that has it has it read-only: the later VM of a pair
 * is reported, naming the first earlier VM it clashes with. */
TEST(disk_sharing_needs_ro_in_every_vm)
{
	static const char *const names[] = { "media" };
	static const struct {
		const char *disks[3];
		size_t count;
		const char *expect[2];
	} cases[] = {
		{ { "media:ro", "media:ro", "media:ro" }, 0, { NULL } },
		{ { "media", "media:ro", NULL }, 1, { VM1 ": disks: partition \"media\" is also given to "
						     "/vms/vm@0 (VMs may share a partition only if "
						     "each has it \":ro\")" } },
		{ { "media:ro", "media", NULL }, 1, { VM1 ": disks: partition \"media\" is also given "
						     "to /vms/vm@0 (VMs may share a partition only "
						     "if each has it \":ro\")" } },
		{ { "media:ro", "media:ro", "media" }, 1,
		  { VM2 ": disks: partition \"media\" is also given to /vms/vm@0 (VMs may share a "
			"partition only if each has it \":ro\")" } },
		{ { "media", NULL, "media" }, 1,
		  { VM2 ": disks: partition \"media\" is also given to /vms/vm@0 (VMs may share a "
			"partition only if each has it \":ro\")" } },
	};
	const char *vms[] = { VM0, VM1, VM2 };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct diag d = { 0, NULL };
		struct pvpack_config cfg;
		build_fdt(3);
		add_layout(names, 1);
		for (int v = 0; v < 3; v++)
			if (cases[i].disks[v])
				set_str(vms[v], "disks", cases[i].disks[v]);
		if (check(&d, &cfg, cases[i].count) == cases[i].count && cases[i].count &&
		    !EXPECT_STR(d.lines[0], cases[i].expect[0]))
			fprintf(stderr, "  (case %zu)\n", i);
		diag_free(&d);
	}
}

TEST(net_ports_peers_and_macs_reach_the_header)
{
	struct diag d = { 0, NULL };
	struct pvpack_config cfg;
	static const uint8_t given[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	build_fdt(4);
	/* alpha names vm2 before vm2's node is read; beta has a port but no peers */
	add_net(VM0, 1, "vm2", sizeof("vm2"));
	add_net(VM1, 0, NULL, 0);
	add_net(VM2, 0, "alpha", sizeof("alpha"));
	must(fdt_setprop(fdt_buf, node_at(VM2 "/net"), "mac", given, 6));
	if (check(&d, &cfg, 0) != 0)
		return;
	const struct pvb_vm *vm = cfg.header.vms;
	uint8_t mac[6];
	EXPECT_EQ(vm[0].net_flags, PVB_NET_PORT | PVB_NET_UPLINK);
	EXPECT_EQ(vm[0].net_peers, 1u << 2);
	net_default_mac("alpha", mac);
	EXPECT(memcmp(vm[0].mac, mac, 6) == 0);
	EXPECT_EQ(vm[1].net_flags, PVB_NET_PORT);
	EXPECT_EQ(vm[1].net_peers, 0);
	net_default_mac("beta", mac);
	EXPECT(memcmp(vm[1].mac, mac, 6) == 0);
	EXPECT_EQ(vm[2].net_flags, PVB_NET_PORT);
	EXPECT_EQ(vm[2].net_peers, 1u << 0);
	EXPECT(memcmp(vm[2].mac, given, 6) == 0);
	static const uint8_t zero[6];
	EXPECT_EQ(vm[3].net_flags, 0); /* no net node: no port, no MAC */
	EXPECT(memcmp(vm[3].mac, zero, 6) == 0);
	diag_free(&d);
}

/* Each one-sided entry is reported on the VM whose entry it is; mutual pairs pass. */
TEST(net_peers_must_be_mutual)
{
	struct diag d = { 0, NULL };
	struct pvpack_config cfg;
	build_fdt(3);
	add_net(VM0, 0, "beta\0vm2", sizeof("beta\0vm2"));
	add_net(VM1, 0, "alpha", sizeof("alpha"));
	add_net(VM2, 0, "beta", sizeof("beta"));
	if (check(&d, &cfg, 2) == 2) {
		EXPECT_STR(d.lines[0], VM0 "/net: peers: \"vm2\" does not list \"alpha\" in its own "
			   "peers (peers must be mutual)");
		EXPECT_STR(d.lines[1], VM2 "/net: peers: \"beta\" does not list \"vm2\" in its own "
			   "peers (peers must be mutual)");
	}
	EXPECT_EQ(cfg.header.vms[0].net_peers, 1u << 1); /* what is good still goes in */
	EXPECT_EQ(cfg.header.vms[1].net_peers, 1u << 0);
	diag_free(&d);
}

TEST(net_problems_are_each_reported_in_order)
{
	struct diag d = { 0, NULL };
	struct pvpack_config cfg;
	static const uint8_t multicast[6] = { 0x01, 0, 0x5e, 0, 0, 0x01 };
	build_fdt(3);
	add_net(VM0, 0, "nosuch\0alpha\0beta\0vm2\0vm2", sizeof("nosuch\0alpha\0beta\0vm2\0vm2"));
	must(fdt_setprop(fdt_buf, node_at(VM0 "/net"), "mac", multicast, 6));
	add_net(VM2, 0, "alpha", sizeof("alpha"));
	if (check(&d, &cfg, 5) == 5) {
		EXPECT_STR(d.lines[0], VM0 "/net: peers: \"nosuch\" names no VM");
		EXPECT_STR(d.lines[1], VM0 "/net: peers: \"alpha\" names this VM itself");
		EXPECT_STR(d.lines[2], VM0 "/net: peers: \"beta\" names /vms/vm@1, which has no net "
			   "node");
		EXPECT_STR(d.lines[3], VM0 "/net: peers: \"vm2\" is listed twice");
		EXPECT_STR(d.lines[4], VM0 "/net: mac: 01:00:5e:00:00:01 is a multicast address (bit 0 "
			   "of the first byte must be clear)");
	}
	diag_free(&d);
}

/* A virtio-mmio node as add_virtio writes it, at slot n. */
static void expect_virtio_slot(const void *dtb, uint32_t slot)
{
	char node[32];
	int len;
	snprintf(node, sizeof(node), "/virtio_mmio@%llx",
		 (unsigned long long)(PLAT_GUEST_VIRTIO_BASE + slot * PLAT_GUEST_VIRTIO_STRIDE));
	if (!EXPECT(fdt_path_offset(dtb, node) >= 0)) {
		fprintf(stderr, "  (no %s)\n", node);
		return;
	}
	EXPECT_STR(dtb_prop(dtb, node, "compatible", &len), "virtio,mmio");
	EXPECT_EQ(dtb_cell(dtb, node, "reg", 1), PLAT_GUEST_VIRTIO_BASE + slot * 0x200);
	EXPECT_EQ(dtb_cell(dtb, node, "reg", 3), PLAT_GUEST_VIRTIO_STRIDE);
	EXPECT_EQ(dtb_cell(dtb, node, "interrupts", 0), 0);         /* SPI */
	EXPECT_EQ(dtb_cell(dtb, node, "interrupts", 1), 16 + slot); /* INTID 48 + slot */
	EXPECT_EQ(dtb_cell(dtb, node, "interrupts", 2), 1);         /* edge rising */
	EXPECT(dtb_prop(dtb, node, "dma-coherent", &len) && len == 0);
}

static int virtio_node_count(const void *dtb)
{
	int node, count = 0;
	fdt_for_each_subnode(node, dtb, 0)
		count += strncmp(fdt_get_name(dtb, node, NULL), "virtio_mmio@", 12) == 0;
	return count;
}

TEST(disks_and_net_get_virtio_mmio_nodes_in_their_slots)
{
	static const char *const names[] = { "a", "b" };
	struct diag d = { 0, NULL };
	struct pvpack_config cfg;
	build_fdt(3);
	add_layout(names, 2);
	set_strs(VM0, "disks", "a\0b:ro", sizeof("a\0b:ro"));
	add_net(VM0, 1, NULL, 0);
	set_str(VM1, "disks", "b:ro"); /* one disk, no net, no vsock */
	if (check(&d, &cfg, 0) != 0)
		return;
	const void *dtb = cfg.src[0].dtb;
	if (!EXPECT_EQ(fdt_check_full(dtb, cfg.header.vms[0].dtb.size), 0))
		return;
	EXPECT_EQ(virtio_node_count(dtb), 3);
	expect_virtio_slot(dtb, PVB_SLOT_DISK);
	expect_virtio_slot(dtb, PVB_SLOT_DISK + 1);
	expect_virtio_slot(dtb, PVB_SLOT_NET);
	EXPECT_EQ(virtio_node_count(cfg.src[1].dtb), 1);
	expect_virtio_slot(cfg.src[1].dtb, PVB_SLOT_DISK);
	EXPECT_EQ(virtio_node_count(cfg.src[2].dtb), 0);
	diag_free(&d);
}
