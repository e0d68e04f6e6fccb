/* device.c: validating the physical devices a VM is given (its `devices` node). */
#include <string.h>

#include <pv/gic.h>
#include <pv/vgic.h>

#include "board.h"
#include "pvpack.h"

static const char *const device_props[] = { "compatible", "reg", "interrupts" };

#define SPI_FIRST 32u
#define SPI_LAST (SPI_FIRST + VGIC_SPI_COUNT - 1)

typedef unsigned long long ull;

/* A node's path, for naming the device that already has a region or an SPI. */
static const char *path_of(const void *fdt, int node, char *buf)
{
	if (fdt_get_path(fdt, node, buf, NODE_PATH_SIZE) < 0)
		snprintf(buf, NODE_PATH_SIZE, "%s", fdt_get_name(fdt, node, NULL));
	return buf;
}

static int overlaps(uint64_t base, uint64_t end, uint64_t other_base, uint64_t other_end)
{
	return base < other_end && other_base < end;
}

/* One or more non-empty strings: it goes into the guest DTB as it is. */
static void check_compatible(const struct node_ctx *c)
{
	int len;
	const char *s = fdt_getprop(c->fdt, c->offset, "compatible", &len);
	if (!s) {
		diag_report(c->diag, c->path, "missing required property \"compatible\"");
		return;
	}
	int ok = len > 0 && s[0] && s[len - 1] == '\0';
	for (int i = 1; ok && i < len; i++)
		ok = s[i] || s[i - 1]; /* no empty string inside the list */
	if (!ok)
		diag_report(c->diag, c->path, "compatible: must be one or more non-empty strings");
	else if ((unsigned)len > PVPACK_COMPATIBLE_MAX)
		diag_report(c->diag, c->path, "compatible: is %d bytes, at most %u are allowed", len,
			    PVPACK_COMPATIBLE_MAX);
}

/* The board devices no VM may have, and the one window where the others are. */
static int check_place(const struct node_ctx *c, const struct pvb_vm *vm, int ram_ok,
		       uint64_t base, uint64_t end)
{
	int bad = 0;
	if (ram_ok && overlaps(base, end, vm->ram_base, vm->ram_base + vm->ram_size))
		bad = 1, diag_report(c->diag, c->path, "reg: [0x%llx, 0x%llx) overlaps the VM's RAM "
				     "[0x%llx, 0x%llx)", (ull)base, (ull)end, (ull)vm->ram_base,
				     (ull)(vm->ram_base + vm->ram_size));
	if (overlaps(base, end, PLAT_GICD_BASE, PLAT_GIC_WINDOW_END))
		bad = 1, diag_report(c->diag, c->path, "reg: [0x%llx, 0x%llx) overlaps the GIC [0x%llx, "
				     "0x%llx), which is the hypervisor's (VMs see their virtual GIC there)",
				     (ull)base, (ull)end, PLAT_GICD_BASE, PLAT_GIC_WINDOW_END);
	if (overlaps(base, end, PLAT_UART_BASE, PLAT_PASSTHRU_BASE))
		bad = 1, diag_report(c->diag, c->path, "reg: [0x%llx, 0x%llx) overlaps the UART [0x%llx, "
				     "0x%llx), the hypervisor's console (VMs see their virtual PL011 there)",
				     (ull)base, (ull)end, PLAT_UART_BASE, PLAT_PASSTHRU_BASE);
	if (!bad && (base < PLAT_PASSTHRU_BASE || end > PLAT_PASSTHRU_END))
		bad = 1, diag_report(c->diag, c->path, "reg: [0x%llx, 0x%llx) is outside [0x%llx, 0x%llx), "
				     "where the board's devices for VMs are", (ull)base, (ull)end,
				     PLAT_PASSTHRU_BASE, PLAT_PASSTHRU_END);
	return !bad;
}

/* Against the regions of `src` (another VM's, or this one's earlier devices). */
static int check_region_free(const struct node_ctx *c, const struct vm_source *src,
			     uint64_t base, uint64_t end)
{
	for (uint32_t i = 0; i < src->region_count; i++) {
		const struct dev_region *r = &src->regions[i];
		char other[NODE_PATH_SIZE];
		if (overlaps(base, end, r->base, r->base + r->size)) {
			diag_report(c->diag, c->path, "reg: [0x%llx, 0x%llx) overlaps [0x%llx, 0x%llx) of %s",
				    (ull)base, (ull)end, (ull)r->base, (ull)(r->base + r->size),
				    path_of(src->fdt, r->node, other));
			return 0;
		}
	}
	return 1;
}

/* Stage 2 maps device regions page by page: base and size in whole 4 KiB pages. */
static void check_reg(const struct node_ctx *c, struct pvb_vm *vm, struct vm_source *src,
		      int ram_ok, uint32_t *count)
{
	const fdt32_t *cells;
	int n;
	if (node_cells(c, "reg", 1, &cells, &n) != PROP_OK)
		return;
	if (n % 4) {
		diag_report(c->diag, c->path, "reg: must be a list of <base-hi base-lo size-hi size-lo>, "
			    "not %d bytes", 4 * n);
		return;
	}
	if (n == 0)
		diag_report(c->diag, c->path, "reg: is empty");
	for (int i = 0; i < n; i += 4) {
		uint64_t base = (uint64_t)node_cell(cells, i) << 32 | node_cell(cells, i + 1);
		uint64_t size = (uint64_t)node_cell(cells, i + 2) << 32 | node_cell(cells, i + 3);
		int ok = 1;
		(*count)++;
		if (base % PVPACK_PAGE)
			ok = 0, diag_report(c->diag, c->path, "reg: base 0x%llx is not 4 KiB aligned",
					    (ull)base);
		if (size == 0)
			ok = 0, diag_report(c->diag, c->path, "reg: size is 0");
		else if (size % PVPACK_PAGE)
			ok = 0, diag_report(c->diag, c->path,
					    "reg: size 0x%llx is not a multiple of 4 KiB", (ull)size);
		if (!ok || size > UINT64_MAX - base)
			continue;
		if (!check_place(c, vm, ram_ok, base, base + size) ||
		    !check_region_free(c, src, base, base + size) ||
		    src->region_count == PVB_MAX_DEV_REGIONS)
			continue;
		/* Inside the device window, so 32 bits hold it. */
		src->regions[src->region_count] = (struct dev_region){ base, size, c->offset };
		vm->dev_regions[src->region_count++] = (struct pvb_region){ (uint32_t)base,
									    (uint32_t)size };
	}
}

/* INTIDs, each an SPI of the virtual GIC that is forwarded as itself; level-sensitive. */
static void check_interrupts(const struct node_ctx *c, struct pvb_vm *vm, struct vm_source *src)
{
	const fdt32_t *cells;
	int n;
	if (node_cells(c, "interrupts", 0, &cells, &n) != PROP_OK)
		return;
	if (n == 0)
		diag_report(c->diag, c->path, "interrupts: is empty");
	for (int i = 0; i < n; i++) {
		uint32_t intid = node_cell(cells, i);
		char other[NODE_PATH_SIZE];
		if (intid < SPI_FIRST || intid > SPI_LAST)
			diag_report(c->diag, c->path, "interrupts: %u is not the INTID of an SPI the virtual "
				    "GIC has (%u..%u)", intid, SPI_FIRST, SPI_LAST);
		else if (intid == SPI_UART)
			diag_report(c->diag, c->path, "interrupts: INTID %u is the UART's, the "
				    "hypervisor's console", intid);
		else if ((vm->dev_spis & (1ull << (intid - SPI_FIRST))) &&
			 src->spi_node[intid - SPI_FIRST] == c->offset)
			diag_report(c->diag, c->path, "interrupts: INTID %u is listed twice", intid);
		else if (vm->dev_spis & (1ull << (intid - SPI_FIRST)))
			diag_report(c->diag, c->path, "interrupts: INTID %u is also given to %s", intid,
				    path_of(c->fdt, src->spi_node[intid - SPI_FIRST], other));
		else {
			vm->dev_spis |= 1ull << (intid - SPI_FIRST);
			src->spi_node[intid - SPI_FIRST] = c->offset;
		}
	}
}

void device_check(const struct node_ctx *vc, struct pvb_vm *vm, struct vm_source *src,
		  int ram_ok)
{
	char path[NODE_PATH_SIZE];
	int dev;
	uint32_t regions = 0;
	src->fdt = vc->fdt;
	src->devices = fdt_subnode_offset(vc->fdt, vc->offset, "devices");
	if (src->devices < 0)
		return;
	node_child_path(path, sizeof(path), vc->path, "devices");
	struct node_ctx c = { vc->fdt, src->devices, path, vc->diag };
	node_check_props(&c, NULL, 0);
	fdt_for_each_subnode(dev, vc->fdt, src->devices) {
		char dev_path[NODE_PATH_SIZE];
		node_child_path(dev_path, sizeof(dev_path), path, fdt_get_name(vc->fdt, dev, NULL));
		struct node_ctx d = { vc->fdt, dev, dev_path, vc->diag };
		node_check_props(&d, device_props, sizeof(device_props) / sizeof(device_props[0]));
		node_check_children(&d, NULL, 0);
		check_compatible(&d);
		check_reg(&d, vm, src, ram_ok, &regions);
		check_interrupts(&d, vm, src);
	}
	if (regions > PVB_MAX_DEV_REGIONS)
		diag_report(c.diag, c.path, "%u MMIO regions, at most %u are allowed per VM", regions,
			    PVB_MAX_DEV_REGIONS);
}

void device_conflicts(const struct node_ctx *c, const struct pvb_vm *vm,
		      const struct vm_source *src, const struct pvb_vm *other,
		      const struct vm_source *other_src)
{
	for (uint32_t i = 0; i < src->region_count; i++) {
		const struct dev_region *r = &src->regions[i];
		char path[NODE_PATH_SIZE];
		struct node_ctx d = { c->fdt, r->node, path_of(c->fdt, r->node, path), c->diag };
		check_region_free(&d, other_src, r->base, r->base + r->size);
	}
	for (uint64_t both = vm->dev_spis & other->dev_spis; both; both &= both - 1) {
		uint32_t n = (uint32_t)__builtin_ctzll(both);
		char path[NODE_PATH_SIZE], other_path[NODE_PATH_SIZE];
		diag_report(c->diag, path_of(c->fdt, src->spi_node[n], path),
			    "interrupts: INTID %u is also given to %s", SPI_FIRST + n,
			    path_of(c->fdt, other_src->spi_node[n], other_path));
	}
}
