/* sgi: proves SGIs reach the right vCPU, wherever it runs: every vCPU sends ROUNDS SGIs to every
 * vCPU including itself, each INTID naming its sender, and waits for each one to be counted
 * before sending the next (SGIs pending at a target merge, so unpaced sends would be lost);
 * then vCPU 0 sends one SGI to all the others at once (IRM = 1). */
#include "guest.h"

#define ROUNDS 10
#define INTID_BROADCAST 15u
#define POLL_US 50
#define TIMEOUT_US 5000000

/* got[r][s]: SGIs receiver r took from sender s; every slot has one writer, its receiver. */
static volatile uint32_t got[GUEST_MAX_VCPUS][GUEST_MAX_VCPUS];
static volatile uint32_t broadcast_got[GUEST_MAX_VCPUS];
static volatile bool ready[GUEST_MAX_VCPUS], sent[GUEST_MAX_VCPUS]; /* written by vCPU n */
static volatile bool finish;                                         /* written by vCPU 0 */
static volatile unsigned vcpus;                                      /* set by vCPU 0 */
static uint64_t give_up; /* counter value after which waiting is pointless */

static void sgi_irq(unsigned intid)
{
	unsigned me = cpu_id();

	if (intid == INTID_BROADCAST)
		broadcast_got[me]++;
	else
		got[me][intid]++;
}

/* Polls `*v >= want` with short sleeps, so a waiting vCPU gives its core to the others. */
static bool wait_at_least(volatile uint32_t *v, uint32_t want)
{
	while (*v < want) {
		if (timer_now() > give_up)
			return false;
		sleep_until(timer_now() + timer_us(POLL_US));
	}
	return true;
}

static bool wait_flag(volatile bool *f)
{
	while (!*f) {
		if (timer_now() > give_up)
			return false;
		sleep_until(timer_now() + timer_us(POLL_US));
	}
	return true;
}

/* Every vCPU: set up, wait for all to be ready, then the paced exchange. */
static void exchange(void)
{
	unsigned me = cpu_id();

	gic_cpu_init();
	for (unsigned i = 0; i < GUEST_MAX_VCPUS; i++) {
		irq_set_handler(i, sgi_irq);
		gic_enable(i, IRQ_PRIO_DEFAULT);
	}
	irq_set_handler(INTID_BROADCAST, sgi_irq);
	gic_enable(INTID_BROADCAST, IRQ_PRIO_DEFAULT);
	ready[me] = true;
	barrier();
	while (!vcpus) /* secondaries start before vCPU 0 knows how many there are */
		sleep_until(timer_now() + timer_us(POLL_US));
	for (unsigned n = 0; n < vcpus; n++)
		wait_flag(&ready[n]);
	for (uint32_t r = 1; r <= ROUNDS; r++)
		for (unsigned to = 0; to < vcpus; to++) {
			gic_send_sgi(me, to);
			if (!wait_at_least(&got[to][me], r))
				printf("sgi: vcpu %u: SGI %u to vcpu %u never arrived BAD\n", me, r, to);
		}
	sent[me] = true;
	barrier();
}

void secondary_main(uint64_t context)
{
	(void)context;
	exchange();
	wait_flag(&finish); /* keep taking SGIs (the broadcast) until vCPU 0 has counted */
}

static bool report(unsigned n)
{
	unsigned total = broadcast_got[n];
	bool ok = broadcast_got[n] == (n ? 1u : 0u);

	for (unsigned s = 0; s < GUEST_MAX_VCPUS; s++) {
		uint32_t want = s < vcpus ? ROUNDS : 0;
		total += got[n][s];
		if (got[n][s] != want) {
			printf("sgi: vcpu %u from vcpu %u: %u, want %u BAD\n", n, s, got[n][s], want);
			ok = false;
		}
	}
	printf("sgi: vcpu %u got %u\n", n, total);
	return ok;
}

int main(uint64_t boot_arg)
{
	(void)boot_arg;
	give_up = timer_now() + timer_us(TIMEOUT_US);
	gic_init();
	unsigned count = smp_start_all();
	vcpus = count;
	barrier();
	printf("sgi: %u vcpus, %u rounds\n", count, ROUNDS);
	exchange();
	for (unsigned n = 0; n < vcpus; n++)
		wait_flag(&sent[n]);
	gic_send_sgi_others(INTID_BROADCAST);
	for (unsigned n = 1; n < vcpus; n++)
		wait_at_least(&broadcast_got[n], 1);
	finish = true;
	barrier();

	bool ok = true;
	for (unsigned n = 0; n < vcpus; n++)
		ok = report(n) && ok;
	printf("sgi: %s\n", ok ? "ok" : "BAD");
	return 0;
}
