/* net.c: a VM's net node: its port on the hypervisor's switch, uplink, peers and MAC. */
#include <string.h>

#include "pvpack.h"

static const char *const net_props[] = { "uplink", "peers", "mac" };

#define MAC_SIZE 6
#define MAC_TEXT_SIZE 18 /* "xx:xx:xx:xx:xx:xx" */

/* FNV-1a, 64 bits (the offset basis and prime of draft-eastlake-fnv). */
#define FNV64_BASIS 0xcbf29ce484222325ull
#define FNV64_PRIME 0x100000001b3ull

static int net_node(const void *fdt, int vm)
{
	return node_subnode(fdt, vm, "net");
}

/* 02: locally administered, unicast, so it cannot clash with a real NIC's address; the rest
 * from the name, so the MAC (and the DHCP lease behind it) stays put across rebuilds. */
void net_default_mac(const char *name, uint8_t mac[6])
{
	uint64_t h = FNV64_BASIS;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * FNV64_PRIME;
	mac[0] = 0x02;
	for (int i = 1; i < MAC_SIZE; i++)
		mac[i] = (uint8_t)(h >> (8 * (MAC_SIZE - 1 - i)));
}

static const char *mac_text(const uint8_t *mac, char buf[MAC_TEXT_SIZE])
{
	snprintf(buf, MAC_TEXT_SIZE, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
		 mac[3], mac[4], mac[5]);
	return buf;
}

/* The switch forwards by destination MAC, and a multicast or zero source would have it flood
 * or drop: neither can be a port's own address. */
static int mac_valid(const uint8_t *mac)
{
	static const uint8_t zero[MAC_SIZE];
	return !(mac[0] & 1) && memcmp(mac, zero, MAC_SIZE) != 0;
}

/* A VM's MAC as its config gives it, read from the FDT so any VM can be compared: 0 without a
 * net node, or when its mac or name is bad (reported on that VM). */
static int mac_of(const void *fdt, int vm, uint8_t mac[6], int *is_default)
{
	int net = net_node(fdt, vm), len;
	*is_default = 0;
	if (net < 0)
		return 0;
	const uint8_t *given = fdt_getprop(fdt, net, "mac", &len);
	if (given) {
		memcpy(mac, given, len == MAC_SIZE ? MAC_SIZE : 0);
		return len == MAC_SIZE && mac_valid(mac);
	}
	const char *name = fdt_getprop(fdt, vm, "name", &len);
	if (!name || len < 2 || memchr(name, '\0', (size_t)len) != name + len - 1)
		return 0;
	*is_default = 1;
	net_default_mac(name, mac);
	return 1;
}

/* Two ports with one MAC would make the switch deliver one VM's frames to the other. */
static void check_mac_unique(const struct node_ctx *c, int vms, int vm, const uint8_t *mac,
			     int is_default)
{
	int other, other_default;
	fdt_for_each_subnode(other, c->fdt, vms) {
		uint8_t theirs[MAC_SIZE];
		char text[MAC_TEXT_SIZE];
		if (other == vm)
			return;
		if (!mac_of(c->fdt, other, theirs, &other_default) || memcmp(theirs, mac, MAC_SIZE))
			continue;
		diag_report(c->diag, c->path, "mac: %s%s is already used by /vms/%s",
			    mac_text(mac, text), is_default ? " (the default, from the VM's name)" : "",
			    fdt_get_name(c->fdt, other, NULL));
		return;
	}
}

static void check_mac(const struct node_ctx *c, int vms, int vm_node, struct pvb_vm *vm)
{
	int len, is_default;
	uint8_t mac[MAC_SIZE];
	char text[MAC_TEXT_SIZE];
	const uint8_t *given = fdt_getprop(c->fdt, c->offset, "mac", &len);
	if (given && len != MAC_SIZE) {
		diag_report(c->diag, c->path, "mac: must be 6 bytes [xx xx xx xx xx xx], not %d bytes",
			    len);
		return;
	}
	if (given && (given[0] & 1))
		diag_report(c->diag, c->path, "mac: %s is a multicast address (bit 0 of the first "
			    "byte must be clear)", mac_text(given, text));
	else if (given && !mac_valid(given))
		diag_report(c->diag, c->path, "mac: %s is not a valid address",
			    mac_text(given, text));
	if (!mac_of(c->fdt, vm_node, mac, &is_default))
		return;
	memcpy(vm->mac, mac, MAC_SIZE);
	check_mac_unique(c, vms, vm_node, mac, is_default);
}

/* `uplink;` is a flag, as `pmu;` is: a value would suggest it means something. */
static void check_uplink(const struct node_ctx *c, struct pvb_vm *vm)
{
	int len;
	if (!fdt_getprop(c->fdt, c->offset, "uplink", &len))
		return;
	if (len != 0)
		diag_report(c->diag, c->path, "uplink: is a flag and takes no value (write "
			    "\"uplink;\")");
	else
		vm->net_flags |= PVB_NET_UPLINK;
}

/* ---- peers: VM names, resolved to bundle indices */

static int lists_name(const void *fdt, int net, const char *name)
{
	return fdt_stringlist_search(fdt, net, "peers", name) >= 0;
}

/* Returns the peer's node if the entry is good, else -1 once it is reported. self_name is the
 * VM's checked name, empty if it is bad (then mutuality cannot be judged). */
static int check_peer(const struct node_ctx *c, int vms, int self, const char *self_name,
		      const char *text)
{
	int peer = vm_named(c->fdt, vms, text, strlen(text));
	if (peer < 0)
		diag_report(c->diag, c->path, "peers: \"%s\" names no VM", text);
	else if (peer == self)
		diag_report(c->diag, c->path, "peers: \"%s\" names this VM itself", text);
	else if (net_node(c->fdt, peer) < 0)
		diag_report(c->diag, c->path, "peers: \"%s\" names /vms/%s, which has no net node",
			    text, fdt_get_name(c->fdt, peer, NULL));
	/* The switch needs both ends to agree, and a one-sided entry is a config mistake that
	 * would otherwise silently allow nothing. */
	else if (self_name[0] && !lists_name(c->fdt, net_node(c->fdt, peer), self_name))
		diag_report(c->diag, c->path, "peers: \"%s\" does not list \"%s\" in its own peers "
			    "(peers must be mutual)", text, self_name);
	else
		return peer;
	return -1;
}

static void check_peers(const struct node_ctx *c, int vms, int self, struct pvb_vm *vm)
{
	int len;
	const char *list = node_strings(c, "peers", &len);
	if (!list)
		return; /* default: no peers */
	for (const char *text = list; text < list + len; text += strlen(text) + 1) {
		int twice = 0;
		for (const char *prev = list; prev < text; prev += strlen(prev) + 1)
			twice |= strcmp(prev, text) == 0;
		if (twice) {
			diag_report(c->diag, c->path, "peers: \"%s\" is listed twice", text);
			continue;
		}
		int peer = check_peer(c, vms, self, vm->name, text);
		uint32_t index = peer < 0 ? PVB_MAX_VMS : vm_index(c->fdt, vms, peer);
		if (index < PVB_MAX_VMS) /* past the 8th VM, the VM count is reported */
			vm->net_peers |= 1u << index;
	}
}

void net_check(const struct node_ctx *vc, struct pvb_vm *vm)
{
	char path[NODE_PATH_SIZE];
	int net = net_node(vc->fdt, vc->offset);
	int vms = fdt_parent_offset(vc->fdt, vc->offset);
	if (net < 0 || vms < 0)
		return; /* no port on the switch */
	node_child_path(path, sizeof(path), vc->path, "net");
	struct node_ctx c = { vc->fdt, net, path, vc->diag };
	node_check_props(&c, net_props, sizeof(net_props) / sizeof(net_props[0]));
	node_check_children(&c, NULL, 0);
	vm->net_flags = PVB_NET_PORT;
	check_uplink(&c, vm);
	check_peers(&c, vms, vc->offset, vm);
	check_mac(&c, vms, vc->offset, vm);
}
