/* node.c: a config node's typed property reads and its unknown-property and unknown-node checks. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "pvpack.h"

/* The raw value, or NULL if absent (reported only if required). */
static const void *get(const struct node_ctx *c, const char *name, int required, int *len)
{
	const void *val = fdt_getprop(c->fdt, c->offset, name, len);
	if (!val && required)
		diag_report(c->diag, c->path, "missing required property \"%s\"", name);
	return val;
}

/* A fixed number of cells; `shape` is what the user should have written. */
static enum prop_result fixed_cells(const struct node_ctx *c, const char *name, int required,
				    int cell_count, const char *shape, const fdt32_t **cells)
{
	int len;
	*cells = get(c, name, required, &len);
	if (!*cells)
		return PROP_ABSENT;
	if (len != cell_count * 4) {
		diag_report(c->diag, c->path, "%s: must be %s, not %d bytes", name, shape, len);
		return PROP_BAD;
	}
	return PROP_OK;
}

uint32_t node_cell(const fdt32_t *cells, int i)
{
	return fdt32_ld(&cells[i]); /* byte loads: property values need not be aligned */
}

static uint64_t cell_pair(const fdt32_t *cells, int i)
{
	return (uint64_t)node_cell(cells, i) << 32 | node_cell(cells, i + 1);
}

enum prop_result node_string(const struct node_ctx *c, const char *name, int required,
			     const char **out)
{
	int len;
	const char *s = get(c, name, required, &len);
	if (!s)
		return PROP_ABSENT;
	/* Exactly one NUL, at the end: a string list or cells would be misread otherwise. */
	if (len == 0 || memchr(s, '\0', (size_t)len) != s + len - 1) {
		diag_report(c->diag, c->path, "%s: must be a string", name);
		return PROP_BAD;
	}
	*out = s;
	return PROP_OK;
}

enum prop_result node_u32(const struct node_ctx *c, const char *name, int required,
			  uint32_t *out)
{
	const fdt32_t *cells;
	enum prop_result r = fixed_cells(c, name, required, 1, "one cell <n>", &cells);
	if (r == PROP_OK)
		*out = node_cell(cells, 0);
	return r;
}

enum prop_result node_u64(const struct node_ctx *c, const char *name, int required,
			  uint64_t *out)
{
	const fdt32_t *cells;
	enum prop_result r = fixed_cells(c, name, required, 2, "two cells <hi lo>", &cells);
	if (r == PROP_OK)
		*out = cell_pair(cells, 0);
	return r;
}

enum prop_result node_range(const struct node_ctx *c, const char *name, uint64_t *base,
			   uint64_t *size)
{
	const fdt32_t *cells;
	enum prop_result r = fixed_cells(c, name, 1, 4,
					 "four cells <base-hi base-lo size-hi size-lo>", &cells);
	if (r == PROP_OK) {
		*base = cell_pair(cells, 0);
		*size = cell_pair(cells, 2);
	}
	return r;
}

enum prop_result node_cells(const struct node_ctx *c, const char *name, int required,
			    const fdt32_t **cells, int *count)
{
	int len;
	*cells = get(c, name, required, &len);
	if (!*cells)
		return PROP_ABSENT;
	if (len % 4 != 0) {
		diag_report(c->diag, c->path, "%s: must be a list of cells <a b ...>, not %d bytes",
			    name, len);
		return PROP_BAD;
	}
	*count = len / 4;
	return PROP_OK;
}

/* Strictness: a misspelt optional property would otherwise be silently ignored. */
void node_check_props(const struct node_ctx *c, const char *const *known, size_t known_count)
{
	int prop;
	fdt_for_each_property_offset(prop, c->fdt, c->offset) {
		const char *name;
		fdt_getprop_by_offset(c->fdt, prop, &name, NULL);
		size_t i = 0;
		while (i < known_count && strcmp(name, known[i]) != 0)
			i++;
		if (i == known_count)
			diag_report(c->diag, c->path, "unknown property \"%s\"", name);
	}
}

/* fdt_subnode_offset would also take "vsock@0" for "vsock", which node_check_children reports
 * as unknown, so it must not give the VM a device too: names match exactly here. */
int node_subnode(const void *fdt, int parent, const char *name)
{
	int child;
	fdt_for_each_subnode(child, fdt, parent)
		if (strcmp(fdt_get_name(fdt, child, NULL), name) == 0)
			return child;
	return -1;
}

/* One or more strings, each NUL-terminated (an empty one is allowed: it is reported as an
 * entry). Returns the list and its size in *len, or NULL if absent or reported. */
const char *node_strings(const struct node_ctx *c, const char *name, int *len)
{
	const char *list = fdt_getprop(c->fdt, c->offset, name, len);
	if (list && (*len == 0 || list[*len - 1] != '\0')) {
		diag_report(c->diag, c->path, "%s: must be one or more strings", name);
		return NULL;
	}
	return list;
}

void node_child_path(char *buf, size_t size, const char *parent, const char *name)
{
	snprintf(buf, size, "%s%s%s", parent, strcmp(parent, "/") == 0 ? "" : "/", name);
}

/* Children other than the `allowed` ones are unknown: we do not look inside them. Names match
 * exactly: "vsock@0" is unknown, not a vsock node. */
void node_check_children(const struct node_ctx *c, const char *const *allowed,
			 size_t allowed_count)
{
	int child;
	fdt_for_each_subnode(child, c->fdt, c->offset) {
		const char *name = fdt_get_name(c->fdt, child, NULL);
		size_t i = 0;
		while (i < allowed_count && strcmp(name, allowed[i]) != 0)
			i++;
		if (i < allowed_count)
			continue;
		char path[NODE_PATH_SIZE];
		node_child_path(path, sizeof(path), c->path, name);
		diag_report(c->diag, path, "unknown node");
	}
}

int node_name_chars(const struct node_ctx *c, const char *what, const char *name,
		    const char *extra)
{
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (islower(*p) || isdigit(*p) || strchr(extra, *p))
			continue;
		char shown[8], allowed[16] = "";
		if (isprint(*p)) /* a control character would break the one-line message */
			snprintf(shown, sizeof(shown), "'%c'", *p);
		else
			snprintf(shown, sizeof(shown), "'\\x%02x'", *p);
		for (const char *e = extra; *e && strlen(allowed) + 3 < sizeof(allowed); e++)
			snprintf(allowed + strlen(allowed), sizeof(allowed) - strlen(allowed), " %c", *e);
		diag_report(c->diag, c->path, "%s: character %s is not allowed (use a-z 0-9%s)", what,
			    shown, allowed);
		return 0;
	}
	return 1;
}
