/* passthru.c: physical devices the config gives a VM: MMIO mapped 1:1, SPIs forwarded (HW bit). */
#include <pv/arch.h>
#include <pv/gic.h>
#include <pv/passthru.h>
#include <pv/sched.h>
#include <pv/vm.h>
#include <board.h>

/* Whose each SPI is, for the interrupt path (bit n of dev_spis: spi_vm[n]). */
static struct vm *spi_vm[64];

/* Checked here, where they are used: outside the device window a region could be RAM (the
 * hypervisor's or another VM's), and the UART's SPI is the hypervisor's console. */
bool passthru_map(struct vm *vm)
{
	for (u32 r = 0; r < PVB_MAX_DEV_REGIONS; r++) {
		u64 base = vm->cfg->dev_regions[r].base, size = vm->cfg->dev_regions[r].size;
		if (size && (!IS_ALIGNED(base | size, KiB(4)) || base < PLAT_PASSTHRU_BASE ||
			     base + size > PLAT_PASSTHRU_END || !arch_s2_map_device(vm, base, size)))
			return false;
	}
	return !(vm->cfg->dev_spis & BIT(SPI_UART - PVB_DEV_SPI_BASE));
}

/* Routed to the core vCPU 0 was placed on: a core this VM may use, so its device never
 * interrupts a core the config keeps for other VMs. The guest may route the virtual SPI to
 * another vCPU (a kick then reaches it), and its deactivation works from whichever core that
 * vCPU runs on, before or after a move: an SPI's active state is the distributor's, not a
 * core's (unlike the virtual timer's PPI). */
void passthru_irqs(struct vm *vm, bool on)
{
	for (u64 m = vm->cfg->dev_spis; m; m &= m - 1) {
		u32 n = (u32)__builtin_ctzll(m), intid = PVB_DEV_SPI_BASE + n;
		if (on) {
			spi_vm[n] = vm;
			vgic_link_hw(&vm->vgic, 0, intid, intid);
		}
		gic_spi_set(intid, vm->vcpus[0].cpu, on);
	}
}

/* Pending in the owner's vGIC with HW=1 (vgic_link_hw): the guest's EOI deactivates the
 * physical SPI, so until then it cannot fire again, however the guest behaves. One that fires
 * while its VM stops or resets is deactivated by the caller, and is then off. */
bool passthru_irq(u32 intid)
{
	u32 n = intid - PVB_DEV_SPI_BASE; /* wraps for SGIs and PPIs */
	struct vm *vm = n < 64 ? spi_vm[n] : NULL;
	if (!vm || __atomic_load_n(&vm->state, __ATOMIC_ACQUIRE) != VM_RUNNING)
		return false;
	sched_wake_mask(vm, vgic_set_level(&vm->vgic, 0, intid, true));
	return true;
}
