/* gic.h: the hypervisor's own use of the board's GICv3: SGIs between cores, its PPIs, the UART. */
#ifndef PV_GIC_H
#define PV_GIC_H

#include <pv/types.h>

#define SGI_KICK 0          /* "look at your vCPUs again" */
#define PPI_MAINTENANCE 25  /* the virtual CPU interface wants attention (LRs drained) */
#define PPI_HYP_TIMER 26    /* EL2 physical timer: time slices and blocked vCPUs' deadlines */
#define PPI_VTIMER 27       /* the loaded vCPU's virtual timer, forwarded with the HW bit */
#define SPI_UART 33         /* the board PL011 (keyboard input) */
#define GIC_SPURIOUS 1023u

void gic_init_dist(void);
void gic_init_cpu(u32 cpu);
/* A shared peripheral interrupt, deactivated, then enabled and routed to core cpu, or disabled. */
void gic_spi_set(u32 intid, u32 cpu, bool on);
void gic_send_sgi(u32 cpu, u32 intid);
u32 gic_ack(void);
/* EOImode=1: priority drop and deactivation are separate, so a HW-linked interrupt can stay
 * active until the guest deactivates it. */
void gic_eoi(u32 intid);
void gic_deactivate(u32 intid);
/* Saves and clears, or restores, this core's active state of a PPI across a vCPU switch. */
bool gic_ppi_take_active(u32 cpu, u32 intid);
void gic_ppi_set_active(u32 cpu, u32 intid);

#endif
