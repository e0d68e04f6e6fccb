/* vsbench: the vsock round trip of issue 9's bench, against vsecho at CID 4 port 5000
 * (tests/configs/vsbench1.dts: both VMs on one core; vsbench2.dts: a core each). One
 * `bench: <name> <n>` line per result. Under -icount shift=0 the cycle counter counts
 * instructions; it is the core's counter, not switched per VM, so on one core it also counts
 * the echo VM's and the hypervisor's work for each round trip (what a round trip costs the
 * core). PMCCFILTR_EL0 picks what is counted: NSH alone counts EL0, EL1 and EL2; with P and U
 * set as well only EL2, the hypervisor's part. */
#include "guest.h"

#define ECHO_CID 4u
#define ECHO_PORT 5000u
#define WARMUP 100u
#define ROUND_TRIPS 1000u
#define MSG_SIZE 64u
#define BULK_SIZE (1024u * 1024u)
#define CHUNK 4096u
#define COPY_SIZE 1024u
#define COPY_REPS 100u
#define CONNECT_TRIES 500u     /* RST while the echo VM is not up yet: try again 10 ms later */

#define PMCR_E (1ul << 0)      /* PMCR_EL0 (Arm ARM D17.5.7): enable */
#define PMCR_C (1ul << 2)      /* reset the cycle counter */
#define PMCR_LC (1ul << 6)     /* 64-bit cycle counter */
#define PMCNT_C (1ul << 31)    /* PMCNTENSET_EL0: the cycle counter */
#define PMCCFILTR_P (1ul << 31) /* PMCCFILTR_EL0 (D17.5.5): do not count EL1 */
#define PMCCFILTR_U (1ul << 30) /* do not count EL0 */
#define PMCCFILTR_NSH (1ul << 27) /* count EL2 */
#define FILTER_ALL PMCCFILTR_NSH
#define FILTER_EL2 (PMCCFILTR_P | PMCCFILTR_U | PMCCFILTR_NSH)

static uint8_t msg[MSG_SIZE], reply[MSG_SIZE], chunk[CHUNK];
static uint8_t copy_src[COPY_SIZE], copy_dst[COPY_SIZE];

static inline uint64_t cycles(void)
{
	uint64_t v;
	__asm__ volatile("mrs %0, pmccntr_el0" : "=r"(v) : : "memory");
	return v;
}

static void pmu_filter(uint64_t filter)
{
	__asm__ volatile("msr pmccfiltr_el0, %0\n\t"
			 "msr pmcr_el0, %1\n\t"
			 "msr pmcntenset_el0, %2\n\t"
			 "isb"
			 : : "r"(filter), "r"(PMCR_E | PMCR_C | PMCR_LC), "r"(PMCNT_C)
			 : "memory");
}

static void result(const char *name, uint64_t n)
{
	printf("bench: %s %lu\n", name, n);
}

/* ---- blocking stream helpers ---- */

static bool send_all(int c, const void *buf, uint32_t len)
{
	for (uint32_t sent = 0; sent < len;) {
		int n = vsock_send(c, (const uint8_t *)buf + sent, len - sent);
		if (n < 0)
			return false;
		sent += (uint32_t)n;
		if (sent < len) {
			vsock_wait();
			vsock_poll();
		}
	}
	return true;
}

static bool recv_all(int c, void *buf, uint32_t len)
{
	for (uint32_t got = 0; got < len;) {
		int n = vsock_recv(c, (uint8_t *)buf + got, len - got);
		if (n < 0)
			return false;
		got += (uint32_t)n;
		if (!n) {
			vsock_wait();
			vsock_poll();
		}
	}
	return true;
}

static int open_stream(const char *mode)
{
	for (unsigned i = 0; i < CONNECT_TRIES; i++) {
		int c = vsock_connect(ECHO_CID, ECHO_PORT);
		if (c >= 0)
			return send_all(c, mode, 4) ? c : -1;
		sleep_until(timer_now() + timer_us(10000));
	}
	return -1;
}

/* ---- the measurements ---- */

static bool round_trips(int c, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		msg[0] = (uint8_t)i;
		if (!send_all(c, msg, MSG_SIZE) || !recv_all(c, reply, MSG_SIZE) || reply[0] != msg[0])
			return false;
	}
	return true;
}

/* Mean instructions per round trip, counting what `filter` selects. */
static bool time_round_trips(int c, uint64_t filter, uint64_t *per_rt)
{
	pmu_filter(filter);
	uint64_t t0 = cycles();
	if (!round_trips(c, ROUND_TRIPS))
		return false;
	*per_rt = (cycles() - t0 + ROUND_TRIPS / 2) / ROUND_TRIPS;
	return true;
}

static bool bench_round_trip(void)
{
	uint64_t all, el2;
	int c = open_stream("ECHO");

	if (c < 0) {
		printf("bench: vsock_rt n/a (no stream to cid %u port %u)\n", ECHO_CID, ECHO_PORT);
		return false;
	}
	if (!round_trips(c, WARMUP) || !time_round_trips(c, FILTER_ALL, &all) ||
	    !time_round_trips(c, FILTER_EL2, &el2)) {
		printf("bench: vsock_rt n/a (the echo stream broke)\n");
		return false;
	}
	result("vsock_rt", all);
	result("vsock_rt_el2", el2);
	vsock_close(c);
	return true;
}

/* From the first byte sent to the sink's acknowledgement that it has read all of them. */
static void bench_bulk(void)
{
	int c = open_stream("SINK");
	uint8_t ack = 0;

	if (c < 0) {
		printf("bench: vsock_1m_el2_per_kib n/a (no sink stream)\n");
		return;
	}
	pmu_filter(FILTER_EL2);
	uint64_t t0 = cycles();
	for (uint32_t sent = 0; sent < BULK_SIZE; sent += CHUNK)
		if (!send_all(c, chunk, CHUNK))
			break;
	if (!recv_all(c, &ack, 1) || ack != 'K') {
		printf("bench: vsock_1m_el2_per_kib n/a (the sink stream broke)\n");
		return;
	}
	result("vsock_1m_el2_per_kib", (cycles() - t0) / (BULK_SIZE / 1024u));
	vsock_close(c);
}

/* The guest's own memcpy on 1 KiB, everything counted: the yardstick for the numbers above. */
static void bench_copy(void)
{
	pmu_filter(FILTER_ALL);
	uint64_t t0 = cycles();
	for (unsigned i = 0; i < COPY_REPS; i++) {
		memcpy(copy_dst, copy_src, COPY_SIZE);
		__asm__ volatile("" : : : "memory");
	}
	result("copy_1k", (cycles() - t0 + COPY_REPS / 2) / COPY_REPS);
}

int main(uint64_t boot_arg)
{
	(void)boot_arg;
	gic_init();
	gic_cpu_init();
	irq_enable();
	bench_copy();
	if (!vsock_init()) {
		printf("bench: vsock_rt n/a (no vsock device)\n");
	} else {
		printf("vsbench: cid %lu, echo at cid %u port %u\n", vsock_cid(), ECHO_CID, ECHO_PORT);
		if (bench_round_trip())
			bench_bulk();
	}
	printf("bench: done\n");
	return 0;
}
