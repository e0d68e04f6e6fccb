/* vsock.c: a VM's vsock node: its CID, and the peers it may open streams to (default deny). */
#include <string.h>

#include "pvpack.h"

static const char *const vsock_props[] = { "cid", "connect" };

/* Linux's VMADDR_CID_ANY (and VMADDR_PORT_ANY): a socket bound to it means "any", so no VM can
 * be it, and no port rule can name it as a single port. */
#define CID_ANY 0xffffffffu
#define PORT_MAX (PVB_PORT_ANY - 1)

static int vsock_node(const void *fdt, int vm)
{
	return node_subnode(fdt, vm, "vsock");
}

/* A VM's CID as its config gives it: 0 without a vsock node, or when its cid is not one cell
 * (reported on that VM). Read from the FDT, so a VM can name a later one. */
static uint32_t cid_of(const void *fdt, int vms, int vm, int *is_default)
{
	int vsock = vsock_node(fdt, vm), len;
	*is_default = 0;
	if (vsock < 0)
		return 0;
	const fdt32_t *cid = fdt_getprop(fdt, vsock, "cid", &len);
	if (!cid) {
		*is_default = 1;
		return PVB_CID_FIRST_VM + vm_index(fdt, vms, vm);
	}
	return len == 4 ? fdt32_ld(cid) : 0;
}

/* Two VMs with one CID would make the source CID the hypervisor stamps ambiguous: the later VM
 * is the one reported, as for names. */
static void check_cid_unique(const struct node_ctx *c, int vms, int vm, uint32_t cid,
			     int is_default)
{
	int other, other_default;
	fdt_for_each_subnode(other, c->fdt, vms) {
		if (other == vm)
			return;
		if (cid_of(c->fdt, vms, other, &other_default) != cid)
			continue;
		if (is_default)
			diag_report(c->diag, c->path, "cid: %u (the default: 3 + its index in /vms) is "
				    "already used by /vms/%s", cid, fdt_get_name(c->fdt, other, NULL));
		else
			diag_report(c->diag, c->path, "cid: %u is already used by /vms/%s", cid,
				    fdt_get_name(c->fdt, other, NULL));
		return;
	}
}

/* CIDs 0 and 1 are the hypervisor's in vsock's numbering (0 "hypervisor", 1 "local") and 2 is
 * ours (PVB_CID_HOST): a VM with one of them could pose as the hypervisor to its peers. */
static void check_cid(const struct node_ctx *c, int vms, int vm_node, struct pvb_vm *vm)
{
	uint32_t cid;
	int is_default;
	if (node_u32(c, "cid", 0, &cid) == PROP_BAD)
		return;
	cid = cid_of(c->fdt, vms, vm_node, &is_default);
	if (cid < PVB_CID_FIRST_VM || cid == CID_ANY) {
		diag_report(c->diag, c->path, "cid: %u is not in %u..%u", cid, PVB_CID_FIRST_VM,
			    CID_ANY - 1);
		return;
	}
	vm->cid = cid;
	check_cid_unique(c, vms, vm_node, cid, is_default);
}

/* ---- connect entries: "VMNAME:PORT" or "VMNAME:*", decoded without side effects so earlier
 * entries can be decoded again to find duplicates. */

enum entry_result { ENTRY_OK, ENTRY_NO_COLON, ENTRY_BAD_PORT, ENTRY_NO_VM, ENTRY_SELF,
		    ENTRY_NO_VSOCK };

struct entry {
	int peer; /* its VM node */
	struct pvb_vsock_rule rule;
};

/* Decimal digits only (no sign, no spaces, no 0x): a port is a number people read in logs. */
static int port_decode(const char *s, uint32_t *port)
{
	uint64_t v = 0;
	if (strcmp(s, "*") == 0) {
		*port = PVB_PORT_ANY;
		return 1;
	}
	if (!*s)
		return 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return 0;
		v = v * 10 + (uint64_t)(*s - '0'); /* v <= PORT_MAX here: cannot overflow */
		if (v > PORT_MAX)
			return 0;
	}
	*port = (uint32_t)v;
	return 1;
}

static enum entry_result entry_decode(const void *fdt, int vms, int self, const char *text,
				      struct entry *e)
{
	const char *colon = strchr(text, ':');
	int is_default;
	*e = (struct entry){ -1, { 0, 0 } };
	if (!colon)
		return ENTRY_NO_COLON;
	if (!port_decode(colon + 1, &e->rule.port))
		return ENTRY_BAD_PORT;
	e->peer = vm_named(fdt, vms, text, (size_t)(colon - text));
	if (e->peer < 0)
		return ENTRY_NO_VM;
	if (e->peer == self)
		return ENTRY_SELF;
	if (vsock_node(fdt, e->peer) < 0)
		return ENTRY_NO_VSOCK;
	e->rule.cid = cid_of(fdt, vms, e->peer, &is_default); /* if it is bad, the peer says so */
	return ENTRY_OK;
}

static void report_entry(const struct node_ctx *c, const char *text, enum entry_result r,
			 int peer)
{
	switch (r) {
	case ENTRY_OK:
		break;
	case ENTRY_NO_COLON:
		diag_report(c->diag, c->path, "connect: \"%s\" is not \"<vm>:<port>\" or \"<vm>:*\"",
			    text);
		break;
	case ENTRY_BAD_PORT:
		diag_report(c->diag, c->path, "connect: \"%s\" has a bad port (use a decimal number "
			    "in 0..%u, or *)", text, PORT_MAX);
		break;
	case ENTRY_NO_VM:
		diag_report(c->diag, c->path, "connect: \"%s\" names no VM", text);
		break;
	case ENTRY_SELF:
		diag_report(c->diag, c->path, "connect: \"%s\" names this VM itself", text);
		break;
	case ENTRY_NO_VSOCK:
		diag_report(c->diag, c->path, "connect: \"%s\" names /vms/%s, which has no vsock node",
			    text, fdt_get_name(c->fdt, peer, NULL));
		break;
	}
}

/* A rule that allows nothing new is a config mistake (often a copy-paste of the wrong line):
 * the same peer and port again, or a port of a peer that "*" already allows, or the reverse.
 * Returns the earlier entry it repeats, or NULL. */
static const char *find_repeat(const void *fdt, int vms, int self, const char *list,
			       const char *text, const struct entry *e)
{
	for (const char *prev = list; prev < text; prev += strlen(prev) + 1) {
		struct entry p;
		if (entry_decode(fdt, vms, self, prev, &p) != ENTRY_OK || p.peer != e->peer)
			continue;
		if (p.rule.port == e->rule.port || p.rule.port == PVB_PORT_ANY ||
		    e->rule.port == PVB_PORT_ANY)
			return prev;
	}
	return NULL;
}

static void check_connect(const struct node_ctx *c, int vms, int vm_node, struct pvb_vm *vm)
{
	int len;
	uint32_t count = 0;
	const char *list = node_strings(c, "connect", &len);
	if (!list)
		return; /* default deny: the VM can only accept streams */
	for (const char *text = list; text < list + len; text += strlen(text) + 1, count++) {
		struct entry e;
		enum entry_result r = entry_decode(c->fdt, vms, vm_node, text, &e);
		const char *repeat = r == ENTRY_OK ? find_repeat(c->fdt, vms, vm_node, list, text, &e)
						   : NULL;
		report_entry(c, text, r, e.peer);
		if (repeat && strcmp(repeat, text) == 0)
			diag_report(c->diag, c->path, "connect: \"%s\" is listed twice", text);
		else if (repeat)
			diag_report(c->diag, c->path, "connect: \"%s\" overlaps \"%s\"", text, repeat);
		else if (r == ENTRY_OK && vm->rule_count < PVB_MAX_VSOCK_RULES)
			vm->connect[vm->rule_count++] = e.rule;
	}
	if (count > PVB_MAX_VSOCK_RULES)
		diag_report(c->diag, c->path, "connect: has %u entries, at most %u are allowed", count,
			    PVB_MAX_VSOCK_RULES);
}

void vsock_check(const struct node_ctx *vc, struct pvb_vm *vm)
{
	char path[NODE_PATH_SIZE];
	int vsock = vsock_node(vc->fdt, vc->offset);
	int vms = fdt_parent_offset(vc->fdt, vc->offset);
	if (vsock < 0 || vms < 0)
		return; /* no device, and no peer can name it */
	node_child_path(path, sizeof(path), vc->path, "vsock");
	struct node_ctx c = { vc->fdt, vsock, path, vc->diag };
	node_check_props(&c, vsock_props, sizeof(vsock_props) / sizeof(vsock_props[0]));
	node_check_children(&c, NULL, 0);
	check_cid(&c, vms, vc->offset, vm);
	check_connect(&c, vms, vc->offset, vm);
}
