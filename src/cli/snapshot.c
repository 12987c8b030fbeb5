/* `tern snapshot NAME FILE [--leave-running]`: QMP stop (unless
 * --leave-running), migrate to file:FILE, then report query-migrate. By
 * default the VM stays paused afterwards, like a suspend: `tern resume` or
 * `tern kill` decide what happens to it. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/cli.h"
#include "ctl/qmp_client.h"

/* Saving a large guest can take a while; the VM answers when done. */
#define SNAPSHOT_TIMEOUT_MS 600000

static void usage(FILE *f)
{
	fprintf(f, "usage: tern snapshot NAME FILE [--leave-running]\n\n"
		"Save the running VM NAME (machine configuration, devices, harts, RAM) to FILE.\n"
		"The VM is paused for the save and stays paused afterwards, like a suspend\n"
		"('tern resume NAME' continues it); with --leave-running it continues at once.\n"
		"Restore with 'tern run --incoming file:FILE [--name N] [--console C]'.\n");
}

int cli_snapshot(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "leave-running", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int leave = 0, ch;
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (ch) {
		case 'l': leave = 1; break;
		case 'h': usage(stdout); return 0;
		default:
			fprintf(stderr, "tern: unknown option '%s' (see 'tern snapshot --help')\n", argv[optind - 1]);
			return 2;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "tern: snapshot needs NAME and FILE (see 'tern snapshot --help')\n");
		return 2;
	}
	const char *name = argv[optind], *file = argv[optind + 1];
	char abs[2 * PATH_MAX + 8], cwd[PATH_MAX];
	if (file[0] == '/')
		snprintf(abs, sizeof(abs), "file:%s", file);
	else if (getcwd(cwd, sizeof(cwd)) && strlen(file) < PATH_MAX)
		snprintf(abs, sizeof(abs), "file:%s/%s", cwd, file);
	else {
		fprintf(stderr, "tern: snapshot path too long\n");
		return 1;
	}
	char path[256], err[512];
	if (qmp_client_resolve(name, path, sizeof(path), err, sizeof(err))) {
		fprintf(stderr, "tern: %s\n", err);
		return 1;
	}
	struct qmp_client_conn *c = qmp_client_open(path, SNAPSHOT_TIMEOUT_MS, err, sizeof(err));
	if (!c) {
		fprintf(stderr, "tern: %s\n", err);
		return 1;
	}
	int rc = 1;
	json_t *st = qmp_client_execute(c, "query-status", NULL, err, sizeof(err));
	int was_running = st && json_is_true(json_object_get(st, "running"));
	json_decref(st);
	json_t *r = NULL;
	if (!leave && was_running && !(r = qmp_client_execute(c, "stop", NULL, err, sizeof(err)))) {
		fprintf(stderr, "tern: %s: cannot stop: %s\n", name, err);
		goto out;
	}
	json_decref(r);
	json_t *args = json_pack("{s:s}", "uri", abs);
	r = qmp_client_execute(c, "migrate", args, err, sizeof(err));
	json_decref(args);
	if (!r) {
		fprintf(stderr, "tern: %s: %s\n", name, err);
		/* Leave the VM as we found it. */
		if (!leave && was_running)
			json_decref(qmp_client_execute(c, "cont", NULL, err, sizeof(err)));
		goto out;
	}
	json_decref(r);
	json_t *m = qmp_client_execute(c, "query-migrate", NULL, err, sizeof(err));
	json_t *ram = json_object_get(m, "ram");
	printf("%s: snapshot written to %s: %lld MiB RAM, %lld pages stored, %lld zero; "
	       "%lld ms (paused %lld ms)%s\n", name, abs + 5,
	       (long long)(json_integer_value(json_object_get(ram, "total")) >> 20),
	       (long long)json_integer_value(json_object_get(ram, "normal")),
	       (long long)json_integer_value(json_object_get(ram, "duplicate")),
	       (long long)json_integer_value(json_object_get(m, "total-time")),
	       (long long)json_integer_value(json_object_get(m, "downtime")),
	       leave || !was_running ? "" : "; the VM stays paused");
	json_decref(m);
	rc = 0;
out:
	qmp_client_close(c);
	return rc;
}
