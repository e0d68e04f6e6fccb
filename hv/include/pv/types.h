/* types.h: basic types, address kinds the compiler can tell apart, and small helpers. */
#ifndef PV_TYPES_H
#define PV_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t u64;
typedef uint32_t u32;
typedef uint16_t u16;
typedef uint8_t u8;
typedef int64_t s64;
typedef int32_t s32;

/* Host-physical and guest-physical addresses are different kinds: mixing them is a compile error.
 * The hypervisor maps host RAM 1:1, so a paddr_t is also the hypervisor's virtual address. */
typedef struct { u64 pa; } paddr_t;
typedef struct { u64 ipa; } ipaddr_t;

static inline paddr_t pa_init(u64 pa) { return (paddr_t){ pa }; }
static inline ipaddr_t ipa_init(u64 ipa) { return (ipaddr_t){ ipa }; }
static inline void *pa_ptr(paddr_t pa) { return (void *)(uintptr_t)pa.pa; }
static inline paddr_t pa_add(paddr_t pa, u64 n) { return (paddr_t){ pa.pa + n }; }

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define BIT(n) ((u64)1 << (n))
#define KiB(n) ((u64)(n) << 10)
#define MiB(n) ((u64)(n) << 20)
#define ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((u64)(a) - 1))
#define IS_ALIGNED(x, a) (((x) & ((u64)(a) - 1)) == 0)
/* Field helpers for hardware layouts: FIELD(v, hi, lo) reads bits hi..lo. */
#define FIELD(v, hi, lo) (((u64)(v) >> (lo)) & (((u64)2 << ((hi) - (lo))) - 1))

/* [base, base+size) contains [a, a+n)? Written so that no sum can overflow. */
static inline bool range_contains(u64 base, u64 size, u64 a, u64 n)
{
	return a >= base && a - base <= size && n <= size - (a - base);
}

#endif
