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

/* diag.c: problems found in a config, collected so every one is reported, not just the first. */
struct diag {
	size_t count;
	char **lines; /* "<node path>: <message>" */
};
void diag_report(struct diag *d, const char *node, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void diag_print(const struct diag *d, FILE *out, const char *config_file);
void diag_free(struct diag *d);

/* A config after validation: the bundle header exactly as it will be written, plus where each
 * VM's image comes from. image_path points into the FDT, which must outlive this. */
struct pvpack_config {
	struct pvb_header header;
	const char *image_path[PVB_MAX_VMS];
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
void node_check_props(const struct node_ctx *c, const char *const *known, size_t known_count);
void node_check_children(const struct node_ctx *c, const char *allowed);
void node_child_path(char *buf, size_t size, const char *parent, const char *name);

/* image.c: check a VM's image file, load and entry (ram_ok: vm's RAM fields can be trusted);
 * fills vm->image and vm->entry and returns the image's path if it can be packed. */
const char *image_check(const struct node_ctx *c, struct pvb_vm *vm, int ram_ok);

/* vm.c: validate one /vms child into *vm; *image_path is set when the image is usable. */
void vm_check(const struct node_ctx *c, struct pvb_vm *vm, const char **image_path);

/* config.c: validate a whole config FDT into *cfg; returns the number of problems reported. */
size_t config_check(const void *fdt, struct diag *d, struct pvpack_config *cfg);

/* pack.c: where payloads go, and writing the bundle atomically. pack_place returns the offset
 * of a payload of `size` bytes placed at *cursor (0 if size is 0) and moves the cursor past it;
 * pack_end is the bundle size when the cursor is past the last payload. */
uint64_t pack_place(uint64_t *cursor, uint64_t size);
uint64_t pack_end(uint64_t cursor);
int pack_write(const struct pvpack_config *cfg, const char *out_path);

#endif
