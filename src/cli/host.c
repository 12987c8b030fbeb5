/* `tern host list|evacuate|standby|wake`: the hosts of the cluster, found
 * through --etcd URLS or $TERN_ETCD, else this host's local store. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "agent/api_client.h"
#include "agent/records.h"
#include "cli/cli.h"
#include "store/store.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: tern host list [--json]\n"
		"       tern host evacuate HOST [--copy-storage]\n"
		"       tern host standby HOST\n"
		"       tern host wake HOST\n\n"
		"The hosts of a cluster and their agents (ternd).\n\n"
		"  list          every host: address, state (up, down, draining, standby),\n"
		"                power, CPU %%, memory used/total, VMs\n"
		"  evacuate      live-migrate every VM off HOST (first fit by memory onto the\n"
		"                hosts that are up, each to at most 80 %% of its memory), one\n"
		"                at a time; HOST is marked draining and takes no new VMs.\n"
		"                --copy-storage: each VM's disks move with it (see 'tern\n"
		"                cluster migrate --help'), for hosts without shared storage\n"
		"  standby       run HOST's standby command (ternd --power-cmd-standby) and\n"
		"                record it on standby; only an empty host can go\n"
		"  wake          run HOST's wake command (ternd --power-cmd-wake) here and\n"
		"                record it on again (also ends draining)\n\n"
		"  --etcd URLS   the cluster's etcd (default $TERN_ETCD; without either, the\n"
		"                local store of this host's ternd)\n"
		"  --state-dir DIR  that ternd's --state-dir, for the local store and token\n"
		"  --json        (list) print {\"hosts\":[{\"name\",\"address\",\"state\",\"power\",\n"
		"                \"cpu_percent\",\"mem_used\",\"mem_total\",\"vms\":[...]}]}\n"
		"  -h, --help    this help\n");
}

struct host_ctx {
	struct store *store;
	int is_etcd;
	char state_dir[1024];
	char token[128];
};

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static int cmd_list(struct host_ctx *c, int json)
{
	json_t *hosts;
	if (rec_hosts(c->store, &hosts)) {
		fprintf(stderr, "tern: %s\n", store_error(c->store));
		return 1;
	}
	if (json) {
		char *t = json_dumps(hosts, JSON_COMPACT);
		printf("%s\n", t ? t : "{}");
		free(t);
		json_decref(hosts);
		return 0;
	}
	printf("%-16s %-22s %-9s %-8s %6s %17s  %s\n", "NAME", "ADDRESS", "STATE", "POWER", "CPU%", "MEM USED/TOTAL",
	       "VMS");
	size_t i, j;
	json_t *h, *v;
	json_array_foreach(json_object_get(hosts, "hosts"), i, h) {
		char mem[40], vms[400] = "";
		snprintf(mem, sizeof(mem), "%.1f/%.1fG",
			 (double)json_integer_value(json_object_get(h, "mem_used")) / (1 << 30),
			 (double)json_integer_value(json_object_get(h, "mem_total")) / (1 << 30));
		size_t n = 0;
		json_array_foreach(json_object_get(h, "vms"), j, v)
			if (n < sizeof(vms) - 70)
				n += (size_t)snprintf(vms + n, sizeof(vms) - n, "%s%s", n ? "," : "", jstr(v, "name"));
		printf("%-16s %-22s %-9s %-8s %6.1f %17s  %zu%s%s\n", jstr(h, "name"), jstr(h, "api")[0] ? jstr(h, "api") : jstr(h, "address"),
		       jstr(h, "state"), jstr(h, "power"), json_real_value(json_object_get(h, "cpu_percent")), mem,
		       json_array_size(json_object_get(h, "vms")), n ? " " : "", vms);
	}
	json_decref(hosts);
	return 0;
}

/* POSTs to the agent of host; its reply in *out. */
static int post_host(struct host_ctx *c, const char *host, const char *path, json_t *body, json_t **out)
{
	json_t *hosts = NULL, *h = NULL;
	char err[512];
	if (rec_hosts(c->store, &hosts)) {
		fprintf(stderr, "tern: %s\n", store_error(c->store));
		return -1;
	}
	h = rec_host_find(hosts, host);
	json_decref(hosts);
	if (!h) {
		fprintf(stderr, "tern: no host %s (see 'tern host list')\n", host);
		return -1;
	}
	if (strcmp(jstr(h, "state"), "up") && strcmp(jstr(h, "state"), "draining")) {
		fprintf(stderr, "tern: host %s is %s\n", host, jstr(h, "state"));
		json_decref(h);
		return -1;
	}
	if (rec_token(c->store, c->is_etcd ? NULL : c->state_dir, c->is_etcd, c->token, sizeof(c->token),
		      err, sizeof(err))) {
		fprintf(stderr, "tern: cannot read the API token: %s\n", err);
		json_decref(h);
		return -1;
	}
	char *ca = rec_ca_pem(c->store);
	struct api_auth auth = { .token = c->token, .ca_pem = ca };
	int st = api_call(jstr(h, "api"), &auth, "POST", path, body, out, 600000, err, sizeof(err));
	free(ca);
	json_decref(h);
	if (st < 200 || st >= 300) {
		fprintf(stderr, "tern: %s: %s\n", host, err);
		return -1;
	}
	return 0;
}

static int cmd_evacuate(struct host_ctx *c, const char *host, int copy_storage)
{
	char path[200];
	json_t *r = NULL, *body = json_pack("{s:b}", "copy_storage", copy_storage);
	snprintf(path, sizeof(path), "/api/v1/hosts/%s/evacuate", host);
	int bad = post_host(c, host, path, body, &r);
	json_decref(body);
	if (bad)
		return 1;
	json_decref(r);
	fprintf(stderr, "%s: draining\n", host);
	int tty = isatty(2), rc = 1;
	for (;;) {
		struct timespec ts = { 0, 500000000 };
		nanosleep(&ts, NULL);
		json_t *hosts = NULL, *h;
		if (rec_hosts(c->store, &hosts))
			continue;   /* the store may come back */
		h = rec_host_find(hosts, host);
		json_decref(hosts);
		json_t *ev = json_object_get(h, "evacuation");
		if (!h || !ev) {
			if (h && !strcmp(jstr(h, "state"), "down")) {
				fprintf(stderr, "\ntern: host %s went down during the evacuation\n", host);
				json_decref(h);
				return 1;
			}
			json_decref(h);
			continue;
		}
		const char *st = jstr(ev, "status");
		long long done = json_integer_value(json_object_get(ev, "done"));
		long long total = json_integer_value(json_object_get(ev, "total"));
		if (strcmp(st, "running")) {
			if (tty)
				fprintf(stderr, "\r\033[K");
			size_t i;
			json_t *f;
			json_array_foreach(json_object_get(ev, "failed"), i, f)
				fprintf(stderr, "tern: %s stays on %s: %s\n", jstr(f, "name"), host, jstr(f, "error"));
			size_t left = json_array_size(json_object_get(h, "vms"));
			printf("%s: %lld of %lld VMs moved; %s\n", host, done, total,
			       left ? "VMs remain" : "empty");
			rc = !strcmp(st, "done") && !left ? 0 : 1;
			json_decref(h);
			break;
		}
		if (total) {
			char line[200];
			snprintf(line, sizeof(line), "%s: %lld/%lld moved, migrating %s", host, done, total,
				 jstr(ev, "current"));
			fprintf(stderr, tty ? "\r%s\033[K" : "%s\n", line);
		}
		json_decref(h);
	}
	return rc;
}

int cli_host(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "etcd", required_argument, NULL, 'e' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "copy-storage", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct host_ctx c = { 0 };
	const char *etcd = getenv("TERN_ETCD");
	int json = 0, copy_storage = 0, ch;
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (ch) {
		case 'e': etcd = optarg; break;
		case 's': snprintf(c.state_dir, sizeof(c.state_dir), "%s", optarg); break;
		case 'j': json = 1; break;
		case 'c': copy_storage = 1; break;
		case 'h': usage(stdout); return 0;
		case ':':
			fprintf(stderr, "tern: option '%s' needs a value (see 'tern host --help')\n", argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "tern: unknown option '%s' (see 'tern host --help')\n", argv[optind - 1]);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "tern: host needs a command: list, evacuate, standby, wake (see 'tern host --help')\n");
		return 2;
	}
	const char *verb = argv[optind];
	int nargs = argc - optind - 1;
	const char *host = nargs == 1 ? argv[optind + 1] : NULL;
	if (!strcmp(verb, "list") ? nargs != 0 : (strcmp(verb, "evacuate") && strcmp(verb, "standby") &&
						  strcmp(verb, "wake"))) {
		fprintf(stderr, "tern: host: '%s%s%s' is not a command here (see 'tern host --help')\n", verb,
			nargs ? " " : "", nargs ? argv[optind + 1] : "");
		return 2;
	}
	if (strcmp(verb, "list") && (!host || !rec_name_ok(host))) {
		fprintf(stderr, "tern: host %s needs one HOST name (see 'tern host --help')\n", verb);
		return 2;
	}
	if (copy_storage && strcmp(verb, "evacuate")) {
		fprintf(stderr, "tern: --copy-storage goes with 'tern host evacuate'\n");
		return 2;
	}
	if (json && strcmp(verb, "list")) {
		fprintf(stderr, "tern: --json goes with 'tern host list'\n");
		return 2;
	}
	char err[512];
	c.is_etcd = etcd && *etcd;
	if (!c.state_dir[0] && rec_default_state_dir(c.state_dir, sizeof(c.state_dir))) {
		fprintf(stderr, "tern: no state directory: give --state-dir DIR\n");
		return 2;
	}
	if (!c.is_etcd && access(c.state_dir, F_OK)) {
		fprintf(stderr, "tern: no cluster: give --etcd URLS (or set TERN_ETCD), or start ternd here "
			"(no local store in %s)\n", c.state_dir);
		return 1;
	}
	c.store = store_open(c.is_etcd ? etcd : NULL, c.state_dir, err, sizeof(err));
	if (!c.store) {
		fprintf(stderr, "tern: %s\n", err);
		return 2;
	}
	int rc = 1;
	json_t *r = NULL;
	char path[200];
	if (!strcmp(verb, "list")) {
		rc = cmd_list(&c, json);
	} else if (!strcmp(verb, "evacuate")) {
		rc = cmd_evacuate(&c, host, copy_storage);
	} else if (!strcmp(verb, "standby")) {
		snprintf(path, sizeof(path), "/api/v1/hosts/%s/standby", host);
		rc = post_host(&c, host, path, NULL, &r) ? 1 : 0;
		if (!rc)
			printf("%s: standby\n", host);
	} else {
		if (rec_host_wake(c.store, host, err, sizeof(err)))
			fprintf(stderr, "tern: %s\n", err);
		else {
			printf("%s: on\n", host);
			rc = 0;
		}
	}
	json_decref(r);
	store_close(c.store);
	return rc;
}
