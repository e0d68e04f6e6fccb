/* pvpack.h: the modules of the host tool that validates a config and packs the boot bundle. */
#ifndef PVPACK_H
#define PVPACK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <libfdt.h>

#include "pv/bundle.h"

/* The bundle is written straight from the host's structs, and bundle.h says little-endian. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "pvpack writes host-endian structs");

#define PVPACK_2M 0x200000ull
#define PVPACK_PAGE 0x1000ull

/* The top of every VM's RAM, from the end down: the hypervisor's PV-time records (EL2 writes
 * them; see bundle.h), then the window the guest DTB is loaded at, then the initrd. */
#define PVPACK_DTB_SIZE 0x4000ull /* 8 vCPUs and the longest bootargs need under 8 KiB */
#define PVPACK_BOOTARGS_MAX 2047u /* Linux arm64's COMMAND_LINE_SIZE, less the NUL */

/* diag.c: problems found in a config, collected so every one is reported, not just the first. */
struct diag {
	size_t count;
	char **lines; /* "<node path>: <message>" */
};
void diag_report(struct diag *d, const char *node, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void diag_print(const struct diag *d, FILE *out, const char *config_file);
void diag_free(struct diag *d);

/* A run of bytes copied from a file into a payload; the rest of the payload is zeros. */
struct piece {
	uint64_t file_offset;
	uint64_t size;
	uint64_t blob_offset;
};

#define PVPACK_MAX_SEGMENTS 8u

/* A physical device's MMIO region, and the config node of the device that has it. */
struct dev_region {
	uint64_t base, size;
	int node;
};

/* Where one VM's payloads come from. Paths and bootargs point into the config FDT, which must
 * outlive this; image_path is NULL when the image cannot be packed. */
struct vm_source {
	const void *fdt;   /* the config */
	int devices;       /* its /vms/<vm>/devices node, or -1 */
	struct dev_region regions[PVB_MAX_DEV_REGIONS]; /* as in the bundle, with their devices */
	uint32_t region_count;
	int spi_node[64];  /* the device of each SPI in the bundle's dev_spis (bit n: INTID 32+n) */
	const char *image_path;
	struct piece image_pieces[PVPACK_MAX_SEGMENTS]; /* one, except for an ELF image */
	uint32_t image_piece_count;
	uint64_t image_end; /* guest-physical end of what the image uses, with a Linux Image's bss */
	const char *initrd_path;
	const char *bootargs;
	uint8_t dtb[PVPACK_DTB_SIZE];
};

/* The board disk's GPT layout (disk.c), which pvpack prints for provisioning. */
#define PVPACK_MAX_PARTS 16u
#define DISK_RPMB "hv-rpmb"      /* the hypervisor's rollback counters: never a VM's */
#define PVPACK_COUNTER_VMS 4u    /* VMs with `rollback-counters;`: hv/core/counters.c's entries */
#define PVPACK_DISK_MAX_MIB (64u * 1024) /* 64 GiB: the whole disk, and so any partition */
struct disk_part {
	char name[PVB_PART_NAME_SIZE]; /* empty if it is bad */
	uint32_t size_mib;              /* 0 if it is bad */
	const char *fs;                 /* "ext4", or NULL; points into the config FDT */
};
struct disk_layout {
	struct disk_part parts[PVPACK_MAX_PARTS];
	uint32_t count;
};

/* A config after validation: the bundle header exactly as it will be written, plus where each
 * VM's payloads come from. */
struct pvpack_config {
	struct pvb_header header;
	struct disk_layout layout; /* the board disk's partitions: not in the bundle */
	struct vm_source src[PVB_MAX_VMS];
};

/* dts.c: run dtc; on success *fdt is a malloc'd, checked FDT blob. dtc's errors go to stderr. */
int dts_compile(const char *dts_path, void **fdt);

/* node.c: typed reads of one node's properties. Each reports a wrong size or type itself and
 * says whether the value can be used; a missing property is reported only when required. */
#define NODE_PATH_SIZE 512
struct node_ctx {
	const void *fdt;
	int offset;
	const char *path; /* for messages */
	struct diag *diag;
};
enum prop_result { PROP_ABSENT, PROP_BAD, PROP_OK };
enum prop_result node_string(const struct node_ctx *c, const char *name, int required,
			     const char **out);
enum prop_result node_u32(const struct node_ctx *c, const char *name, int required,
			  uint32_t *out);
enum prop_result node_u64(const struct node_ctx *c, const char *name, int required,
			  uint64_t *out);
enum prop_result node_range(const struct node_ctx *c, const char *name, uint64_t *base,
			    uint64_t *size);
enum prop_result node_cells(const struct node_ctx *c, const char *name, int required,
			    const fdt32_t **cells, int *count);
uint32_t node_cell(const fdt32_t *cells, int i);
/* Every character of name is a-z, 0-9 or one of extra; else reports the first other one as
 * "<what>: character 'c' is not allowed (use a-z 0-9 <extra>)" and returns 0. */
int node_name_chars(const struct node_ctx *c, const char *what, const char *name,
		    const char *extra);
void node_check_props(const struct node_ctx *c, const char *const *known, size_t known_count);
void node_check_children(const struct node_ctx *c, const char *const *allowed,
			 size_t allowed_count);
void node_child_path(char *buf, size_t size, const char *parent, const char *name);
/* The child named exactly `name` (no unit address), or -1. */
int node_subnode(const void *fdt, int parent, const char *name);
/* A string-list property, or NULL if absent or not one (reported as "<name>: must be one or
 * more strings"); *len is its size in bytes, with every NUL. */
const char *node_strings(const struct node_ctx *c, const char *name, int *len);

/* file.c: a payload file named by property `prop` can be packed: open it read-only, check it is
 * a non-empty regular file. Returns the fd (size in *size) or -1 once the problem is reported. */
int file_open(const struct node_ctx *c, const char *prop, const char *path, uint64_t *size);
void file_whole(struct piece *p, uint64_t size);
/* Reads exactly size bytes at offset, or reports why not and returns 0. */
int file_read(const struct node_ctx *c, const char *prop, const char *path, int fd, void *buf,
	      size_t size, uint64_t offset);

/* image.c: check a VM's image, load and entry (ram_ok: vm's RAM fields can be trusted), in
 * whichever format the file is; fills vm->image, vm->entry and src's image fields. Returns
 * whether the image can be packed. The format modules below report their own problems. */
int image_check(const struct node_ctx *c, struct pvb_vm *vm, struct vm_source *src, int ram_ok);

/* A format's view of the image file while it is checked. */
struct image_file {
	const char *path;
	int fd;
	uint64_t size;
	const uint8_t *head; /* the file's first head_size bytes */
	size_t head_size;
};
#define IMAGE_HEAD_SIZE 64u

/* linux.c: an arm64 Linux Image (Documentation/arch/arm64/booting.rst). */
int linux_detect(const struct image_file *f);
int linux_place(const struct node_ctx *c, const struct image_file *f, struct pvb_vm *vm,
		struct vm_source *src);

/* elf.c: an ELF64 little-endian AArch64 executable, loaded by its PT_LOAD segments. */
int elf_detect(const struct image_file *f);
int elf_place(const struct node_ctx *c, const struct image_file *f, struct pvb_vm *vm,
	      struct vm_source *src);

/* layout.c: checks the initrd file, then places the initrd, DTB and PV-time area at the top of
 * RAM (ram_ok: RAM is known), none overlapping the image (image_ok: its extent is known). Fills
 * vm->dtb.load and vm->initrd. */
void layout_check(const struct node_ctx *c, struct pvb_vm *vm, struct vm_source *src,
		  int ram_ok, int image_ok);

/* device.c: the physical devices of a VM (its `devices` node, if any) into vm->dev_regions,
 * vm->dev_spis and src (ram_ok: RAM is known, to keep the devices out of it). Each region and
 * SPI is checked against those of the VM's earlier devices; device_conflicts checks a VM's
 * against another VM's. */
#define PVPACK_COMPATIBLE_MAX 256u /* bytes, with the NULs: keeps the DTB window big enough */
void device_check(const struct node_ctx *c, struct pvb_vm *vm, struct vm_source *src,
		  int ram_ok);
void device_conflicts(const struct node_ctx *c, const struct pvb_vm *vm,
		      const struct vm_source *src, const struct pvb_vm *other,
		      const struct vm_source *other_src);

/* vsock.c: the VM's `vsock` node, if any (docs/config.md, "vsock"), into vm->cid and
 * vm->connect: its CID (explicit, or 3 + its index in /vms), unique among the VMs, and its
 * connect entries with each peer's name resolved to the peer's CID. Other VMs are read from the
 * config FDT itself, so an entry may name a later VM. Without the node, vm->cid stays 0. */
void vsock_check(const struct node_ctx *c, struct pvb_vm *vm);

/* disk.c: the board disk's GPT layout, the `/disk` node (docs/config.md, "Disks"): one child
 * per partition in disk order, each with a size in MiB and an optional file system. A VM's
 * `disks` entries name those partitions; each goes into vm->disks in order. A partition two
 * VMs share must be ":ro" in both, checked against the earlier VMs in the FDT. */
void disk_check_layout(const void *fdt, struct diag *d, struct disk_layout *layout);
void disk_check_vm(const struct node_ctx *c, struct pvb_vm *vm);
void disk_check_flash(const struct node_ctx *c, struct pvb_vm *vm);
int disk_has_part(const void *fdt, const char *name); /* /disk has a partition of that name */
/* `pvpack --partitions`: one line per partition, "<name> <size-mib> <fs or ->". */
void disk_print_layout(const struct disk_layout *layout, FILE *out);

/* net.c: the VM's `net` node, if any (docs/config.md, "Net"), into vm->net_flags, net_peers and
 * mac. Peers are VM names resolved to bundle indices and must list each other; MACs are unique
 * among the VMs, each given or derived from the VM's name. */
void net_check(const struct node_ctx *c, struct pvb_vm *vm);
/* 02 followed by the five low bytes of the 64-bit FNV-1a hash of name, most significant first. */
void net_default_mac(const char *name, uint8_t mac[6]);

/* dtb.c: the device tree a VM boots with, written into buf; returns its size or a negative
 * libfdt error. Everything it describes comes from *vm, *src (bootargs, devices) and the board
 * constants; a VM with a vsock CID, disks or a net port gets a virtio-mmio device for each, in
 * its slot (bundle.h, PVB_SLOT_*; docs/virtio.md). */
int dtb_build(const struct pvb_vm *vm, const struct vm_source *src, void *buf, size_t size);

/* vm.c: validate one /vms child into *vm and *src, including its generated DTB. */
void vm_check(const struct node_ctx *c, struct pvb_vm *vm, struct vm_source *src);
/* A VM node's position among the /vms children (every child counts): its index in the bundle,
 * which default CIDs and net peers are counted from. */
uint32_t vm_index(const void *fdt, int vms, int vm);
/* The /vms child whose `name` is the len bytes at name, or -1. Reads the FDT, so a VM may name a
 * later one. */
int vm_named(const void *fdt, int vms, const char *name, size_t len);

/* config.c: validate a whole config FDT into *cfg; returns the number of problems reported. */
size_t config_check(const void *fdt, struct diag *d, struct pvpack_config *cfg);

/* pack.c: where payloads go, and writing the bundle atomically. pack_place returns the offset
 * of a payload of `size` bytes placed at *cursor (0 if size is 0) and moves the cursor past it;
 * pack_end is the bundle size when the cursor is past the last payload. */
uint64_t pack_place(uint64_t *cursor, uint64_t size);
uint64_t pack_end(uint64_t cursor);
int pack_write(const struct pvpack_config *cfg, const char *out_path);
/* The bundle into the open file fd (named out_path in messages); 1 on success, else 0 with the
 * reason printed. */
int pack_contents(int fd, const struct pvpack_config *cfg, const char *out_path);

/* measure.c: `--measure`: "hypervisor HEX" (with hv_path, the EL2 image pocketvisor.bin) and
 * "vm NAME HEX" for each VM, the values the hypervisor reports (docs/attestation.md). 0, or -1
 * with the reason printed. */
int measure_print(const struct pvpack_config *cfg, const char *hv_path, FILE *out);

#endif
