/* sealer: asks the hypervisor for what pocketvisor's identity calls give a VM (docs/abi.md) and
 * prints it, for tests/system/test_identity.py to check against the host's own computation:
 * the service's UID, the hypervisor's and its own measurement, its sealing keys for two labels,
 * a label too long, and the measurement of every other CID from 3 to 6 (which only a VM with
 * `attester;` may read), then its rollback counters: the device's boot count, its counter 0 after
 * adding one, and an add to the boot count (read only). Then the cost of each, in counter ticks (x16 instructions under
 * `-icount shift=0`: make bench's identity rows): a measurement taken the first time and again,
 * and a key from measurements already taken. */
#include "guest.h"

#define PV_CALL_UID 0x8600ff01u
#define CID_HOST 2u

/* The 32 bytes in r[1..4], in memory order. */
static void print_hex32(const uint64_t *r)
{
	const uint8_t *b = (const uint8_t *)&r[1];
	for (unsigned i = 0; i < 32; i++)
		printf("%02x", b[i]);
}

static void measurement(const char *what, uint64_t cid)
{
	uint64_t r[7] = { 0, cid, 0, 0, 0, 0, 0 };
	int64_t e = pv_call(PV_MEASUREMENT, r);
	if (e) {
		printf("sealer: %s refused %ld\n", what, e);
		return;
	}
	char name[17];
	memcpy(name, &r[5], 16);
	name[16] = 0;
	printf("sealer: %s %s ", what, name);
	print_hex32(r);
	printf("\n");
}

static void key(const char *label)
{
	uint64_t r[7] = { 0 };
	size_t n = strlen(label);
	memcpy(&r[1], label, n);
	r[5] = n;
	int64_t e = pv_call(PV_SEAL_KEY, r);
	if (e) {
		printf("sealer: key %s refused %ld\n", label, e);
		return;
	}
	printf("sealer: key %s ", label);
	print_hex32(r);
	printf("\n");
}

static void counter(unsigned index, bool add)
{
	uint64_t v;
	int64_t e = pv_counter(index, add, &v);
	if (e)
		printf("sealer: counter %u refused %ld\n", index, e);
	else
		printf("sealer: counter %u %lu\n", index, v);
}

int main(uint64_t boot_arg)
{
	(void)boot_arg;
	uint64_t r[7] = { 0 };
	pv_call(PV_CALL_UID, r);
	printf("sealer: uid %08lx %08lx %08lx %08lx\n", r[0] & 0xffffffffu, r[1] & 0xffffffffu,
	       r[2] & 0xffffffffu, r[3] & 0xffffffffu);
	uint64_t start = timer_now(), rs[7] = { 0 };
	pv_call(PV_MEASUREMENT, rs); /* the first of its own: its images are hashed now */
	uint64_t first = timer_now() - start;
	measurement("hypervisor", CID_HOST);
	measurement("self", 0);
	key("wallet");
	key("drm");
	key("0123456789abcdef0123456789abcdef!"); /* 33 bytes: one too many */
	for (unsigned cid = 3; cid <= 6; cid++) {
		char what[8] = "cid ?";
		what[4] = (char)('0' + cid);
		measurement(what, cid);
	}
	counter(PV_COUNTER_BOOT, false);
	counter(0, true);
	counter(PV_COUNTER_BOOT, true);
	uint64_t t0 = timer_now(), r2[7] = { 0 };
	pv_call(PV_MEASUREMENT, r2); /* the caller's own: measured already, above */
	uint64_t t1 = timer_now();
	r2[5] = 6;
	memcpy(&r2[1], "wallet", 6);
	pv_call(PV_SEAL_KEY, r2);
	uint64_t t2 = timer_now();
	printf("sealer: ticks first %lu again %lu key %lu\n", first, t1 - t0, t2 - t1);
	printf("sealer: done\n");
	psci_system_off();
	return 0;
}
