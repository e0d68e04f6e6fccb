/* mmio.c: routing a trapped guest access to the virtual device at that address. */
#include <pv/mmio.h>
#include <pv/sched.h>
#include <pv/vflash.h>
#include <pv/virtio.h>
#include <pv/vm.h>
#include <board.h>

/* A virtio-mmio slot: false when ipa is none, or its device refuses the access. */
static bool virtio_access(struct vm *vm, u64 ipa, u32 size, bool write, u64 *val)
{
	u64 off = ipa - PLAT_GUEST_VIRTIO_BASE;
	return off < PLAT_GUEST_VIRTIO_SLOTS * PLAT_GUEST_VIRTIO_STRIDE &&
	       virtio_mmio_access(vm, (u32)(off / PLAT_GUEST_VIRTIO_STRIDE),
				  off % PLAT_GUEST_VIRTIO_STRIDE, size, write, val);
}

/* The device at the address: GIC distributor, the VM's redistributors, its UART. */
static bool device_access(struct vcpu *vcpu, const struct mmio_access *a, u64 *val)
{
	struct vm *vm = vcpu->vm;
	u32 kick = 0;
	bool ok;
	if (a->ipa < 2 * PVB_FLASH_BANK)
		return vflash_access(vm, a->ipa, a->size, a->write, val);
	/* The vGIC's frames lie below the UART (board.h); for an unmapped address down there
	 * the resample is harmless. */
	if (a->ipa < PLAT_GUEST_UART_BASE)
		vgic_timer_sample(&vm->vgic, vcpu->id);
	if (range_contains(PLAT_GUEST_GICD_BASE, VGIC_GICD_SIZE, a->ipa, a->size))
		ok = vgic_dist_access(&vm->vgic, a->ipa - PLAT_GUEST_GICD_BASE, a->size, a->write, val,
				      &kick);
	else if (range_contains(PLAT_GUEST_GICR_BASE, vm->vcpu_count * VGIC_GICR_STRIDE, a->ipa,
				a->size))
		ok = vgic_redist_access(&vm->vgic, a->ipa - PLAT_GUEST_GICR_BASE, a->size, a->write,
					val, &kick);
	else if (range_contains(PLAT_GUEST_UART_BASE, PLAT_GUEST_UART_SIZE, a->ipa, a->size))
		return vpl011_access(vm, a->ipa - PLAT_GUEST_UART_BASE, a->size, a->write, val), true;
	else
		return virtio_access(vm, a->ipa, a->size, a->write, val); /* usually exit_light's */
	sched_wake_mask(vm, kick);
	return ok;
}

bool mmio_dispatch(struct vcpu *vcpu, const struct mmio_access *a)
{
	u64 val = 0;
	if (a->write)
		val = vcpu_reg(vcpu, a->reg);
	if (!device_access(vcpu, a, &val))
		return false;
	if (!a->write) {
		u32 bits = a->size * 8;
		if (a->sign_extend && bits < 64 && (val & (1ull << (bits - 1))))
			val |= ~0ull << bits;
		if (!a->wide)
			val &= 0xffffffffull;
		vcpu_set_reg(vcpu, a->reg, val);
	}
	return true;
}

bool mmio_virtio(struct vcpu *vcpu, u64 ipa, u32 size, bool write, u32 reg)
{
	u64 val = write ? vcpu_reg(vcpu, reg) : 0;
	if (!virtio_access(vcpu->vm, ipa, size, write, &val))
		return false;
	if (!write)
		vcpu_set_reg(vcpu, reg, val);
	return true;
}

bool mmio_quick_read(struct vcpu *vcpu, u64 ipa, u32 size, u32 reg)
{
	struct vm *vm = vcpu->vm;
	u64 off = ipa - PLAT_GUEST_GICD_BASE, val;
	bool dist = off < VGIC_GICD_SIZE;
	if (!dist) {
		off = ipa - PLAT_GUEST_GICR_BASE;
		if (off >= vm->vcpu_count * VGIC_GICR_STRIDE)
			return false;
	}
	if (!vgic_quick_read(&vm->vgic, dist, off, size, &val))
		return false;
	vcpu_set_reg(vcpu, reg, val);
	return true;
}
