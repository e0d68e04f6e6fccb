/* fake.h: what the fake architecture recorded, for the host unit tests to assert on. */
#ifndef ARCH_HOST_FAKE_H
#define ARCH_HOST_FAKE_H

#include <setjmp.h>
#include <pv/types.h>

struct fake_state {
	char out[16384];   /* everything written to the board UART */
	size_t out_len;
	const char *in;    /* bytes the board UART will deliver, NUL-terminated */
	u32 kicks, s2_maps, s2_flushes, system_offs;
	u32 rom_maps, rom_unmaps; /* arch_s2_map_rom calls */
	bool s2_fail;      /* make arch_s2_map fail */
	jmp_buf *off_jump; /* where arch_system_off returns to, when set */
	u64 lr[16];        /* ICH_LR<n>_EL2: tests play the guest by editing them */
	bool uie;          /* ICH_HCR_EL2.UIE */
	u64 now;           /* the physical counter (arch_timer_now), at FAKE_TIMER_FREQ */
	struct fake_region { u64 pa, size; } dev_maps[4]; /* arch_s2_map_device calls */
	u32 dev_map_count;
	u64 spi_enabled[2]; /* gic_spi_set: bit n % 64 of word n / 64 = INTID n is enabled */
	u32 spi_route[96];
	u32 spi_deactivations;
	bool vtimer_line;  /* the virtual timer's output (arch_vtimer_line); reset high */
	u32 vtimer_lowers; /* arch_vtimer_lower calls */
	u8 image[64]; /* what arch_image measures as the hypervisor */
	/* The block and net provider (provider.h): a disk in host memory, requests held until
	 * fake_disk_finish, frames sent to the uplink kept in order. */
	u8 *disk;          /* disk_sectors * 512 bytes, or NULL */
	u64 disk_sectors;
	struct pblk_req_copy { u32 type, count; u64 sector; u64 pa[256], len[256]; u64 status; bool held; } req[8];
	u32 submits, flushes, sync_writes;
	bool sync_fail; /* pblk_sync writes and flushes fail */
	u8 sent[8][1536];  /* the uplink's frames (header first), the last 8 */
	u32 sent_len[8], sends;
	bool nic, nic_full; /* an uplink exists; it has no room */
};

#define FAKE_TIMER_FREQ 62500000ull /* as QEMU's virt */

extern struct fake_state fake;
void fake_reset(void);
/* Carries out every request the fake disk holds and completes them (blk_done). */
void fake_disk_finish(void);

#endif
