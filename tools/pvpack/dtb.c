/* dtb.c: the device tree each VM boots with: its RAM, vCPUs, and the virtual devices it has. */
#include <string.h>

#include <pv/gic.h>
#include <pv/vgic.h>
#include <pv/vpl011.h>
#include <pv/vptimer.h>

#include "board.h"
#include "pvpack.h"

/* Interrupt specifiers of the GICv3 binding (interrupt-controller/arm,gic-v3.yaml):
 * <type number flags>, type 0 = SPI (number = INTID - 32), 1 = PPI (number = INTID - 16). */
#define GIC_SPI 0u
#define GIC_PPI 1u
#define IRQ_EDGE_RISING 1u
#define IRQ_LEVEL_HIGH 4u
#define PPI_SECURE_PTIMER 29u /* the timer binding wants it listed; VMs cannot reach it */

#define PHANDLE_GIC 1u
#define PHANDLE_CLK 2u
#define UART_CLOCK_HZ 24000000u

/* The sequential-write API with the first error kept, so building reads top to bottom. */
struct writer {
	void *fdt;
	int err;
};

static void keep(struct writer *w, int r)
{
	if (!w->err && r < 0)
		w->err = r;
}

static void begin(struct writer *w, const char *name)
{
	if (!w->err)
		keep(w, fdt_begin_node(w->fdt, name));
}

static void end(struct writer *w)
{
	if (!w->err)
		keep(w, fdt_end_node(w->fdt));
}

static void prop(struct writer *w, const char *name, const void *val, size_t len)
{
	if (!w->err)
		keep(w, fdt_property(w->fdt, name, val, (int)len));
}

/* One string, or a list written as one literal with embedded NULs ("a\0b"). */
#define PROP_STRS(w, name, lit) prop((w), (name), (lit), sizeof(lit))

static void prop_str(struct writer *w, const char *name, const char *s)
{
	prop(w, name, s, strlen(s) + 1);
}

static void prop_cells(struct writer *w, const char *name, const uint32_t *cells, size_t count)
{
	fdt32_t be[12];
	for (size_t i = 0; i < count; i++)
		be[i] = cpu_to_fdt32(cells[i]);
	prop(w, name, be, count * sizeof(be[0]));
}

static void prop_u32(struct writer *w, const char *name, uint32_t v)
{
	prop_cells(w, name, &v, 1);
}

static void prop_u64(struct writer *w, const char *name, uint64_t v)
{
	fdt64_t be = cpu_to_fdt64(v);
	prop(w, name, &be, sizeof(be));
}

/* A reg entry with #address-cells = #size-cells = 2. */
static void reg_pair(uint32_t *cells, uint64_t base, uint64_t size)
{
	cells[0] = (uint32_t)(base >> 32);
	cells[1] = (uint32_t)base;
	cells[2] = (uint32_t)(size >> 32);
	cells[3] = (uint32_t)size;
}

static void begin_at(struct writer *w, const char *name, uint64_t addr)
{
	char node[64];
	snprintf(node, sizeof(node), "%s@%llx", name, (unsigned long long)addr);
	begin(w, node);
}

static void add_memory(struct writer *w, const struct pvb_vm *vm)
{
	uint32_t reg[4];
	begin_at(w, "memory", vm->ram_base);
	prop_str(w, "device_type", "memory");
	/* Firmware relocates itself to the top of the RAM it is told of, reserved or not. */
	reg_pair(reg, vm->ram_base,
		 vm->ram_size - (vm->flags & PVB_VM_FIRMWARE ? PVB_PVTIME_SIZE : 0));
	prop_cells(w, "reg", reg, 4);
	end(w);

	/* no-map: the guest must not even speculatively cache what EL2 writes there. */
	uint64_t pvtime = vm->ram_base + vm->ram_size - PVB_PVTIME_SIZE;
	begin(w, "reserved-memory");
	prop_u32(w, "#address-cells", 2);
	prop_u32(w, "#size-cells", 2);
	prop(w, "ranges", NULL, 0);
	begin_at(w, "pvtime", pvtime);
	reg_pair(reg, pvtime, PVB_PVTIME_SIZE);
	prop_cells(w, "reg", reg, 4);
	prop(w, "no-map", NULL, 0);
	end(w);
	end(w);
}

/* reg = MPIDR Aff0 = the vCPU index, as the hypervisor builds VMPIDR; PSCI CPU_ON starts them. */
static void add_cpus(struct writer *w, const struct pvb_vm *vm)
{
	begin(w, "cpus");
	prop_u32(w, "#address-cells", 1);
	prop_u32(w, "#size-cells", 0);
	for (uint32_t i = 0; i < vm->vcpu_count; i++) {
		begin_at(w, "cpu", i);
		prop_str(w, "device_type", "cpu");
		prop_str(w, "compatible", "arm,armv8");
		prop_u32(w, "reg", i);
		prop_str(w, "enable-method", "psci");
		end(w);
	}
	end(w);

	begin(w, "psci");
	PROP_STRS(w, "compatible", "arm,psci-1.0\0arm,psci-0.2");
	prop_str(w, "method", "hvc");
	end(w);

	/* timer/arm,arch_timer.yaml: secure, non-secure physical, virtual, hypervisor. */
	const uint32_t ppis[4] = { PPI_SECURE_PTIMER, VPTIMER_PPI, PPI_VTIMER, PPI_HYP_TIMER };
	uint32_t irqs[12];
	for (int i = 0; i < 4; i++) {
		irqs[3 * i] = GIC_PPI;
		irqs[3 * i + 1] = ppis[i] - 16;
		irqs[3 * i + 2] = IRQ_LEVEL_HIGH;
	}
	begin(w, "timer");
	prop_str(w, "compatible", "arm,armv8-timer");
	prop_cells(w, "interrupts", irqs, 12);
	prop(w, "always-on", NULL, 0);
	end(w);

	/* perf/arm,pmu.yaml: a VM the config lets count sees the core's PMUv3 (vcpu_switch.c gives it
	 * every counter). No interrupt: EL2 routes none to it, so Linux counts but cannot sample. */
	if (vm->flags & PVB_VM_PMU) {
		begin(w, "pmu");
		prop_str(w, "compatible", "arm,armv8-pmuv3");
		end(w);
	}
}

/* No maintenance interrupt (it is EL2's) and no ITS: the VM has neither. */
static void add_gic(struct writer *w, const struct pvb_vm *vm)
{
	uint32_t reg[8];
	reg_pair(reg, PLAT_GUEST_GICD_BASE, VGIC_GICD_SIZE);
	reg_pair(reg + 4, PLAT_GUEST_GICR_BASE, vm->vcpu_count * VGIC_GICR_STRIDE);
	begin_at(w, "intc", PLAT_GUEST_GICD_BASE);
	prop_str(w, "compatible", "arm,gic-v3");
	prop_u32(w, "#interrupt-cells", 3);
	prop_u32(w, "#address-cells", 2);
	prop_u32(w, "#size-cells", 2);
	prop(w, "ranges", NULL, 0);
	prop(w, "interrupt-controller", NULL, 0);
	prop_cells(w, "reg", reg, 8);
	prop_u32(w, "#redistributor-regions", 1);
	prop_u32(w, "phandle", PHANDLE_GIC);
	end(w);
}

/* serial/pl011.yaml: the UART clock and the bus clock, both the same fixed 24 MHz here. */
static void add_uart(struct writer *w)
{
	begin(w, "apb-pclk");
	prop_str(w, "compatible", "fixed-clock");
	prop_u32(w, "#clock-cells", 0);
	prop_u32(w, "clock-frequency", UART_CLOCK_HZ);
	prop_str(w, "clock-output-names", "clk24mhz");
	prop_u32(w, "phandle", PHANDLE_CLK);
	end(w);

	uint32_t reg[4], irq[3] = { GIC_SPI, VPL011_SPI - 32, IRQ_LEVEL_HIGH };
	uint32_t clocks[2] = { PHANDLE_CLK, PHANDLE_CLK };
	reg_pair(reg, PLAT_GUEST_UART_BASE, PLAT_GUEST_UART_SIZE);
	begin_at(w, "pl011", PLAT_GUEST_UART_BASE);
	PROP_STRS(w, "compatible", "arm,pl011\0arm,primecell");
	prop_cells(w, "reg", reg, 4);
	prop_cells(w, "interrupts", irq, 3);
	prop_cells(w, "clocks", clocks, 2);
	PROP_STRS(w, "clock-names", "uartclk\0apb_pclk");
	end(w);
}

/* The config's device nodes as they are (compatible and reg: both trees have 2 address and 2
 * size cells), named after their first region, with their SPIs in the GIC binding's form. An
 * AMBA primecell also needs its bus clock (arm,primecell.yaml). */
static void add_devices(struct writer *w, const struct vm_source *src)
{
	int dev;
	if (src->devices < 0)
		return;
	fdt_for_each_subnode(dev, src->fdt, src->devices) {
		int compat_len, reg_len, irq_len;
		const char *name = fdt_get_name(src->fdt, dev, NULL);
		const char *compat = fdt_getprop(src->fdt, dev, "compatible", &compat_len);
		const fdt32_t *reg = fdt_getprop(src->fdt, dev, "reg", &reg_len);
		const fdt32_t *irqs = fdt_getprop(src->fdt, dev, "interrupts", &irq_len);
		char base_name[32]; /* a node name has at most 31 characters */
		snprintf(base_name, sizeof(base_name), "%.*s", (int)strcspn(name, "@"), name);
		begin_at(w, base_name, (uint64_t)fdt32_ld(&reg[0]) << 32 | fdt32_ld(&reg[1]));
		prop(w, "compatible", compat, (size_t)compat_len);
		prop(w, "reg", reg, (size_t)reg_len);
		if (irqs) {
			fdt32_t spec[3 * VGIC_SPI_COUNT];
			int n = irq_len / 4;
			for (int i = 0; i < n; i++) {
				spec[3 * i] = cpu_to_fdt32(GIC_SPI);
				spec[3 * i + 1] = cpu_to_fdt32(fdt32_ld(&irqs[i]) - 32);
				spec[3 * i + 2] = cpu_to_fdt32(IRQ_LEVEL_HIGH);
			}
			prop(w, "interrupts", spec, (size_t)n * 3 * sizeof(spec[0]));
		}
		if (fdt_stringlist_contains(compat, compat_len, "arm,primecell")) {
			prop_u32(w, "clocks", PHANDLE_CLK);
			prop_str(w, "clock-names", "apb_pclk");
		}
		end(w);
	}
}

/* virtio/mmio.yaml, placed as QEMU virt places its transports (board.h): slot n at
 * PLAT_GUEST_VIRTIO_BASE + n * stride, edge-rising SPI 16 + n. dma-coherent: the "device" is
 * the hypervisor, which reads and writes guest RAM through cacheable mappings; without it Linux
 * would map its rings non-cacheable and the two views of them would disagree. */
static void add_virtio(struct writer *w, uint32_t slot)
{
	uint64_t base = PLAT_GUEST_VIRTIO_BASE + slot * PLAT_GUEST_VIRTIO_STRIDE;
	uint32_t reg[4], irq[3] = { GIC_SPI, PLAT_GUEST_VIRTIO_INTID + slot - 32, IRQ_EDGE_RISING };
	reg_pair(reg, base, PLAT_GUEST_VIRTIO_STRIDE);
	begin_at(w, "virtio_mmio", base);
	prop_str(w, "compatible", "virtio,mmio");
	prop_cells(w, "reg", reg, 4);
	prop_cells(w, "interrupts", irq, 3);
	prop(w, "dma-coherent", NULL, 0);
	end(w);
}

/* QEMU virt's two CFI flash banks (hv/virt/vflash.c), as its own DTB has them. */
static void add_flash(struct writer *w)
{
	uint32_t reg[8];
	reg_pair(reg, 0, PVB_FLASH_BANK);
	reg_pair(reg + 4, PVB_FLASH_BANK, PVB_FLASH_BANK);
	begin_at(w, "flash", 0);
	prop_str(w, "compatible", "cfi-flash");
	prop_cells(w, "reg", reg, 8);
	prop_u32(w, "bank-width", 4);
	end(w);
}

static void add_chosen(struct writer *w, const struct pvb_vm *vm, const char *bootargs)
{
	char stdout_path[64];
	snprintf(stdout_path, sizeof(stdout_path), "/pl011@%llx", PLAT_GUEST_UART_BASE);
	begin(w, "chosen");
	prop_str(w, "bootargs", bootargs);
	prop_str(w, "stdout-path", stdout_path);
	if (vm->initrd.size) {
		prop_u64(w, "linux,initrd-start", vm->initrd.load);
		prop_u64(w, "linux,initrd-end", vm->initrd.load + vm->initrd.size);
	}
	end(w);
}

int dtb_build(const struct pvb_vm *vm, const struct vm_source *src, void *buf, size_t size)
{
	struct writer w = { buf, fdt_create(buf, (int)size) };
	keep(&w, w.err ? w.err : fdt_finish_reservemap(buf));
	begin(&w, "");
	prop_u32(&w, "#address-cells", 2);
	prop_u32(&w, "#size-cells", 2);
	prop_str(&w, "compatible", "linux,dummy-virt");
	prop_str(&w, "model", "pocketvisor");
	prop_u32(&w, "interrupt-parent", PHANDLE_GIC);
	add_chosen(&w, vm, src->bootargs);
	add_memory(&w, vm);
	add_cpus(&w, vm);
	add_gic(&w, vm);
	add_uart(&w);
	if (vm->flags & PVB_VM_FIRMWARE)
		add_flash(&w);
	add_devices(&w, src);
	if (vm->cid)
		add_virtio(&w, PVB_SLOT_VSOCK);
	for (uint32_t d = 0; d < PVB_MAX_DISKS; d++)
		if (vm->disks[d].part[0] && !(vm->disks[d].flags & PVB_DISK_FLASH))
			add_virtio(&w, PVB_SLOT_DISK + d);
	if (vm->net_flags & PVB_NET_PORT)
		add_virtio(&w, PVB_SLOT_NET);
	end(&w);
	if (!w.err)
		keep(&w, fdt_finish(buf));
	return w.err ? w.err : (int)fdt_totalsize(buf);
}
