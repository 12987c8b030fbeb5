/* `tern image import-rootfs` and `tern image inspect`: root file systems from
 * other hypervisors made into tern virtio disks, and their inventories. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli/cli.h"
#include "image/import.h"
#include "image/inventory.h"

static int usage_error(const char *msg)
{
	fprintf(stderr, "tern image: %s (see 'tern image --help')\n", msg);
	return 2;
}

int cli_image_import(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "inventory", required_argument, NULL, 'i' },
		{ "format", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *inv_path = NULL, *fmt = "qcow2";
	uint64_t size = 0;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":s:i:f:", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (cli_parse_size(optarg, &size) || size < (64u << 20)) {
				fprintf(stderr, "tern image: invalid --size '%s': give e.g. 2G (64M at least)\n",
					optarg);
				return 2;
			}
			break;
		case 'i': inv_path = optarg; break;
		case 'f':
			if (strcmp(optarg, "qcow2") && strcmp(optarg, "raw"))
				return usage_error("--format takes qcow2 or raw");
			fmt = optarg;
			break;
		case ':': return usage_error("an option needs a value");
		default: return usage_error("unknown option");
		}
	}
	if (argc - optind != 2)
		return usage_error("import-rootfs needs SRC and OUT");
	const char *src = argv[optind], *out = argv[optind + 1];
	struct stat st;
	if (!lstat(out, &st)) {
		fprintf(stderr, "tern image: %s: already exists\n", out);
		return 1;
	}
	size_t n = strlen(out) + 16;
	char *raw = malloc(n);
	struct inventory *log = calloc(1, sizeof(*log)), *inv = NULL;
	if (!raw || !log) {
		free(raw);
		free(log);
		fprintf(stderr, "tern image: out of memory\n");
		return 1;
	}
	/* qcow2: build the raw file system beside OUT, then convert it. */
	snprintf(raw, n, "%s%s", out, strcmp(fmt, "raw") ? ".raw.tmp" : "");
	char err[1024];
	struct import_opts o = { .src = src, .out = raw, .size = size, .progress = isatty(2) };
	struct import_stats ist = { 0 };
	int rc = 1;
	if (import_rootfs(&o, log, &ist, err, sizeof(err))) {
		fprintf(stderr, "tern image: import-rootfs: %s\n", err);
		goto out;
	}
	if (strcmp(fmt, "raw")) {
		fprintf(stderr, "import: converting to %s\n", fmt);
		int r = cli_image_convert_file(raw, out, fmt, 0);
		unlink(raw);
		if (r)
			goto out;
	}
	if (inventory_from_image(out, &inv, err, sizeof(err))) {
		fprintf(stderr, "tern image: the new image does not read back: %s\n", err);
		unlink(out);
		goto out;
	}
	/* The inventory of the result, with what the import changed. */
	inv->changes = log->changes;
	inv->n_changes = log->n_changes;
	log->changes = NULL;
	log->n_changes = 0;
	if (inv_path && inventory_write_xml(inv, inv_path)) {
		fprintf(stderr, "tern image: cannot write the inventory '%s'\n", inv_path);
		goto out;
	}
	printf("imported %s (%s, %llu entries, %llu MiB of files) into %s (%s, %llu MiB)\n", src,
	       ist.kind, (unsigned long long)ist.entries, (unsigned long long)(ist.bytes >> 20), out,
	       fmt, (unsigned long long)(ist.size >> 20));
	printf("init: %s; packages: %zu\n", inv->init_system ? inv->init_system : "none",
	       inv->n_packages);
	for (size_t i = 0; i < inv->n_changes; i++)
		printf("changed: %s\n", inv->changes[i]);
	if (inv_path)
		printf("inventory: %s\n", inv_path);
	rc = 0;
out:
	inventory_free(inv);
	inventory_free(log);
	free(raw);
	return rc;
}

int cli_image_inspect(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "xml", no_argument, NULL, 'x' },
		{ NULL, 0, NULL, 0 },
	};
	int xml = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'x')
			return usage_error("unknown option");
		xml = 1;
	}
	if (argc - optind != 1)
		return usage_error("inspect needs FILE");
	char err[1024];
	struct inventory *inv;
	if (inventory_from_image(argv[optind], &inv, err, sizeof(err))) {
		fprintf(stderr, "tern image: inspect: %s\n", err);
		return 1;
	}
	int rc = 0;
	if (xml) {
		fflush(stdout);
		if (inventory_write_xml(inv, "-")) {
			fprintf(stderr, "tern image: cannot write the XML inventory\n");
			rc = 1;
		}
	} else {
		inventory_print(inv, stdout);
	}
	inventory_free(inv);
	return rc;
}
