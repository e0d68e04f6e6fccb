/* pv.c: pocketvisor's identity calls (docs/abi.md, "pocketvisor's own calls"): sealing keys and
 * measurements, arguments in x1..x5 and results in x0..x6. */
#include "guest.h"

/* SMCCC 1.2 style: more result registers than 1.1's four; x7..x17 may change too. */
int64_t pv_call(uint32_t fid, uint64_t r[7])
{
	register uint64_t x0 __asm__("x0") = fid;
	register uint64_t x1 __asm__("x1") = r[1], x2 __asm__("x2") = r[2], x3 __asm__("x3") = r[3];
	register uint64_t x4 __asm__("x4") = r[4], x5 __asm__("x5") = r[5], x6 __asm__("x6") = r[6];
	__asm__ volatile("hvc #0"
			 : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3), "+r"(x4), "+r"(x5), "+r"(x6)
			 :
			 : "memory", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14", "x15", "x16",
			   "x17");
	r[0] = x0, r[1] = x1, r[2] = x2, r[3] = x3, r[4] = x4, r[5] = x5, r[6] = x6;
	return fid & (1u << 30) ? (int64_t)x0 : (int32_t)(uint32_t)x0; /* SMC32: w0 only */
}

int64_t pv_seal_key(const char *label, uint8_t key[PV_KEY_SIZE])
{
	uint64_t r[7] = { 0 };
	size_t n = strlen(label);

	if (n > PV_KEY_SIZE)
		return PSCI_INVALID_PARAMETERS;
	memcpy(&r[1], label, n);
	r[5] = n;
	int64_t e = pv_call(PV_SEAL_KEY, r);
	if (!e)
		memcpy(key, &r[1], PV_KEY_SIZE);
	memset(r, 0, sizeof(r));
	return e;
}

int64_t pv_measurement(uint64_t cid, uint8_t measurement[PV_KEY_SIZE], char name[PV_NAME_SIZE + 1])
{
	uint64_t r[7] = { 0, cid, 0, 0, 0, 0, 0 };
	int64_t e = pv_call(PV_MEASUREMENT, r);

	if (e)
		return e;
	memcpy(measurement, &r[1], PV_KEY_SIZE);
	memcpy(name, &r[5], PV_NAME_SIZE);
	name[PV_NAME_SIZE] = '\0';
	return 0;
}

int64_t pv_counter(uint32_t index, bool add, uint64_t *value)
{
	uint64_t r[7] = { 0, index, add, 0, 0, 0, 0 };
	int64_t e = pv_call(PV_COUNTER, r);

	if (!e)
		*value = r[1];
	return e;
}
