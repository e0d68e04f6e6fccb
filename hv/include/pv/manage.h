/* manage.h: the management service (docs/manage.md): a vsock endpoint at CID 2 that VMs with
 * `manages` talk to, and the lifecycle operations it carries out. */
#ifndef PV_MANAGE_H
#define PV_MANAGE_H

#include <pv/manage_abi.h>
#include <pv/types.h>

struct vm;

/* One VM's stream to the service (it has at most one), kept by vsock.c under the virtio lock. */
struct manage_stream {
	u32 gen;    /* streams it opened so far */
	u8 open;
	u8 pending; /* a whole request waits for manage_run */
	u8 fill;    /* bytes of req received */
	u32 port;   /* the VM's end */
	u32 peer_buf_alloc, peer_fwd_cnt; /* its credit (5.10.6.3), from its latest packet */
	u32 tx_cnt; /* payload bytes sent to it */
	u32 rx_cnt; /* payload bytes taken from it: the service's fwd_cnt */
	u32 reply_len, reply_sent;
	struct pvm_req req;
	u8 reply[PVM_RESP_MAX] __attribute__((aligned(8))); /* struct pvm_info has u64s */
};

/* VMs whose stream holds a whole request (bit = VM index). */
extern u32 manage_todo;

/* Carries out the waiting requests; on any core, outside every lock, where a full exit or an
 * idle core chooses what to run next (sched_next). Each answer goes back through vsock. */
void manage_run(void);
/* vsock.c, virtio lock held: what is left of the answer in vm's stream goes as far as its
 * credit and rx buffers allow. */
void vsock_host_flush(struct vm *vm);
/* The answer to the request of stream number gen, len bytes, is in vm->mgmt.reply: it goes
 * unless that stream is gone. */
void vsock_host_answer(struct vm *vm, u32 gen, u32 len);
/* The service's reply formats (manage.c), exposed for the unit tests. */
u32 manage_serve(struct vm *caller, const struct pvm_req *req, u8 *out);

#endif
