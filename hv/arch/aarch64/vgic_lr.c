/* vgic_lr.c: the GICv3 virtual CPU interface registers (ICH_*_EL2, IHI 0069 12.4). */
#include <pv/arch.h>
#include <pv/vgic.h>
#include "sysreg.h"

/* System-register names are fixed in the instruction, hence one case per list register: the
 * first VGIC_MAX_LRS of them (vgic.h). */
#define LR_CASES(op) op(0) op(1) op(2) op(3) op(4) op(5) op(6) op(7)
_Static_assert(VGIC_MAX_LRS == 8, "one case per LR the vGIC uses");

u64 arch_vgic_read_lr(u32 i)
{
	switch (i) {
#define READ_LR(n) case n: return read_sysreg(ich_lr##n##_el2);
	LR_CASES(READ_LR)
	default: return 0;
	}
}

void arch_vgic_write_lr(u32 i, u64 v)
{
	switch (i) {
#define WRITE_LR(n) case n: write_sysreg(ich_lr##n##_el2, v); break;
	LR_CASES(WRITE_LR)
	default: break;
	}
}

u32 arch_vgic_lr_count(void)
{
	u32 n = (u32)FIELD(read_sysreg(ich_vtr_el2), 4, 0) + 1;
	return n < VGIC_MAX_LRS ? n : VGIC_MAX_LRS;
}

/* ICH_HCR_EL2: the virtual interface on (En), and the maintenance interrupt when the LRs drain
 * while more interrupts wait (UIE). UIE is a level: it stays asserted while the LRs are empty,
 * so it must be off again before the hypervisor empties them and unmasks interrupts. */
void arch_vgic_underflow(bool on)
{
	write_sysreg(ich_hcr_el2, ICH_HCR_EN | (on ? ICH_HCR_UIE : 0));
}
