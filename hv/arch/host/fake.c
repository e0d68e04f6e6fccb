/* fake.c: a fake architecture so the portable core runs as host unit tests (no EL2 here). */
#include <stdlib.h>
#include <string.h>
#include <pv/arch.h>
#include <pv/cpu.h>
#include <pv/log.h>
#include <pv/provider.h>
#include <pv/sched.h>
#include <pv/vm.h>
#include "fake.h"

struct fake_state fake;
struct cpu cpus[4];

void pl011_putc(char c);
int pl011_getc(void);
void pl011_enable_rx_irq(void);

void fake_reset(void)
{
	if (fake.disk)
		fake_disk_finish(); /* blk.c's requests in flight end with the last test's VMs */
	memset(&fake, 0, sizeof(fake));
	fake.vtimer_line = true; /* a latched firing stays unless a test lowers the line */
	memset(cpus, 0, sizeof(cpus));
	for (u32 i = 0; i < 4; i++)
		cpus[i].online = 1, cpus[i].id = i;
	memset(vms, 0, sizeof(vms));
	vm_count = 0;
}

struct cpu *this_cpu(void) { return &cpus[0]; }
void sched_attach(struct vcpu *vcpu) { (void)vcpu; }
void sched_wake(struct vcpu *vcpu) { (void)vcpu; fake.kicks++; }
void sched_wake_mask(struct vm *vm, u32 vcpus)
{
	(void)vm;
	fake.kicks += (u32)__builtin_popcount(vcpus);
}

void arch_s2_init(struct vm *vm) { vm->vttbr = (u64)(vm->id + 1) << 48; }
bool arch_s2_map(struct vm *vm, u64 ipa, paddr_t pa, u64 size)
{
	(void)vm, (void)ipa, (void)pa, (void)size;
	fake.s2_maps++;
	return !fake.s2_fail;
}
bool arch_s2_map_device(struct vm *vm, u64 pa, u64 size)
{
	(void)vm;
	if (fake.dev_map_count < ARRAY_SIZE(fake.dev_maps))
		fake.dev_maps[fake.dev_map_count++] = (struct fake_region){ pa, size };
	return !fake.s2_fail;
}
bool arch_s2_map_rom(struct vm *vm, u64 ipa, paddr_t pa, u64 size, bool map)
{
	(void)vm, (void)ipa, (void)pa, (void)size;
	fake.rom_maps += map;
	fake.rom_unmaps += !map;
	return true;
}
void arch_s2_flush(struct vm *vm) { (void)vm; fake.s2_flushes++; }
u32 arch_s2_free(void) { return 40; }

/* The board GIC's SPIs as the hypervisor leaves them: enabled or not, where routed, and how
 * often deactivated. */
void gic_spi_set(u32 intid, u32 cpu, bool on)
{
	if (intid >= ARRAY_SIZE(fake.spi_route))
		abort();
	u64 *w = &fake.spi_enabled[intid / 64], bit = BIT(intid % 64); /* SPIs reach INTID 95 */
	*w = on ? *w | bit : *w & ~bit;
	fake.spi_route[intid] = cpu;
	fake.spi_deactivations++;
}
void arch_vcpu_load(struct vcpu *vcpu) { vcpu->arch.loads++; }
void arch_vcpu_put(struct vcpu *vcpu) { vcpu->arch.puts++; }
void arch_vcpu_reset(struct vcpu *vcpu)
{
	vcpu->arch.vmpidr = BIT(31) | vcpu->id;
	vcpu->regs.pstate = 0x3c5;
}
void arch_copy_to_ram(paddr_t pa, const void *src, u64 size) { memcpy(pa_ptr(pa), src, size); }
void arch_sync_icache(void) {}
void arch_zero_ram(paddr_t pa, u64 size) { memset(pa_ptr(pa), 0, size); }
void arch_wipe_ram(paddr_t pa, u64 size) { memset(pa_ptr(pa), 0, size); }
void arch_ram_cached(void) {}
u32 arch_cpu_id(void) { return 0; }
void arch_cpu_init(void) {}
int arch_cpu_start(u32 cpu) { (void)cpu; return 0; }
void arch_kick(u32 cpu) { (void)cpu; fake.kicks++; }
void arch_idle(void) {}

_Noreturn void arch_system_off(void)
{
	fake.system_offs++;
	if (fake.off_jump)
		longjmp(*fake.off_jump, 1);
	abort();
}

/* An LR index the hardware does not have is a hypervisor bug: stop the test there. */
u64 arch_vgic_read_lr(u32 i)
{
	if (i >= ARRAY_SIZE(fake.lr))
		abort();
	return fake.lr[i];
}

void arch_vgic_write_lr(u32 i, u64 v)
{
	if (i >= ARRAY_SIZE(fake.lr))
		abort();
	fake.lr[i] = v;
}

u32 arch_vgic_lr_count(void) { return 4; } /* as QEMU's Cortex-A57 */
void arch_vgic_underflow(bool on) { fake.uie = on; }

void pl011_putc(char c)
{
	if (fake.out_len + 1 < sizeof(fake.out))
		fake.out[fake.out_len++] = c;
	fake.out[fake.out_len] = 0;
}

int pl011_getc(void)
{
	if (!fake.in || !*fake.in)
		return -1;
	return (u8)*fake.in++;
}

void pl011_enable_rx_irq(void) {}
void arch_vtimer_snapshot(struct vcpu *vcpu) { (void)vcpu; }
bool arch_vtimer_line(void) { return fake.vtimer_line; }
void arch_vtimer_lower(void) { fake.vtimer_lowers++; }
bool arch_sha256_blocks(u32 h[8], const u8 *p, u64 n) { (void)h, (void)p, (void)n; return false; }
const u8 *arch_image(u64 *size) { *size = sizeof(fake.image); return fake.image; }
u64 arch_timer_now(void) { return fake.now; }
u64 arch_timer_freq(void) { return FAKE_TIMER_FREQ; }

/* The provider (provider.h), held until the test lets the disk finish. */
u64 pblk_sectors(void) { return fake.disk ? fake.disk_sectors : 0; }
u32 pblk_segs(void) { return PBLK_DATA_SEGS; }

void pblk_submit(const struct pblk_req *r, u32 tag)
{
	struct pblk_req_copy *c = &fake.req[tag];
	CHECK(tag < PBLK_SLOTS && !c->held && r->count <= PBLK_DATA_SEGS);
	CHECK(r->type != 1 && r->type != 0 ? r->count == 0 : 1);
	*c = (struct pblk_req_copy){ r->type, r->count, r->sector, { 0 }, { 0 }, r->status.pa, true };
	for (u32 i = 0; i < r->count; i++) {
		c->pa[i] = r->seg[i].pa.pa;
		c->len[i] = r->seg[i].len;
	}
	fake.submits++;
}

static void disk_do(struct pblk_req_copy *c)
{
	u64 at = c->sector * 512, total = 0;
	for (u32 i = 0; i < c->count; i++)
		total += c->len[i];
	u8 st = 0;
	if (c->type == 4) {
		fake.flushes++;
	} else if (c->sector > fake.disk_sectors || total > (fake.disk_sectors - c->sector) * 512) {
		st = 1; /* the provider's own check: blk.c never lets this happen */
		panic("fake disk: request beyond its end");
	} else {
		for (u32 i = 0; i < c->count; at += c->len[i], i++)
			if (c->type == 0)
				memcpy((void *)(uintptr_t)c->pa[i], fake.disk + at, c->len[i]);
			else
				memcpy(fake.disk + at, (void *)(uintptr_t)c->pa[i], c->len[i]);
	}
	*(u8 *)(uintptr_t)c->status = st;
	c->held = false;
}

void pblk_poll(void)
{
	fake_disk_finish();
}

void fake_disk_finish(void)
{
	for (u32 t = 0; t < PBLK_SLOTS; t++)
		if (fake.req[t].held) {
			disk_do(&fake.req[t]);
			blk_done(t);
		}
}

bool pblk_sync(u32 type, u64 sector, void *buf)
{
	if (!fake.disk || sector >= fake.disk_sectors || (type != PBLK_IN && fake.sync_fail))
		return false;
	if (type == PBLK_IN)
		memcpy(buf, fake.disk + sector * 512, 512);
	else if (type == PBLK_OUT)
		memcpy(fake.disk + sector * 512, buf, 512), fake.sync_writes++;
	else
		fake.flushes++;
	return true;
}

bool pnet_present(void) { return fake.nic; }

bool pnet_send(const struct vq_chain *f, u32 off, u32 len)
{
	if (!fake.nic)
		return true;
	if (fake.nic_full)
		return false;
	u32 i = fake.sends++ % 8;
	CHECK(len + 12 <= sizeof(fake.sent[i]));
	memset(fake.sent[i], 0, 12);
	vq_read(fake.sent[i] + 12, f, off, len);
	fake.sent_len[i] = len + 12;
	return true;
}

void provider_probe(const struct board_info *board) { (void)board; }
bool provider_irq(u32 intid) { (void)intid; return false; }
