/* arch_vcpu.h (host fake): the vCPU state the fake architecture keeps, for unit tests. */
#ifndef ARCH_VCPU_H
#define ARCH_VCPU_H

#include <pv/debug.h>
#include <pv/types.h>

struct arch_vcpu {
	u64 vmpidr;
	u32 loads, puts;
	struct vcpu_debug dbg; /* the trap code's, built on the host by tests/fuzz */
};

#endif
