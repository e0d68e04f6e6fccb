/* diag.c: the list of problems found in a config, printed one per line at the end. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "pvpack.h"

static void out_of_memory(void)
{
	fputs("pvpack: out of memory\n", stderr);
	exit(1);
}

void diag_report(struct diag *d, const char *node, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int msg_len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (msg_len < 0)
		out_of_memory(); /* only an encoding error or ENOMEM can get here */

	size_t node_len = strlen(node);
	size_t size = node_len + 2 + (size_t)msg_len + 1;
	char *line = malloc(size);
	char **lines = realloc(d->lines, (d->count + 1) * sizeof(*lines));
	if (!line || !lines)
		out_of_memory();
	memcpy(line, node, node_len);
	memcpy(line + node_len, ": ", 2);
	va_start(ap, fmt);
	vsnprintf(line + node_len + 2, (size_t)msg_len + 1, fmt, ap);
	va_end(ap);
	d->lines = lines;
	d->lines[d->count++] = line;
}

void diag_print(const struct diag *d, FILE *out, const char *config_file)
{
	for (size_t i = 0; i < d->count; i++)
		fprintf(out, "pvpack: %s: %s\n", config_file, d->lines[i]);
}

void diag_free(struct diag *d)
{
	for (size_t i = 0; i < d->count; i++)
		free(d->lines[i]);
	free(d->lines);
	d->lines = NULL;
	d->count = 0;
}
