/* config.c: validating a whole config (root, /vms, totals) into the bundle header. */
#include <string.h>

#include "board.h"
#include "pvpack.h"

#define CONFIG_COMPATIBLE "pocketvisor,config-v1"

static const char *const root_props[] = { "compatible" };
static const char *const root_children[] = { "disk", "vms" };

static void check_root(const struct node_ctx *c)
{
	const char *compat;
	node_check_props(c, root_props, sizeof(root_props) / sizeof(root_props[0]));
	node_check_children(c, root_children, sizeof(root_children) / sizeof(root_children[0]));
	if (node_string(c, "compatible", 1, &compat) == PROP_OK &&
	    strcmp(compat, CONFIG_COMPATIBLE) != 0)
		diag_report(c->diag, c->path, "compatible: must be \"%s\", not \"%s\"",
			    CONFIG_COMPATIBLE, compat);
}

/* vm@<decimal>: the unit address is only a label, but a fixed shape keeps configs greppable. */
static void check_node_name(const struct node_ctx *c, const char *name)
{
	const char *digits = name + 3; /* read only once the prefix matched */
	if (strncmp(name, "vm@", 3) != 0 || !*digits || digits[strspn(digits, "0123456789")])
		diag_report(c->diag, c->path, "VM node must be named vm@<n>");
}

/* Looks at the earlier VM nodes themselves, so VMs past the 8th are compared too. */
static void check_unique_name(const struct node_ctx *c, int vms, const char *name)
{
	int other;
	if (!name[0])
		return; /* invalid, already reported */
	fdt_for_each_subnode(other, c->fdt, vms) {
		if (other == c->offset)
			return;
		int len;
		const char *s = fdt_getprop(c->fdt, other, "name", &len);
		if (s && (size_t)len == strlen(name) + 1 && memcmp(s, name, (size_t)len) == 0) {
			diag_report(c->diag, c->path, "name: \"%s\" is already used by /vms/%s", name,
				    fdt_get_name(c->fdt, other, NULL));
			return;
		}
	}
}

static uint64_t round_up_2m(uint64_t size)
{
	return (size + PVPACK_2M - 1) & ~(PVPACK_2M - 1);
}

static void check_vms(const struct node_ctx *c, struct pvpack_config *cfg)
{
	uint64_t cursor = sizeof(struct pvb_header), ram_needed = 0;
	uint32_t count = 0;
	int node;
	node_check_props(c, NULL, 0);
	fdt_for_each_subnode(node, c->fdt, c->offset) {
		/* VMs past the limit are still checked, so one run reports everything. */
		static struct vm_source spare_src; /* too big for the stack */
		struct pvb_vm spare_vm;
		int kept = count < PVB_MAX_VMS;
		struct pvb_vm *vm = kept ? &cfg->header.vms[count] : &spare_vm;
		struct vm_source *src = kept ? &cfg->src[count] : &spare_src;
		const char *name = fdt_get_name(c->fdt, node, NULL);
		char path[NODE_PATH_SIZE];
		node_child_path(path, sizeof(path), c->path, name);
		struct node_ctx vc = { c->fdt, node, path, c->diag };

		check_node_name(&vc, name);
		vm_check(&vc, vm, src);
		check_unique_name(&vc, c->offset, vm->name);
		/* A device belongs to one VM: checked against the earlier VMs in the bundle. */
		for (uint32_t i = 0; i < count && i < PVB_MAX_VMS; i++)
			device_conflicts(&vc, vm, src, &cfg->header.vms[i], &cfg->src[i]);
		/* ram_size is below the 4 GiB IPA limit here, so nine of them cannot overflow. */
		ram_needed += round_up_2m(vm->ram_size);
		vm->image.offset = pack_place(&cursor, vm->image.size);
		vm->dtb.offset = pack_place(&cursor, vm->dtb.size);
		vm->initrd.offset = pack_place(&cursor, vm->initrd.size);
		count++;
	}
	if (count == 0)
		diag_report(c->diag, c->path, "no VMs (add a vm@<n> node)");
	uint32_t manual = 0;
	for (uint32_t i = 0; i < count && i < PVB_MAX_VMS; i++)
		manual += (cfg->header.vms[i].flags & PVB_VM_MANUAL) != 0;
	if (count && manual == count)
		diag_report(c->diag, c->path, "every VM has autostart = <0>: none would run at boot");
	if (count > PVB_MAX_VMS)
		diag_report(c->diag, c->path, "%u VMs, at most %u are allowed", count, PVB_MAX_VMS);

	/* The hypervisor carves each VM's RAM out of what is left above its own reservation. */
	uint64_t available = PLAT_RAM_SIZE - PLAT_HV_RESERVED;
	if (ram_needed > available)
		diag_report(c->diag, c->path, "VM RAM needs %llu MiB, the board has %llu MiB for VMs",
			    (unsigned long long)(ram_needed >> 20), (unsigned long long)(available >> 20));
	cfg->header.vm_count = count < PVB_MAX_VMS ? count : PVB_MAX_VMS;
	cfg->header.total_size = pack_end(cursor);
}

size_t config_check(const void *fdt, struct diag *d, struct pvpack_config *cfg)
{
	struct node_ctx root = { fdt, 0, "/", d };
	memset(cfg, 0, sizeof(*cfg));
	check_root(&root);
	disk_check_layout(fdt, d, &cfg->layout);

	int vms = fdt_subnode_offset(fdt, 0, "vms");
	if (vms < 0) {
		diag_report(d, "/", "missing required node \"vms\"");
	} else {
		struct node_ctx c = { fdt, vms, "/vms", d };
		check_vms(&c, cfg);
	}

	/* The loader puts the bundle between +128 MiB and the board DTB. */
	if (cfg->header.total_size > PLAT_BUNDLE_MAX_SIZE)
		diag_report(d, "/", "bundle would be %llu bytes, more than the %llu allowed",
			    (unsigned long long)cfg->header.total_size, PLAT_BUNDLE_MAX_SIZE);
	cfg->header.magic = PVB_MAGIC;
	cfg->header.version = PVB_VERSION;
	cfg->header.header_size = sizeof(struct pvb_header);
	return d->count;
}
