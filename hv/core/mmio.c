/* mmio.c: routing a trapped guest access to the virtual device at that address. */
#include <pv/mmio.h>
#include <pv/vm.h>
#include <board.h>

bool mmio_dispatch(struct vcpu *vcpu, const struct mmio_access *a)
{
	u64 val = 0;
	if (!range_contains(PLAT_GUEST_UART_BASE, PLAT_GUEST_UART_SIZE, a->ipa, a->size))
		return false;
	if (a->write)
		val = vcpu_reg(vcpu, a->reg);
	vpl011_access(vcpu->vm, a->ipa - PLAT_GUEST_UART_BASE, a->size, a->write, &val);
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
