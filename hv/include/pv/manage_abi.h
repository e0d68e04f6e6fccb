/* manage_abi.h: the management service's wire format (docs/manage.md), shared by the hypervisor
 * (hv/core/manage.c) and pvctl (guests/linux/pvctl.c). One vsock stream to CID 2 port PVM_PORT;
 * the client sends one request, reads its whole response, then may send the next. Everything is
 * little-endian; names are NUL-padded. */
#ifndef PV_MANAGE_ABI_H
#define PV_MANAGE_ABI_H

#include <stdint.h>

#define PVM_CID 2u           /* the hypervisor: the host, by vsock convention */
#define PVM_PORT 700u
#define PVM_MAGIC 0x314d5650u /* "PVM1" in memory order */
#define PVM_NAME_SIZE 16u     /* as the bundle's names: at most 15 bytes and a NUL */

enum pvm_op {
	PVM_LIST = 1, /* payload: one struct pvm_vm per VM the caller manages, in config order */
	PVM_INFO,     /* name; payload: struct pvm_info, then info.vm.vcpus struct pvm_vcpu */
	PVM_START,    /* name: an off VM boots from its images */
	PVM_STOP,     /* name: power off; its RAM is zeroed */
	PVM_RESET,    /* name: a clean reboot from its images (RAM zeroed) */
	PVM_PAUSE,    /* name: its vCPUs are no longer scheduled */
	PVM_RESUME,   /* name */
	PVM_SET_CPUS, /* name, arg: the physical cores its vCPUs may run on (bit n = core n) */
	PVM_LOG,      /* arg: a position in the log; payload: struct pvm_log, then its bytes */
};

/* 28 bytes. magic PVM_MAGIC; LIST and LOG ignore name, and only LOG and SET_CPUS read arg. */
struct pvm_req {
	uint32_t magic;
	uint32_t op;
	uint32_t arg;
	char name[PVM_NAME_SIZE];
};

/* 16 bytes, then len bytes of payload (none unless status is 0). */
struct pvm_resp {
	uint32_t magic;
	uint32_t op; /* the request's */
	int32_t status;
	uint32_t len;
};

/* status */
#define PVM_OK 0
#define PVM_E_REQUEST (-1) /* malformed: bad magic */
#define PVM_E_OP (-2)      /* unknown operation */
#define PVM_E_NO_VM (-3)   /* no VM of that name (a name not NUL-padded names none) */
#define PVM_E_DENIED (-4)  /* the caller's `manages` does not name it */
#define PVM_E_STATE (-5)   /* the VM is not in a state the operation applies to */
#define PVM_E_ARG (-6)     /* set-cpus: no core, or a core that does not exist or is offline */

/* struct pvm_vm.state */
enum pvm_state { PVM_OFF, PVM_RUNNING, PVM_STOPPING, PVM_PAUSED, PVM_BROKEN /* never built */ };

struct pvm_vm { /* 32 bytes */
	char name[PVM_NAME_SIZE];
	uint32_t state;
	uint32_t vcpus;
	uint32_t ram_mib;
	uint32_t cid; /* 0: no vsock device */
};

/* Since the VM last started. exits[ec]: synchronous exits by exception class (ESR_EL2.EC: 0x01
 * WFI/WFE, 0x16 HVC, 0x17 SMC, 0x18 MSR/MRS, 0x20 instruction abort, 0x24 data abort, i.e.
 * MMIO), except the SMCCC Arm-range calls the entry code answers at once; irq_exits: physical
 * interrupts taken while it ran, except its virtual timer's, which the entry code forwards. */
struct pvm_vcpu { /* 288 bytes */
	uint64_t run_ticks;   /* counter ticks a core held it */
	uint64_t steal_ticks; /* ticks it was ready but had no core, since it powered on */
	uint32_t irq_exits;
	uint32_t last_esr;    /* ESR_EL2 of its last synchronous exit */
	uint32_t cpu;         /* the core it is on, or last ran on */
	uint32_t reserved;
	uint32_t exits[64];
};

/* A VM's counters since it last started, as the hypervisor keeps them. */
struct pvm_counters { /* 20 bytes */
	uint32_t vsock_connects, vsock_refused; /* streams it opened; its opens refused */
	uint32_t irqs;                          /* virtual interrupts it was given (put in a list
						 * register pending), but its virtual timer's */
	uint32_t disk_reads, disk_writes;       /* requests, every disk of it */
};

/* Frames through its virtio-net port since the device booted: sent, received, and dropped
 * because the source MAC was not its own, the policy forbids the destination, or the receiver
 * had no buffer. */
struct pvm_net { /* 20 bytes */
	uint32_t tx, rx, drop_spoof, drop_policy, drop_full;
};

struct pvm_info { /* 128 bytes */
	struct pvm_vm vm;
	uint64_t freq;         /* counter ticks per second */
	uint64_t uptime_ticks; /* since it last started; 0 when off */
	uint32_t starts;       /* boots since the device booted (the first included) */
	uint32_t tables_free;  /* the hypervisor's free stage-2 table pages (one pool for all) */
	uint32_t cpu_mask;     /* cores its vCPUs may run on */
	struct pvm_counters c;
	struct pvm_net net;
	uint32_t reserved[7];
};

/* LOG: the hypervisor's log is a ring of PVM_LOG_RING bytes of text lines; positions count
 * every byte ever written. The payload holds [max(arg, first), next), at most PVM_LOG_CHUNK
 * bytes of it: ask again from the last position + the bytes received until it equals next. */
#define PVM_LOG_RING 8192u
#define PVM_LOG_CHUNK 1024u
struct pvm_log {
	uint32_t first; /* the oldest position the ring still holds */
	uint32_t next;  /* the position the next byte will have */
	uint32_t from;  /* the position of the payload's first byte */
	uint32_t reserved;
};

/* The longest response: an INFO of 8 vCPUs (a LOG chunk is 16 + 16 + 1024). */
#define PVM_RESP_MAX (16u + 128u + 8u * 288u)

_Static_assert(sizeof(struct pvm_req) == 28, "pvm_req is 28 bytes");
_Static_assert(sizeof(struct pvm_resp) == 16, "pvm_resp is 16 bytes");
_Static_assert(sizeof(struct pvm_vm) == 32, "pvm_vm is 32 bytes");
_Static_assert(sizeof(struct pvm_vcpu) == 288, "pvm_vcpu is 288 bytes");
_Static_assert(sizeof(struct pvm_info) == 128, "pvm_info is 128 bytes");
_Static_assert(sizeof(struct pvm_counters) == 20 && sizeof(struct pvm_net) == 20,
	       "pvm_counters and pvm_net are 20 bytes");
_Static_assert(sizeof(struct pvm_log) == 16, "pvm_log is 16 bytes");

#endif
