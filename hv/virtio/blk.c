/* blk.c: virtio-blk (virtio 1.2 section 5.2) for VMs' disks. Each disk is one GPT partition of
 * the board's disk. A request is read once, checked against the partition and the VM's RAM, moved
 * into the partition and handed to the block provider with the guest's own data buffers: the
 * board's disk moves the data straight into or out of the VM's RAM. */
#include <pv/blk.h>
#include <pv/gpt.h>
#include <pv/identity.h>
#include <pv/log.h>
#include <pv/provider.h>
#include <pv/string.h>
#include <pv/vm.h>

#define T_IN PBLK_IN
#define T_OUT PBLK_OUT
#define T_FLUSH PBLK_FLUSH
#define S_OK 0u
#define S_IOERR 1u
#define S_UNSUPP 2u
#define QUEUED 0xffu
#define HDR 16u
#define SECTOR 512u
#define F_SEG_MAX BIT(2)
#define F_RO BIT(5)
#define F_FLUSH BIT(9)
#define BUSY_MAX 4u /* a disk's share of the board's slots: no VM keeps the others waiting */

struct blk_hdr {
	u32 type, reserved;
	u64 sector;
};

/* A request at the board's disk. vm NULL: free; dead: its device was reset (nothing is owed). */
static struct pending {
	struct vm *vm;
	u8 disk, dead;
	u16 head;
	u32 written;
} slot[PBLK_SLOTS];

static u32 disk_slot(const struct vm *vm, const struct vblk *b)
{
	return PVB_SLOT_DISK + (u32)(b - vm->blk);
}

static void complete(struct vm *vm, struct vblk *b, u16 head, u32 written)
{
	if (vq_push(&b->dev, 0, head, written))
		virtio_interrupt(vm, &b->dev, disk_slot(vm, b));
}

/* The data part [from, to) of the chain as buffers, into r; false if it takes too many. */
static bool slice(const struct vq_chain *c, u32 from, u32 to, struct pblk_req *r)
{
	u32 off = from, max = pblk_segs();
	/* Found once, then segment by segment: a 62-buffer request is one pass, not 62. */
	for (const struct vq_seg *s = vq_seg_at(c, &off); from < to; s++, off = 0) {
		u32 n = s->len - off < to - from ? s->len - off : to - from;
		if (r->count == max)
			return false;
		r->seg[r->count++] = (struct vq_seg){ pa_add(s->pa, off), n };
		from += n;
	}
	return true;
}

/* One request: its status, or QUEUED once the board's disk has it. */
static u32 request(struct vm *vm, struct vblk *b, const struct vq_chain *c, u32 tag,
		   u32 *written)
{
	struct blk_hdr h;
	static struct pblk_req r; /* 4 KiB: not on a stack; virtio_lock is held */
	r.sector = 0, r.count = 0; /* type: set below before anything is submitted */
	u32 end = (u32)c->len - 1, off = end; /* the status byte: the chain's last */
	vq_read(&h, c, 0, HDR);
	const struct vq_seg *st = vq_seg_at(c, &off); /* before off is read: it sets off */
	r.status = pa_add(st->pa, off);
	if (h.type == T_FLUSH) {
		r.type = T_FLUSH;
	} else if (h.type == T_IN || h.type == T_OUT) {
		u32 out = (u32)c->out_len; /* run() kept the chain under 4 GiB */
		u32 from = h.type == T_IN ? out : HDR, to = h.type == T_IN ? end : out;
		u64 n = (to - from) / SECTOR;
		if (h.type == T_OUT && b->ro)
			return S_IOERR;
		if ((to - from) % SECTOR || h.sector > b->sectors || n > b->sectors - h.sector ||
		    !slice(c, from, to, &r))
			return S_IOERR;
		if (h.type == T_IN)
			*written = to - from + 1;
		if (!n)
			return S_OK;
		r.type = h.type;
		r.sector = b->start + h.sector;
	} else {
		return S_UNSUPP;
	}
	slot[tag] = (struct pending){ vm, (u8)(b - vm->blk), 0, c->head, *written };
	b->busy++;
	if (r.type != T_FLUSH)
		*(r.type == T_IN ? &vm->stat.disk_reads : &vm->stat.disk_writes) += 1;
	pblk_submit(&r, tag);
	return QUEUED;
}

static u32 free_slot(void)
{
	for (u32 i = 0; i < PBLK_SLOTS; i++)
		if (!slot[i].vm)
			return i;
	return PBLK_SLOTS;
}

/* Every request the ring holds, while the board's disk has room. */
static void run(struct vm *vm, struct vblk *b)
{
	struct virtio_dev *d = &b->dev;
	/* A request of 256 buffers (through an indirect table) does not fit a stack; one chain
	 * serves every disk, under virtio_lock. */
	static struct vq_seg segs[VIRTIO_TABLE_MAX];
	struct vq_chain c = { .cap = VIRTIO_TABLE_MAX, .seg = segs };
	b->wait = 0;
	while (d->live) {
		u32 tag = free_slot(), written = 1;
		if (tag == PBLK_SLOTS || b->busy == BUSY_MAX) {
			b->wait = vq_pending(vm, d, 0) != 0; /* walked when there is room */
			return;
		}
		if (!vq_peek(vm, d, 0, VQ_MIXED, &c))
			return;
		if (c.out_len < HDR || c.len == c.out_len || c.len > 0xffffffffu) {
			virtio_fail(vm, d, "request without header or status", 0);
			return;
		}
		vq_take(d, 0);
		u32 st = request(vm, b, &c, tag, &written);
		if (st != QUEUED) {
			u8 v = (u8)st;
			vq_write(&c, (u32)c.len - 1, &v, 1);
			complete(vm, b, c.head, written);
		}
	}
}

void blk_notify(struct vm *vm, struct vblk *b)
{
	run(vm, b);
}

void blk_done(u32 tag)
{
	struct pending p = slot[tag];
	struct vblk *b = &p.vm->blk[p.disk];
	slot[tag].vm = NULL;
	b->busy--;
	if (!p.dead)
		complete(p.vm, b, p.head, p.written);
	/* Room again: the disks that waited go on, each call starting one disk further on, so
	 * busy disks cannot keep the room to themselves. */
	static u32 start;
	u32 n = vm_count * PVB_MAX_DISKS;
	start++;
	for (u32 i = 0; i < n; i++) {
		u32 k = (start + i) % n;
		struct vm *vm = &vms[k / PVB_MAX_DISKS];
		struct vblk *w = &vm->blk[k % PVB_MAX_DISKS];
		if (w->wait)
			run(vm, w);
	}
}

void blk_reset(struct vm *vm, struct vblk *b)
{
	for (u32 i = 0; i < PBLK_SLOTS; i++)
		if (slot[i].vm == vm && &vm->blk[slot[i].disk] == b)
			slot[i].dead = 1;
	while (b->busy)
		pblk_poll();
	b->wait = 0;
}

u64 blk_features(const struct vblk *b)
{
	return VIRTIO_F_VERSION_1 | VIRTIO_F_INDIRECT_DESC | F_SEG_MAX | F_FLUSH | (b->ro ? F_RO : 0);
}

void blk_config(const struct vblk *b, u8 cfg[16])
{
	u32 seg_max = pblk_segs();
	memcpy(cfg, &b->sectors, 8);
	memcpy(cfg + 12, &seg_max, 4);
}

/* A GPT name (UTF-16LE) against a config's ASCII one. */
static bool name_eq(const u16 *gpt, const char *name)
{
	for (u32 i = 0; i < PVB_PART_NAME_SIZE; i++) {
		if (gpt[i] != (u8)name[i])
			return false;
		if (!name[i])
			return true;
	}
	return false;
}

/* Gives each VM's disk that names entry e its sectors. */
static void match(const struct gpt_entry *e, u64 disk_sectors)
{
	if (e->first > e->last || e->last >= disk_sectors)
		return;
	if (name_eq(e->name, "hv-rpmb")) /* the hypervisor's own: pvpack gives it to no VM */
		rpmb_start = e->first, rpmb_sectors = e->last - e->first + 1;
	for (u32 i = 0; i < vm_count; i++) /* a VM the bundle check refused has no cfg */
		for (u32 d = 0; vms[i].cfg && d < PVB_MAX_DISKS; d++) {
			const struct pvb_disk *pd = &vms[i].cfg->disks[d];
			struct vblk *b = &vms[i].blk[d];
			bool flash = pd->flags & PVB_DISK_FLASH && vms[i].cfg->flags & PVB_VM_FIRMWARE;
			if (flash && name_eq(e->name, pd->part)) {
				vms[i].flash.part_start = e->first;
				vms[i].flash.part_sectors = e->last - e->first + 1;
			} else if (pd->part[0] && !b->sectors && name_eq(e->name, pd->part)) {
				b->start = e->first;
				b->sectors = e->last - e->first + 1;
				b->dev.type = VIRTIO_ID_BLK;
				b->ro = (u8)(pd->flags & PVB_DISK_RO);
			}
		}
}

void blk_attach(void)
{
	static u8 buf[SECTOR] __attribute__((aligned(8)));
	const struct gpt_header *h = (const void *)buf;
	u64 sectors = pblk_sectors();
	if (sectors > 2 && pblk_sync(PBLK_IN, 1, buf) && !memcmp(h->sig, GPT_SIGNATURE, 8) &&
	    h->entry_size == sizeof(struct gpt_entry) && h->count <= 128) {
		u64 lba = h->entries;
		u32 count = h->count;
		for (u32 i = 0; i < count; i++) {
			if (i % 4 == 0 && !pblk_sync(PBLK_IN, lba + i / 4, buf))
				break;
			match((const struct gpt_entry *)buf + i % 4, sectors);
		}
	} /* else no GPT: every VM's disk is reported missing below */
	for (u32 i = 0; i < vm_count; i++)
		for (u32 d = 0; vms[i].cfg && d < PVB_MAX_DISKS; d++) {
			const char *part = vms[i].cfg->disks[d].part;
			const struct vblk *b = &vms[i].blk[d];
			bool flash = vms[i].cfg->disks[d].flags & PVB_DISK_FLASH &&
				     vms[i].cfg->flags & PVB_VM_FIRMWARE;
			u64 n = flash ? vms[i].flash.part_sectors : b->sectors;
			if (part[0])
				log_line(n ? LOG_INFO : LOG_WARN, &vms[i],
					 "%s %u: partition %s: %lu sectors%s", flash ? "flash" : "disk",
					 d, part, n,
					 !n      ? " (not on the board's disk: no device)"
					 : b->ro ? ", read-only"
						 : "");
			if (flash && n)
				vflash_attach(&vms[i]);
		}
}
