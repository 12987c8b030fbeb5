/* `tern migrate NAME tcp:HOST:PORT [options]`: set the migration parameters,
 * start the live migration over QMP, show its progress (a live line on a
 * terminal, a line per second otherwise) and a final report, then quit the
 * source, whose guest now runs at the destination. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cli/cli.h"
#include "ctl/qmp_client.h"
#include "migration/mig_uri.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: tern migrate NAME tcp:HOST:PORT|unix:PATH|exec:CMD [options]\n\n"
		"Move the running VM NAME to a tern started with\n"
		"'tern run --incoming tcp:[HOST]:PORT --migrate-key FILE' (or unix:PATH, or\n"
		"exec:CMD, whose stdin and stdout carry the stream both ways; both ends need\n"
		"the same --migrate-key; disks must be on storage both hosts see at the same path,\n"
		"or move with --copy-storage).\n\n"
		"  --downtime-ms N     the longest pause allowed at switch-over (default 300)\n"
		"  --bandwidth MB/s    cap the migration stream (default: unlimited)\n"
		"  --stop-copy         pause the guest and copy everything at once\n"
		"  --compress          zstd-compress the page stream\n"
		"  --no-xbzrle         send pages the guest rewrote between rounds whole, not\n"
		"                      as the bytes that changed (XBZRLE, on by default:\n"
		"                      the source keeps up to 64 MiB of what it sent)\n"
		"  --device-state M    how device state travels: save (each device's own\n"
		"                      save/load, the default) or log (write-log replay)\n"
		"  --postcopy          switch over at once and send memory afterwards: the\n"
		"                      guest runs at the destination within milliseconds,\n"
		"                      fetching pages it touches first\n"
		"  --postcopy-after-precopy\n"
		"                      pre-copy first; if the guest, even slowed, dirties\n"
		"                      memory faster than the downtime limit allows, switch\n"
		"                      to post-copy instead of slowing it further\n"
		"  --keep-source       leave the source paused instead of quitting it\n"
		"  --copy-storage      copy the writable disks too (no shared storage): what\n"
		"                      each disk's own image holds (a qcow2 overlay's\n"
		"                      clusters, a raw file's data) goes over the stream, the\n"
		"                      guest's writes meanwhile follow. The destination names\n"
		"                      its copy with --disk (made when missing) and must have\n"
		"                      the same base image (checked by SHA-256; see its\n"
		"                      --base-dir)\n"
		"  -h, --help          this help\n");
}

static long long jint(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

/* Runs a QMP command whose reply is only "done" (args is consumed); -1
 * after saying why. */
static int command(struct qmp_client_conn *c, const char *name, const char *cmd, json_t *args)
{
	char err[512];
	json_t *r = qmp_client_execute(c, cmd, args, err, sizeof(err));
	json_decref(args);
	if (!r) {
		fprintf(stderr, "tern: %s: %s\n", name, err);
		return -1;
	}
	json_decref(r);
	return 0;
}

static void show(json_t *m, int tty, int final)
{
	json_t *ram = json_object_get(m, "ram");
	long long total = jint(ram, "total"), rem = jint(ram, "remaining");
	long long done_pages = jint(ram, "normal") + jint(ram, "duplicate");
	double pct = total ? 100.0 * (double)done_pages * 4096 / (double)total : 0;
	if (pct > 100)
		pct = 100;
	const char *st = json_string_value(json_object_get(m, "status"));
	char line[320], dl[64] = "";
	json_t *disk = json_object_get(m, "disk");
	if (disk)
		snprintf(dl, sizeof(dl), "  disk %lld/%lld MiB", (jint(disk, "total") - jint(disk, "remaining")) >> 20,
			 jint(disk, "total") >> 20);
	snprintf(line, sizeof(line), "%-9s %5.1f%%  %7.1f MB/s  remaining %6.1f MiB  round %lld  "
		 "expected downtime %lld ms  throttle %lld%%%s",
		 st ? st : "?", pct, json_real_value(json_object_get(ram, "mbps")) / 8,
		 (double)rem / 1048576, jint(m, "x-rounds"), jint(m, "expected-downtime"),
		 jint(m, "cpu-throttle-percentage"), dl);
	if (tty && !final)
		fprintf(stderr, "\r%s\033[K", line);
	else if (!final)
		fprintf(stderr, "%s\n", line);
}

int cli_migrate(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "downtime-ms", required_argument, NULL, 'd' },
		{ "bandwidth", required_argument, NULL, 'b' },
		{ "stop-copy", no_argument, NULL, 's' },
		{ "compress", no_argument, NULL, 'z' },
		{ "no-xbzrle", no_argument, NULL, 'X' },
		{ "device-state", required_argument, NULL, 'D' },
		{ "postcopy", no_argument, NULL, 'p' },
		{ "postcopy-after-precopy", no_argument, NULL, 'P' },
		{ "keep-source", no_argument, NULL, 'k' },
		{ "copy-storage", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long long downtime = -1, bandwidth = -1;
	int stopcopy = 0, postcopy = 0, compress = 0, keep = 0, copy_storage = 0, xbzrle = 1, fallback = 0, ch;
	const char *devstate = "save";
	char *end;
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			downtime = strtoll(optarg, &end, 10);
			if (*end || downtime < 1 || downtime > 2000000) {
				fprintf(stderr, "tern: --downtime-ms takes 1..2000000, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'b':
			bandwidth = strtoll(optarg, &end, 10);
			if (*end || bandwidth < 1) {
				fprintf(stderr, "tern: --bandwidth takes a positive number of MB/s, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 's': stopcopy = 1; break;
		case 'z': compress = 1; break;
		case 'X': xbzrle = 0; break;
		case 'D':
			if (strcmp(optarg, "save") && strcmp(optarg, "log")) {
				fprintf(stderr, "tern: --device-state takes save or log, not '%s'\n", optarg);
				return 2;
			}
			devstate = optarg;
			break;
		case 'k': keep = 1; break;
		case 'c': copy_storage = 1; break;
		case 'p': postcopy = 1; break;
		case 'P': fallback = 1; break;
		case 'h': usage(stdout); return 0;
		case ':':
			fprintf(stderr, "tern: option '%s' needs a value (see 'tern migrate --help')\n", argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "tern: unknown option '%s' (see 'tern migrate --help')\n", argv[optind - 1]);
			return 2;
		}
	}
	if (stopcopy + postcopy + fallback > 1) {
		fprintf(stderr, "tern: --stop-copy, --postcopy and --postcopy-after-precopy exclude each other\n");
		return 2;
	}
	if (argc - optind != 2) {
		fprintf(stderr, "tern: migrate needs NAME and tcp:HOST:PORT (see 'tern migrate --help')\n");
		return 2;
	}
	const char *name = argv[optind], *uri = argv[optind + 1];
	if (!mig_uri_is_stream(uri) || !strncmp(uri, "fd:", 3)) {
		fprintf(stderr, "tern: '%s' is not tcp:HOST:PORT, unix:PATH or exec:CMD (for a file, "
			"use 'tern snapshot')\n", uri);
		return 2;
	}
	char path[256], err[512];
	if (qmp_client_resolve(name, path, sizeof(path), err, sizeof(err))) {
		fprintf(stderr, "tern: %s\n", err);
		return 1;
	}
	struct qmp_client_conn *c = qmp_client_open(path, 30000, err, sizeof(err));
	if (!c) {
		fprintf(stderr, "tern: %s\n", err);
		return 1;
	}
	int rc = 1;
	json_t *params = json_pack("{s:s,s:s,s:s}", "mode",
				   stopcopy ? "stop-copy" : postcopy ? "postcopy" : "precopy",
				   "compress", compress ? "zstd" : "none", "x-device-state", devstate);
	if (downtime > 0)
		json_object_set_new(params, "downtime-limit", json_integer(downtime));
	json_object_set_new(params, "x-postcopy-after-precopy", json_boolean(fallback));
	json_object_set_new(params, "max-bandwidth", json_integer(bandwidth > 0 ? bandwidth * 1000000 : 0));
	if (command(c, name, "migrate-set-parameters", params) ||
	    command(c, name, "migrate-set-capabilities", json_pack("{s:[{s:s,s:b}]}", "capabilities",
								    "capability", "xbzrle", "state", xbzrle)) ||
	    command(c, name, "migrate", json_pack("{s:s,s:b}", "uri", uri, "blk", copy_storage)))
		goto out;
	int tty = isatty(2);
	json_t *m = NULL;
	for (;;) {
		json_decref(m);
		m = qmp_client_execute(c, "query-migrate", NULL, err, sizeof(err));
		if (!m) {
			fprintf(stderr, "\ntern: %s: %s\n", name, err);
			goto out;
		}
		const char *st = json_string_value(json_object_get(m, "status"));
		if (st && (!strcmp(st, "completed") || !strcmp(st, "failed") || !strcmp(st, "cancelled") ||
			   !strcmp(st, "postcopy-paused")))
			break;
		show(m, tty, 0);
		struct timespec ts = { 0, tty ? 200000000 : 999000000 };
		nanosleep(&ts, NULL);
	}
	if (tty)
		fprintf(stderr, "\r\033[K");
	const char *st = json_string_value(json_object_get(m, "status"));
	json_t *ram = json_object_get(m, "ram"), *bd = json_object_get(m, "x-downtime-breakdown");
	if (!strcmp(st, "completed")) {
		printf("%s: migrated to %s in %lld ms; downtime %lld ms (memory %lld, cpu %lld, devices %lld, "
		       "other %lld); %lld MiB sent, %lld pages, %lld zero, %lld rounds\n", name, !strncmp(uri, "tcp:", 4) ? uri + 4 : uri,
		       jint(m, "total-time"), jint(m, "downtime"), jint(bd, "memory"), jint(bd, "cpu"),
		       jint(bd, "devices"), jint(bd, "other"), jint(ram, "transferred") >> 20,
		       jint(ram, "normal"), jint(ram, "duplicate"), jint(m, "x-rounds"));
		json_t *ds = json_object_get(m, "x-device-state");
		json_t *dsave = json_object_get(ds, "save"), *dlog = json_object_get(ds, "log");
		printf("%s: device state sent by %s; save %lld bytes in %lld us, log %lld bytes "
		       "(%lld entries) in %lld us\n", name, json_string_value(json_object_get(ds, "method")),
		       jint(dsave, "bytes"), jint(dsave, "encode-us"), jint(dlog, "bytes"),
		       jint(dlog, "entries"), jint(dlog, "encode-us"));
		if (json_is_true(json_object_get(m, "x-postcopy-after-precopy")))
			printf("%s: pre-copy did not fit the downtime limit after %lld rounds: the rest "
			       "went by post-copy\n", name, jint(m, "x-rounds"));
		json_t *xb = json_object_get(m, "xbzrle-cache");
		if (xb)
			printf("%s: xbzrle: %lld pages sent as %lld bytes of deltas, %lld not cached, "
			       "%lld too changed; cache %lld MiB\n", name, jint(xb, "pages"), jint(xb, "bytes"),
			       jint(xb, "cache-miss"), jint(xb, "overflow"), jint(xb, "cache-size") >> 20);
		json_t *disk = json_object_get(m, "disk");
		if (disk)
			printf("%s: disks copied: %lld MiB held by the images at the start, %lld MiB sent; "
			       "downtime share %lld ms\n", name, jint(disk, "total") >> 20,
			       jint(disk, "transferred") >> 20, jint(bd, "disk"));
		rc = 0;
		if (!keep)
			json_decref(qmp_client_execute(c, "quit", NULL, err, sizeof(err)));
	} else {
		const char *why = json_string_value(json_object_get(m, "error-desc"));
		if (!strcmp(st, "postcopy-paused"))
			fprintf(stderr, "tern: %s: %s\n", name, why ? why : "post-copy failed");
		else
			fprintf(stderr, "tern: %s: migration %s%s%s; the VM keeps running here\n", name, st,
				why ? ": " : "", why ? why : "");
	}
	json_decref(m);
out:
	qmp_client_close(c);
	return rc;
}
