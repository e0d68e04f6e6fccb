/* gic.h: the hypervisor's own use of the board's GICv3: SGIs between cores, interrupt ack. */
#ifndef PV_GIC_H
#define PV_GIC_H

#include <pv/types.h>

#define SGI_KICK 0 /* "look at your vCPUs again" */
#define GIC_SPURIOUS 1023u

void gic_init_dist(void);
void gic_init_cpu(u32 cpu);
void gic_send_sgi(u32 cpu, u32 intid);
u32 gic_ack(void);
void gic_eoi(u32 intid);

#endif
