/* spinlock.h: a test-and-test-and-set lock; EL2 runs with the MMU on, so exclusives work. */
#ifndef PV_SPINLOCK_H
#define PV_SPINLOCK_H

#include <pv/types.h>

struct spinlock {
	u32 taken;
};

static inline void spin_lock(struct spinlock *l)
{
	while (__atomic_exchange_n(&l->taken, 1u, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&l->taken, __ATOMIC_RELAXED))
			;
}

static inline bool spin_trylock(struct spinlock *l)
{
	return !__atomic_load_n(&l->taken, __ATOMIC_RELAXED) &&
	       !__atomic_exchange_n(&l->taken, 1u, __ATOMIC_ACQUIRE);
}

/* Inline: one STLR is less than the call to it. */
static inline __attribute__((always_inline)) void spin_unlock(struct spinlock *l)
{
	__atomic_store_n(&l->taken, 0u, __ATOMIC_RELEASE);
}

#endif
