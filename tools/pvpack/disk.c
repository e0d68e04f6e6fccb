/* disk.c: the board disk's partition layout (`/disk`) and the partitions each VM is given. */
#include <ctype.h>
#include <string.h>

#include "pvpack.h"

static const char *const part_props[] = { "size-mib", "fs" };

#define DISK_RO_SUFFIX ":ro"

typedef unsigned long long ull;

/* ---- /disk: one child per GPT partition, in disk order */

/* EL2 finds a partition by comparing its UTF-16 GPT name with this one as ASCII, and the name
 * goes to sfdisk and into log lines: a small character set keeps all three readings the same. */
static int check_part_name(const struct node_ctx *c, const char *name)
{
	size_t len = strlen(name);
	if (len >= PVB_PART_NAME_SIZE) {
		diag_report(c->diag, c->path, "partition name: is %zu characters, at most %u are "
			    "allowed", len, PVB_PART_NAME_SIZE - 1);
		return 0;
	}
	if (!node_name_chars(c, "partition name", name, "-"))
		return 0;
	return len > 0; /* dtc writes no empty node names; a hand-made FDT might */
}

/* dtc merges two nodes of one name, but a hand-made FDT can have both: EL2 would then find
 * only the first partition of that name, and a VM could be given the wrong one. */
static int check_part_unique(const struct node_ctx *c, int disk, const char *name)
{
	int other;
	fdt_for_each_subnode(other, c->fdt, disk) {
		if (other == c->offset)
			return 1;
		if (strcmp(fdt_get_name(c->fdt, other, NULL), name) == 0) {
			diag_report(c->diag, c->path, "partition name: \"%s\" is already used by an "
				    "earlier partition", name);
			return 0;
		}
	}
	return 1;
}

/* Fills *p; p->size_mib stays 0 if it is unknown. */
static void check_part(const struct node_ctx *c, int disk, struct disk_part *p)
{
	const char *name = fdt_get_name(c->fdt, c->offset, NULL);
	uint32_t size;
	node_check_props(c, part_props, sizeof(part_props) / sizeof(part_props[0]));
	node_check_children(c, NULL, 0);
	if (check_part_name(c, name) && check_part_unique(c, disk, name))
		memcpy(p->name, name, strlen(name) + 1);
	if (node_u32(c, "size-mib", 1, &size) == PROP_OK) {
		if (size == 0 || size > PVPACK_DISK_MAX_MIB)
			diag_report(c->diag, c->path, "size-mib: %u is not in 1..%u", size,
				    PVPACK_DISK_MAX_MIB);
		else
			p->size_mib = size;
	}
	/* The file systems scripts/mkdisk.sh can make; anything else would be left unformatted
	 * while the config says otherwise. */
	if (node_string(c, "fs", 0, &p->fs) == PROP_OK && strcmp(p->fs, "ext4") != 0) {
		diag_report(c->diag, c->path, "fs: must be \"ext4\", not \"%s\"", p->fs);
		p->fs = NULL;
	}
}

void disk_check_layout(const void *fdt, struct diag *d, struct disk_layout *layout)
{
	int disk = node_subnode(fdt, 0, "disk"), part;
	uint32_t count = 0;
	uint64_t total_mib = 0;
	memset(layout, 0, sizeof(*layout));
	if (disk < 0)
		return; /* a board without a disk for VMs */
	struct node_ctx c = { fdt, disk, "/disk", d };
	node_check_props(&c, NULL, 0);
	fdt_for_each_subnode(part, fdt, disk) {
		/* Partitions past the limit are still checked, so one run reports everything. */
		struct disk_part spare, *p = count < PVPACK_MAX_PARTS ? &layout->parts[count] : &spare;
		char path[NODE_PATH_SIZE];
		node_child_path(path, sizeof(path), c.path, fdt_get_name(fdt, part, NULL));
		struct node_ctx pc = { fdt, part, path, d };
		memset(p, 0, sizeof(*p));
		check_part(&pc, disk, p);
		total_mib += p->size_mib;
		count++;
	}
	if (count == 0)
		diag_report(d, c.path, "no partitions (add one child node per partition)");
	if (count > PVPACK_MAX_PARTS)
		diag_report(d, c.path, "%u partitions, at most %u are allowed", count,
			    PVPACK_MAX_PARTS);
	if (total_mib > PVPACK_DISK_MAX_MIB)
		diag_report(d, c.path, "the partitions add up to %llu MiB, at most %u are allowed",
			    (ull)total_mib, PVPACK_DISK_MAX_MIB);
	layout->count = count < PVPACK_MAX_PARTS ? count : PVPACK_MAX_PARTS;
}

void disk_print_layout(const struct disk_layout *layout, FILE *out)
{
	for (uint32_t i = 0; i < layout->count; i++) {
		const struct disk_part *p = &layout->parts[i];
		fprintf(out, "%s %u %s\n", p->name, p->size_mib, p->fs ? p->fs : "-");
	}
}

/* ---- a VM's `disks`: "<partition>" or "<partition>:ro" entries, decoded without side effects
 * so that earlier VMs' entries can be decoded again to find sharing. */

enum entry_result { ENTRY_OK, ENTRY_BAD_FLAG, ENTRY_NO_PART };

struct entry {
	const char *part; /* not NUL-terminated: part_len bytes */
	size_t part_len;
	uint32_t flags; /* PVB_DISK_* */
};

static int part_exists(const void *fdt, int disk, const char *name, size_t len)
{
	int part;
	if (disk < 0 || len == 0 || len >= PVB_PART_NAME_SIZE)
		return 0;
	fdt_for_each_subnode(part, fdt, disk) {
		const char *s = fdt_get_name(fdt, part, NULL);
		if (strncmp(s, name, len) == 0 && s[len] == '\0')
			return 1;
	}
	return 0;
}

int disk_has_part(const void *fdt, const char *name)
{
	return part_exists(fdt, node_subnode(fdt, 0, "disk"), name, strlen(name));
}

static enum entry_result entry_decode(const void *fdt, int disk, const char *text,
				      struct entry *e)
{
	const char *colon = strchr(text, ':');
	*e = (struct entry){ text, colon ? (size_t)(colon - text) : strlen(text), 0 };
	if (colon && strcmp(colon, DISK_RO_SUFFIX) != 0)
		return ENTRY_BAD_FLAG;
	if (colon)
		e->flags = PVB_DISK_RO;
	return part_exists(fdt, disk, e->part, e->part_len) ? ENTRY_OK : ENTRY_NO_PART;
}

static int same_part(const struct entry *a, const struct entry *b)
{
	return a->part_len == b->part_len && memcmp(a->part, b->part, a->part_len) == 0;
}

/* The first entry of `list` (len bytes) before `end` that names e's partition, or NULL. */
static const struct entry *find_part(const void *fdt, int disk, const char *list,
				     const char *end, const struct entry *e, struct entry *found)
{
	for (const char *text = list; text < end; text += strlen(text) + 1)
		if (entry_decode(fdt, disk, text, found) == ENTRY_OK && same_part(found, e))
			return found;
	return NULL;
}

/* Two writers of one file system corrupt it, and a reader next to a writer sees it torn, so a
 * partition is shared only read-only by all. The later VM is the one reported, as for names. */
static void check_shared(const struct node_ctx *c, int disk, const struct entry *e)
{
	int vms = fdt_parent_offset(c->fdt, c->offset), other;
	fdt_for_each_subnode(other, c->fdt, vms) {
		int len;
		struct entry theirs;
		if (other == c->offset)
			return;
		const char *list = fdt_getprop(c->fdt, other, "disks", &len);
		if (!list || len == 0 || list[len - 1] != '\0')
			continue; /* reported on that VM */
		if (!find_part(c->fdt, disk, list, list + len, e, &theirs) ||
		    (e->flags & theirs.flags & PVB_DISK_RO))
			continue;
		diag_report(c->diag, c->path, "disks: partition \"%.*s\" is also given to /vms/%s "
			    "(VMs may share a partition only if each has it \"" DISK_RO_SUFFIX "\")",
			    (int)e->part_len, e->part, fdt_get_name(c->fdt, other, NULL));
		return;
	}
}

static void report_entry(const struct node_ctx *c, const char *text, enum entry_result r)
{
	if (r == ENTRY_BAD_FLAG)
		diag_report(c->diag, c->path, "disks: \"%s\" has an unknown flag (the only one is "
			    "\"" DISK_RO_SUFFIX "\")", text);
	else if (r == ENTRY_NO_PART)
		diag_report(c->diag, c->path, "disks: \"%s\" names no partition in /disk", text);
}

void disk_check_vm(const struct node_ctx *c, struct pvb_vm *vm)
{
	int len, disk = node_subnode(c->fdt, 0, "disk");
	uint32_t count = 0, used = 0;
	const char *list = node_strings(c, "disks", &len);
	if (!list)
		return;
	for (const char *text = list; text < list + len; text += strlen(text) + 1, count++) {
		struct entry e, earlier;
		enum entry_result r = entry_decode(c->fdt, disk, text, &e);
		report_entry(c, text, r);
		if (r != ENTRY_OK)
			continue;
		if (e.part_len == strlen(DISK_RPMB) && !memcmp(e.part, DISK_RPMB, e.part_len)) {
			diag_report(c->diag, c->path, "disks: partition \"" DISK_RPMB "\" is the "
				    "hypervisor's (rollback counters): no VM may have it");
			continue;
		}
		if (find_part(c->fdt, disk, list, text, &e, &earlier)) {
			diag_report(c->diag, c->path, "disks: partition \"%.*s\" is listed twice",
				    (int)e.part_len, e.part);
			continue;
		}
		check_shared(c, disk, &e);
		if (used < PVB_MAX_DISKS) {
			memcpy(vm->disks[used].part, e.part, e.part_len); /* < PVB_PART_NAME_SIZE */
			vm->disks[used++].flags = e.flags;
		}
	}
	if (count > PVB_MAX_DISKS)
		diag_report(c->diag, c->path, "disks: has %u entries, at most %u are allowed", count,
			    PVB_MAX_DISKS);
}

/* `flash = "<partition>";`: a firmware VM's variable flash bank is kept on that partition
 * (hv/virt/vflash.c). It is written, raw: no file system, and no other VM may have it, even
 * read-only. It takes one of the VM's PVB_MAX_DISKS entries, flagged PVB_DISK_FLASH. */
void disk_check_flash(const struct node_ctx *c, struct pvb_vm *vm)
{
	const char *text;
	int disk = node_subnode(c->fdt, 0, "disk"), vms = fdt_parent_offset(c->fdt, c->offset);
	int other, len;
	if (node_string(c, "flash", 0, &text) != PROP_OK)
		return;
	struct entry e = { text, strlen(text), 0 }, theirs;
	if (!(vm->flags & PVB_VM_FIRMWARE)) {
		diag_report(c->diag, c->path, "flash: only a firmware VM has flash banks (boot = "
			    "\"firmware\";)");
		return;
	}
	if (!part_exists(c->fdt, disk, e.part, e.part_len) || strcmp(text, DISK_RPMB) == 0) {
		diag_report(c->diag, c->path, "flash: \"%s\" names no partition a VM may have in "
			    "/disk", text);
		return;
	}
	if (fdt_getprop(c->fdt, fdt_subnode_offset(c->fdt, disk, text), "fs", NULL))
		diag_report(c->diag, c->path, "flash: partition \"%s\" has a file system (fs); "
			    "the flash's partition is raw", text);
	fdt_for_each_subnode(other, c->fdt, vms) {
		const char *list = fdt_getprop(c->fdt, other, "disks", &len);
		const char *f = fdt_getprop(c->fdt, other, "flash", NULL);
		if ((list && len > 0 && list[len - 1] == '\0' &&
		     find_part(c->fdt, disk, list, list + len, &e, &theirs)) ||
		    (other != c->offset && f && strcmp(f, text) == 0)) {
			diag_report(c->diag, c->path, "flash: partition \"%s\" is also given to "
				    "/vms/%s (the flash's partition is its VM's alone)", text,
				    fdt_get_name(c->fdt, other, NULL));
			return;
		}
	}
	for (uint32_t d = 0; d < PVB_MAX_DISKS; d++)
		if (!vm->disks[d].part[0]) {
			memcpy(vm->disks[d].part, text, e.part_len);
			vm->disks[d].flags = PVB_DISK_FLASH;
			return;
		}
	diag_report(c->diag, c->path, "flash: the VM has %u disks, so no room is left for its "
		    "flash's partition (%u in all)", PVB_MAX_DISKS, PVB_MAX_DISKS);
}
