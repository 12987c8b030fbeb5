/* `tern balloon NAME [SIZE]`: set the guest RAM the balloon should leave
 * (QMP balloon), or show the balloon and the guest's statistics
 * (query-balloon); also the balloon lines of `tern status`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/balloon.h"
#include "cli/cli.h"
#include "ctl/qmp_client.h"

#define CTL_TIMEOUT_MS 10000

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tern balloon NAME [SIZE] [--json]\n"
		"\n"
		"With SIZE (K, M or G suffix; a bare number means MiB): ask the guest's\n"
		"virtio-balloon driver to leave it SIZE of RAM, as QEMU's 'balloon' command;\n"
		"the balloon takes the rest and the host gets those pages back. SIZE at or\n"
		"above the VM's memory deflates it completely.\n"
		"Without SIZE: show the balloon (actual and target guest RAM, bytes given\n"
		"back by free page reporting) and the guest's memory statistics.\n"
		"The VM needs 'tern run --balloon on'.\n"
		"\n"
		"  --json     print query-balloon's answer as JSON\n"
		"  -h, --help show this help\n");
}

static unsigned long long mib(json_t *o, const char *key)
{
	return (unsigned long long)json_integer_value(json_object_get(o, key)) >> 20;
}

static void print_balloon(json_t *r)
{
	printf("balloon: guest RAM %lluM of %lluM (target %lluM), driver %s%s%s\n",
	       mib(r, "actual"), mib(r, "ram-size"), mib(r, "target"),
	       json_is_true(json_object_get(r, "driver")) ? "up" : "not loaded",
	       json_is_true(json_object_get(r, "free-page-reporting")) ? ", free page reporting" : "",
	       json_is_true(json_object_get(r, "deflate-on-oom")) ? ", deflate on OOM" : "");
	printf("balloon: reported %lluM, now discarded %lluM\n", mib(r, "reported-bytes"),
	       mib(r, "discarded-bytes"));
	json_t *s = json_object_get(r, "stats");
	if (json_object_size(s))
		printf("guest: total %lluM, free %lluM, available %lluM, caches %lluM, "
		       "major faults %lld, OOM kills %lld\n",
		       mib(s, "stat-total-memory"), mib(s, "stat-free-memory"),
		       mib(s, "stat-available-memory"), mib(s, "stat-disk-caches"),
		       (long long)json_integer_value(json_object_get(s, "stat-major-faults")),
		       (long long)json_integer_value(json_object_get(s, "stat-oom-kills")));
}

void balloon_print_status(struct qmp_client_conn *c)
{
	char err[256];
	json_t *r = qmp_client_execute(c, "query-balloon", NULL, err, sizeof(err));
	if (r)
		print_balloon(r);
	json_decref(r);
}

int cli_balloon(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int json = 0, ch;
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'h': usage(stdout); return 0;
		case 'j': json = 1; break;
		default:
			fprintf(stderr, "tern: unknown option '%s' (see 'tern balloon --help')\n", argv[optind - 1]);
			return 2;
		}
	}
	if (optind != argc - 1 && optind != argc - 2) {
		fprintf(stderr, "tern: balloon needs a VM name and optionally a SIZE (see 'tern balloon --help')\n");
		return 2;
	}
	const char *name = argv[optind], *size_arg = optind == argc - 2 ? argv[optind + 1] : NULL;
	uint64_t size = 0;
	if (size_arg && (cli_parse_size(size_arg, &size) || size == 0 || size > (1ull << 46))) {
		fprintf(stderr, "tern: invalid balloon SIZE '%s': give guest RAM like 128M or 1G\n", size_arg);
		return 2;
	}
	char path[256], err[256];
	if (qmp_client_resolve(name, path, sizeof(path), err, sizeof(err))) {
		fprintf(stderr, "tern: %s\n", err);
		return 1;
	}
	struct qmp_client_conn *c = qmp_client_open(path, CTL_TIMEOUT_MS, err, sizeof(err));
	if (!c) {
		fprintf(stderr, "tern: %s\n", err);
		return 1;
	}
	json_t *args = size_arg ? json_pack("{s:I}", "value", (json_int_t)size) : NULL;
	json_t *r = qmp_client_execute(c, size_arg ? "balloon" : "query-balloon", args, err, sizeof(err));
	json_decref(args);
	int rc = 0;
	if (!r) {
		fprintf(stderr, "tern: %s: %s\n", name, err);
		rc = 1;
	} else if (!size_arg && json) {
		char *s = json_dumps(r, JSON_INDENT(2) | JSON_SORT_KEYS);
		printf("%s\n", s ? s : "{}");
		free(s);
	} else if (!size_arg) {
		print_balloon(r);
	}
	json_decref(r);
	qmp_client_close(c);
	return rc;
}
