/* cpu.h: per physical core state. */
#ifndef PV_CPU_H
#define PV_CPU_H

#include <pv/bundle.h>
#include <pv/types.h>

struct vcpu;

#define CPU_MAX_VCPUS (PVB_MAX_VMS * PVB_MAX_VCPUS)

struct cpu {
	u32 id;
	u32 online;
	struct vcpu *loaded; /* whose EL1 state is in this core's registers */
	u32 next;            /* round-robin cursor into vcpus[] */
	u32 vcpu_count;      /* published with release once the list is complete */
	struct vcpu *vcpus[CPU_MAX_VCPUS];
	u64 stack_top;
};

extern struct cpu cpus[];
struct cpu *this_cpu(void);

#endif
