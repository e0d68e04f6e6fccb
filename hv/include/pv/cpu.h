/* cpu.h: per physical core state. */
#ifndef PV_CPU_H
#define PV_CPU_H

#include <pv/bundle.h>
#include <pv/types.h>

struct vcpu;


struct cpu {
	u32 id;
	u32 online;
	struct vcpu *loaded; /* whose EL1 state is in this core's registers */
	u32 next;            /* round-robin cursor into the scheduler's vCPU list */
	u32 resched;         /* a kick or a timer asked this core to choose again */
	u64 slice_end;       /* physical counter value the running vCPU's slice ends at */
	u64 stack_top;
};

extern struct cpu cpus[];
struct cpu *this_cpu(void);

#endif
