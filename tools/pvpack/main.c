/* main.c: the pvpack command line: compile the DTS, validate it, write the bundle (or print the
 * disk layout). */
#include <stdlib.h>
#include <string.h>

#include "pvpack.h"

#define USAGE                                                                              \
	"usage: pvpack [-o OUT.pvb] [--check | --partitions] CONFIG.dts\n"                   \
	"       pvpack --measure [--hypervisor pocketvisor.bin] CONFIG.dts\n"

struct options {
	const char *out;
	const char *config;
	int check_only;
	int partitions; /* print the /disk layout instead of writing a bundle */
	int measure;    /* print the measurements instead (docs/attestation.md) */
	const char *hypervisor; /* --measure: the EL2 image, measured too */
};

static int usage_error(const char *why, const char *arg)
{
	fprintf(stderr, "pvpack: %s%s\n" USAGE, why, arg);
	return 2;
}

/* Returns 0, or the exit status to stop with. */
static int parse_args(int argc, char **argv, struct options *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(USAGE, stdout);
			return -1;
		} else if (strcmp(a, "--check") == 0) {
			o->check_only = 1;
		} else if (strcmp(a, "--partitions") == 0) {
			o->partitions = 1;
		} else if (strcmp(a, "--measure") == 0) {
			o->measure = 1;
		} else if (strcmp(a, "--hypervisor") == 0) {
			if (++i == argc)
				return usage_error("--hypervisor needs a file name", "");
			o->hypervisor = argv[i];
		} else if (strcmp(a, "-o") == 0) {
			if (++i == argc)
				return usage_error("-o needs a file name", "");
			o->out = argv[i];
		} else if (a[0] == '-' && a[1] != '\0') {
			return usage_error("unknown option ", a);
		} else if (o->config) {
			return usage_error("more than one config: ", a);
		} else {
			o->config = a;
		}
	}
	if (!o->config)
		return usage_error("no config given", "");
	if (o->check_only && o->out)
		return usage_error("--check writes nothing, so -o makes no sense", "");
	if (o->partitions && o->out)
		return usage_error("--partitions writes nothing, so -o makes no sense", "");
	if (o->partitions && o->check_only)
		return usage_error("--partitions checks the config already, --check is one or the "
				   "other", "");
	if (o->measure && (o->out || o->check_only || o->partitions))
		return usage_error("--measure writes no bundle and prints only measurements: no -o, "
				   "--check or --partitions with it", "");
	if (o->hypervisor && !o->measure)
		return usage_error("--hypervisor is for --measure", "");
	return 0;
}

/* Like cc's a.out: with no -o, NAME.dts packs into NAME.pvb in the current directory. */
static char *default_out(const char *config)
{
	const char *base = strrchr(config, '/') ? strrchr(config, '/') + 1 : config;
	size_t len = strlen(base);
	if (len > 4 && strcmp(base + len - 4, ".dts") == 0)
		len -= 4;
	char *out = malloc(len + sizeof(".pvb"));
	if (out)
		snprintf(out, len + sizeof(".pvb"), "%.*s.pvb", (int)len, base);
	return out;
}

static int run(const struct options *o)
{
	void *fdt;
	if (dts_compile(o->config, &fdt) < 0)
		return 1;
	struct diag d = { 0, NULL };
	struct pvpack_config cfg;
	int status = 0;
	if (config_check(fdt, &d, &cfg) > 0) {
		diag_print(&d, stderr, o->config);
		status = 1;
	} else if (o->measure) {
		status = measure_print(&cfg, o->hypervisor, stdout) < 0;
	} else if (o->partitions) {
		/* The whole config is checked first: a layout is only provisioned for a config
		 * that can also be packed. */
		disk_print_layout(&cfg.layout, stdout);
	} else if (!o->check_only) {
		char *out = o->out ? NULL : default_out(o->config);
		if (!o->out && !out) {
			fputs("pvpack: out of memory\n", stderr);
			status = 1;
		} else {
			status = pack_write(&cfg, o->out ? o->out : out) < 0;
		}
		free(out);
	}
	diag_free(&d);
	free(fdt);
	return status;
}

int main(int argc, char **argv)
{
	struct options o = { NULL, NULL, 0, 0, 0, NULL };
	int status = parse_args(argc, argv, &o);
	if (status)
		return status < 0 ? 0 : status;
	return run(&o);
}
