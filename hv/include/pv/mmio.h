/* mmio.h: a decoded guest access to a trapped device address, and its dispatch. */
#ifndef PV_MMIO_H
#define PV_MMIO_H

#include <pv/types.h>

struct vcpu;

struct mmio_access {
	u64 ipa;
	u32 size; /* 1, 2, 4 or 8 bytes */
	bool write;
	u32 reg;  /* guest register, 31 = xzr */
	bool sign_extend;
	bool wide; /* load into a 64-bit register */
};

/* Emulates the access when a virtual device claims the address; false when none does. */
bool mmio_dispatch(struct vcpu *vcpu, const struct mmio_access *a);
/* A zero-extending load of size bytes at ipa into register reg that vgic_quick_read answers; false
 * for anything else, which then takes mmio_dispatch's path. */
bool mmio_quick_read(struct vcpu *vcpu, u64 ipa, u32 size, u32 reg);

/* An access of size bytes at ipa to a virtio-mmio slot, from or into register reg (a load is
 * zero-extended), handled on the light exit path; false, with no side effect, for anything the
 * device does not have, which then takes mmio_dispatch's path and aborts. */
bool mmio_virtio(struct vcpu *vcpu, u64 ipa, u32 size, bool write, u32 reg);

#endif
