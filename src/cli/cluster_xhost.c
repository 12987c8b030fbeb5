/* The `tern cluster` verbs on a cluster of hosts (--etcd URLS or
 * $TERN_ETCD): up places machines through the agents, down, status with
 * each machine's host, and migrate between hosts with progress. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "agent/api_client.h"
#include "agent/records.h"
#include "cli/cluster.h"
#include "cluster/project.h"
#include "cluster/state.h"
#include "cluster/xhost.h"
#include "store/store.h"

struct xcli {
	struct store *store;
	char *ca_pem;               /* the cluster CA, when the agents speak https */
	char token[128];
	struct xhost_ctx ctx;
};

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static int xcli_open(struct xcli *c, const char *etcd)
{
	char err[512];
	memset(c, 0, sizeof(*c));
	c->store = store_open(etcd, NULL, err, sizeof(err));
	if (!c->store) {
		fprintf(stderr, "tern: etcd %s: %s\n", etcd, err);
		return -1;
	}
	if (rec_token(c->store, NULL, 1, c->token, sizeof(c->token), err, sizeof(err))) {
		fprintf(stderr, "tern: cannot read the cluster's API token: %s\n", err);
		store_close(c->store);
		return -1;
	}
	c->ca_pem = rec_ca_pem(c->store);
	c->ctx = (struct xhost_ctx){ .store = c->store, .token = c->token, .out = stdout, .ca_pem = c->ca_pem };
	return 0;
}

static void xcli_close(struct xcli *c)
{
	store_close(c->store);
	free(c->ca_pem);
	c->ca_pem = NULL;
}

const char *cli_cluster_etcd(const char *given)
{
	const char *e = given ? given : getenv("TERN_ETCD");
	return e && *e ? e : NULL;
}

int cli_cluster_xhost_up(const struct project *p, const char *etcd, const char *dir, double coeff)
{
	struct xcli c;
	char folder[PATH_MAX], err[512] = "";
	if (!dir) {
		if (state_default_dir(p->name, folder, sizeof(folder))) {
			fprintf(stderr, "tern: no folder for project %s (give --dir)\n", p->name);
			return 1;
		}
		dir = folder;
	}
	char cmd[PATH_MAX];
	snprintf(cmd, sizeof(cmd), "%s", dir);
	for (char *q = cmd + 1; *q; q++)
		if (*q == '/') {
			*q = 0;
			mkdir(cmd, 0755);
			*q = '/';
		}
	if (mkdir(cmd, 0755) && errno != EEXIST) {
		fprintf(stderr, "tern: cannot create %s: %s\n", dir, strerror(errno));
		return 1;
	}
	if (xcli_open(&c, etcd))
		return 1;
	int rc = xhost_up(&c.ctx, p, dir, coeff, err, sizeof(err));
	if (rc < 0)
		fprintf(stderr, "tern: %s\n", err);
	xcli_close(&c);
	return rc ? 1 : 0;
}

int cli_cluster_xhost_down(const char *name, const char *etcd)
{
	struct xcli c;
	char err[512];
	if (xcli_open(&c, etcd))
		return 1;
	int rc = xhost_down(&c.ctx, name, err, sizeof(err));
	if (rc)
		fprintf(stderr, "tern: %s\n", err);
	xcli_close(&c);
	return rc ? 1 : 0;
}

int cli_cluster_xhost_status(const char *name, const char *etcd, int json)
{
	struct xcli c;
	char err[512];
	int rc;
	if (xcli_open(&c, etcd))
		return 1;
	json_t *st = xhost_status(&c.ctx, name, &rc, err, sizeof(err)), *m;
	xcli_close(&c);
	if (!st) {
		fprintf(stderr, "tern: %s\n", err);
		return 1;
	}
	if (json) {
		char *t = json_dumps(st, JSON_INDENT(2));
		printf("%s\n", t ? t : "{}");
		free(t);
	} else {
		size_t i;
		printf("project %s: %s\n%-16s %-12s %-4s %-10s %s\n", name, jstr(st, "state"), "MACHINE", "HOST", "PRIO",
		       "STATE", "READY");
		json_array_foreach(json_object_get(st, "machines"), i, m) {
			char when[32] = "-";
			double r = json_number_value(json_object_get(m, "ready_at"));
			if (r > 0) {
				time_t t = (time_t)r;
				strftime(when, sizeof(when), "%H:%M:%S", localtime(&t));
			}
			printf("%-16s %-12s %-4lld %-10s %s\n", jstr(m, "name"), jstr(m, "host"),
			       json_integer_value(json_object_get(m, "priority")), jstr(m, "state"), when);
		}
	}
	json_decref(st);
	return 0;
}

static void migrate_usage(FILE *f)
{
	fprintf(f, "usage: tern cluster migrate NAME MACHINE --to HOST [--postcopy] [--copy-storage]\n"
		"                           [--etcd URLS]\n\n"
		"Live-migrate machine MACHINE of project NAME to host HOST through the agents\n"
		"(a fresh per-migration key; the store's record flips only after the\n"
		"switch-over). Progress is shown; a failure leaves the machine on its host.\n\n"
		"  --to HOST     the destination host (see 'tern host list')\n"
		"  --postcopy    switch to post-copy once the first pass is done\n"
		"  --copy-storage  the machine's writable disks move with it (no shared\n"
		"                storage): each becomes a new file in the VM's folder on\n"
		"                HOST (a qcow2 overlay over the same base, which HOST must\n"
		"                have: its ternd --images DIR, else the same path; checked\n"
		"                by SHA-256), and the source's file is deleted afterwards\n"
		"  --etcd URLS   the cluster's etcd (default $TERN_ETCD; required)\n");
}

int cli_cluster_migrate(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "postcopy", no_argument, NULL, 'p' },
		{ "copy-storage", no_argument, NULL, 'c' },
		{ "etcd", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *to = NULL, *etcd_arg = NULL;
	int postcopy = 0, copy_storage = 0, c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 't': to = optarg; break;
		case 'p': postcopy = 1; break;
		case 'c': copy_storage = 1; break;
		case 'e': etcd_arg = optarg; break;
		case 'h': migrate_usage(stdout); return 0;
		case ':':
			fprintf(stderr, "tern: option '%s' needs a value (see 'tern cluster migrate --help')\n", argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "tern: unknown option '%s' (see 'tern cluster migrate --help')\n", argv[optind - 1]);
			return 2;
		}
	}
	if (argc - optind != 2 || !to) {
		fprintf(stderr, "tern: cluster migrate needs NAME MACHINE --to HOST (see 'tern cluster migrate --help')\n");
		return 2;
	}
	const char *etcd = cli_cluster_etcd(etcd_arg);
	if (!etcd) {
		fprintf(stderr, "tern: cluster migrate works on a cluster of hosts: give --etcd URLS or set TERN_ETCD\n");
		return 2;
	}
	const char *name = argv[optind], *machine = argv[optind + 1];
	struct xcli x;
	char err[512], vm[160], path[256];
	int rc;
	if (xcli_open(&x, etcd))
		return 1;
	json_t *st = xhost_status(&x.ctx, name, &rc, err, sizeof(err)), *m, *src = NULL;
	size_t i;
	json_array_foreach(json_object_get(st, "machines"), i, m)
		if (!strcmp(jstr(m, "name"), machine))
			src = m;
	if (!st || !src) {
		fprintf(stderr, "tern: %s\n", st ? "no such machine in the project (see 'tern cluster status')" : err);
		json_decref(st);
		xcli_close(&x);
		return 1;
	}
	char from[64];
	snprintf(from, sizeof(from), "%s", jstr(src, "host"));
	json_decref(st);
	snprintf(vm, sizeof(vm), "%s.%s", name, machine);
	snprintf(path, sizeof(path), "/api/v1/vms/%s/migrate", vm);
	json_t *hosts = NULL, *h = NULL, *r = NULL;
	if (rec_hosts(x.store, &hosts) == 0)
		h = rec_host_find(hosts, from);
	json_decref(hosts);
	struct api_auth auth = { .token = x.token, .ca_pem = x.ca_pem };
	json_t *body = json_pack("{s:s,s:b,s:b}", "to", to, "postcopy", postcopy, "copy_storage", copy_storage);
	int code = h ? api_call(jstr(h, "api"), &auth, "POST", path, body, &r, 60000, err, sizeof(err)) : -1;
	json_decref(body);
	json_decref(r);
	if (code != 202) {
		fprintf(stderr, "tern: %s: %s\n", vm, h ? err : "its host is unknown");
		json_decref(h);
		xcli_close(&x);
		return 1;
	}
	fprintf(stderr, "%s: migrating from %s to %s\n", machine, from, to);
	int tty = isatty(2);
	snprintf(path, sizeof(path), "/api/v1/vms/%s/migration", vm);
	rc = 1;
	for (;;) {
		struct timespec ts = { 0, 300000000 };
		nanosleep(&ts, NULL);
		r = NULL;
		code = api_call(jstr(h, "api"), &auth, "GET", path, NULL, &r, 30000, err, sizeof(err));
		if (code != 200) {
			json_decref(r);
			continue;
		}
		const char *s = jstr(r, "status");
		json_t *ram = json_object_get(json_object_get(r, "progress"), "ram");
		long long total = json_integer_value(json_object_get(ram, "total"));
		long long rem = json_integer_value(json_object_get(ram, "remaining"));
		if (!strcmp(s, "completed") || !strcmp(s, "failed")) {
			if (tty)
				fprintf(stderr, "\r\033[K");
			if (!strcmp(s, "completed")) {
				printf("%s: on %s (%.1f s)\n", machine, to,
				       (json_integer_value(json_object_get(r, "finished_ms")) -
					json_integer_value(json_object_get(r, "started_ms"))) / 1000.0);
				rc = 0;
			} else {
				fprintf(stderr, "tern: migration of %s failed: %s; it stays on %s\n", machine,
					jstr(r, "error"), from);
			}
			json_decref(r);
			break;
		}
		char line[200];
		snprintf(line, sizeof(line), "%s: %s, %lld of %lld MiB left, %.0f Mbit/s", machine, s, rem >> 20,
			 total >> 20, json_number_value(json_object_get(ram, "mbps")));
		fprintf(stderr, tty ? "\r%s\033[K" : "%s\n", line);
		json_decref(r);
	}
	json_decref(h);
	/* The project's record follows the machine. */
	char key[160];
	json_t *rec = NULL;
	snprintf(key, sizeof(key), "%s%s", XHOST_REC, name);
	long long rev;
	if (rc == 0 && rec_get(x.store, key, &rec, &rev) == 0) {
		json_array_foreach(json_object_get(rec, "machines"), i, m)
			if (!strcmp(jstr(m, "name"), machine))
				json_object_set_new(m, "host", json_string(to));
		rec_cas(x.store, key, rev, rec, 0);
		json_decref(rec);
	}
	xcli_close(&x);
	return rc;
}
