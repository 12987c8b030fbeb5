/* `tern cluster snapshot NAME DIR` and `tern cluster restore DIR`: pause
 * every machine, save each (QMP migrate to file:DIR/MACHINE.snap) with a
 * copy of its disks, resume them; restore starts the switches and every
 * machine from its snapshot (tern run --incoming). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include "cli/cli.h"
#include "cli/cluster.h"
#include "cluster/launch.h"
#include "cluster/project.h"
#include "cluster/state.h"
#include "cluster/supervise.h"
#include "ctl/qmp_client.h"

#define SAVE_TIMEOUT_MS 600000

/* Copies src to dst, keeping holes (64 KiB zero blocks become holes). */
static int copy_sparse(const char *src, const char *dst, char *err, size_t errlen)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	int out = in < 0 ? -1 : open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	static const char zero[65536];
	char *buf = malloc(sizeof(zero));
	off_t size = 0;
	int rc = in < 0 || out < 0 || !buf ? -1 : 0;
	while (!rc) {
		ssize_t n = read(in, buf, sizeof(zero));
		if (n < 0) {
			rc = -1;
			break;
		}
		if (n == 0)
			break;
		if ((size_t)n == sizeof(zero) && !memcmp(buf, zero, sizeof(zero))) {
			if (lseek(out, n, SEEK_CUR) < 0)
				rc = -1;
		} else if (write(out, buf, (size_t)n) != n) {
			rc = -1;
		}
		size += n;
	}
	if (!rc && ftruncate(out, size))
		rc = -1;
	if (rc)
		snprintf(err, errlen, "cannot copy %s to %s: %s", src, dst, strerror(errno));
	free(buf);
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out))
		rc = -1;
	return rc;
}

/* DIR/MACHINE.diskK: where a snapshot keeps disk k of a machine. */
static void snap_disk_path(const char *snapdir, const char *machine, size_t k, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s.disk%zu", snapdir, machine, k);
}

static int qmp_simple(const char *qmp, const char *cmd, json_t *args, int timeout_ms, char *err, size_t errlen)
{
	struct qmp_client_conn *c = qmp_client_open(qmp, timeout_ms, err, errlen);
	if (!c)
		return -1;
	json_t *r = qmp_client_execute(c, cmd, args, err, errlen);
	qmp_client_close(c);
	json_decref(r);
	return r ? 0 : -1;
}

int cli_cluster_snapshot(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: tern cluster snapshot NAME DIR\n\n"
		       "Checkpoint a running project into DIR: pause every machine, save each\n"
		       "(devices, harts, RAM) to DIR/MACHINE.snap with a copy of its disks, then\n"
		       "resume them all. 'tern cluster restore DIR' brings the cluster back.\n");
		return 0;
	}
	if (argc != 3) {
		fprintf(stderr, "tern: cluster snapshot needs NAME and DIR (see 'tern cluster snapshot --help')\n");
		return 2;
	}
	char dir[PATH_MAX], snapdir[PATH_MAX], err[512], path[PATH_MAX], dst[2 * PATH_MAX];
	struct state st;
	if (state_find_dir(argv[1], dir, sizeof(dir), err, sizeof(err)) || state_load(dir, &st, err, sizeof(err))) {
		fprintf(stderr, "tern: %s\n", err);
		return 1;
	}
	struct project *p = state_load_project(dir, &st, stderr);
	int rc = 1;
	size_t paused = 0;
	if (!p)
		goto out;
	for (size_t i = 0; i < st.nmachines; i++) {
		if (!state_pid_alive(st.machines[i].pid, st.machines[i].pid_start) ||
		    project_machine_index(p, st.machines[i].name) < 0) {
			fprintf(stderr, "tern: machine '%s' is not running: 'tern cluster up' first\n", st.machines[i].name);
			goto out;
		}
	}
	if ((mkdir(argv[2], 0755) && errno != EEXIST) || !realpath(argv[2], snapdir)) {
		fprintf(stderr, "tern: cannot create %s: %s\n", argv[2], strerror(errno));
		goto out;
	}
	double t0 = state_now();
	/* Pause all first, so that the machines are saved at one moment. */
	for (; paused < st.nmachines; paused++) {
		if (qmp_simple(st.machines[paused].qmp, "stop", NULL, 5000, err, sizeof(err))) {
			fprintf(stderr, "tern: %s: cannot pause: %s\n", st.machines[paused].name, err);
			goto out;
		}
	}
	printf("[%6.1fs] paused %zu machines\n", state_now() - t0, paused);
	for (size_t i = 0; i < st.nmachines; i++) {
		const struct state_machine *m = &st.machines[i];
		size_t mi = (size_t)project_machine_index(p, m->name);
		snprintf(dst, sizeof(dst), "file:%s/%s.snap", snapdir, m->name);
		json_t *args = json_pack("{s:s}", "uri", dst);
		int r = qmp_simple(m->qmp, "migrate", args, SAVE_TIMEOUT_MS, err, sizeof(err));
		json_decref(args);
		if (r) {
			fprintf(stderr, "tern: %s: cannot save: %s\n", m->name, err);
			goto out;
		}
		const struct project_machine *pm = &p->machines[mi];
		for (size_t k = 0; k < pm->ndisks; k++) {
			launch_disk_path(p, mi, k, dir, path, sizeof(path));
			snap_disk_path(snapdir, m->name, k, dst, sizeof(dst));
			if (copy_sparse(path, dst, err, sizeof(err))) {
				fprintf(stderr, "tern: %s\n", err);
				goto out;
			}
		}
		printf("[%6.1fs] %s: saved to %s/%s.snap with %zu disk%s\n", state_now() - t0, m->name, snapdir,
		       m->name, pm->ndisks, pm->ndisks == 1 ? "" : "s");
	}
	/* The project file and where its relative paths point. */
	state_path(dir, NULL, "project.xml", path, sizeof(path));
	snprintf(dst, sizeof(dst), "%s/project.xml", snapdir);
	json_t *meta = json_pack("{s:i,s:s,s:s,s:f}", "version", 1, "name", st.name, "source", st.source,
				 "saved_at", state_now());
	snprintf(dst + strlen(snapdir), sizeof(dst) - strlen(snapdir), "/project.xml");
	if (copy_sparse(path, dst, err, sizeof(err)) ||
	    (snprintf(dst, sizeof(dst), "%s/cluster.json", snapdir), json_dump_file(meta, dst, JSON_INDENT(2)))) {
		json_decref(meta);
		fprintf(stderr, "tern: cannot write the snapshot's project files in %s\n", snapdir);
		goto out;
	}
	json_decref(meta);
	rc = 0;
out:
	/* Resume whatever was paused, also after a failure. */
	for (size_t i = 0; i < paused; i++)
		if (qmp_simple(st.machines[i].qmp, "cont", NULL, 5000, err, sizeof(err)))
			fprintf(stderr, "tern: %s: cannot resume: %s\n", st.machines[i].name, err);
	if (!rc)
		printf("project %s: snapshot in %s; %zu machines resumed\n", st.name, snapdir, paused);
	project_free(p);
	state_free(&st);
	return rc;
}

int cli_cluster_restore(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *pdir = NULL;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (c == 'd') {
			pdir = optarg;
		} else if (c == 'h') {
			printf("usage: tern cluster restore DIR [--dir PROJECT_DIR]\n\n"
			       "Bring back a cluster saved by 'tern cluster snapshot': its disks are\n"
			       "copied back into the project folder, its switches started, and every\n"
			       "machine restored from DIR/MACHINE.snap in the project's start order.\n"
			       "The project must be down.\n");
			return 0;
		} else {
			fprintf(stderr, "tern: bad option '%s' (see 'tern cluster restore --help')\n", argv[optind - 1]);
			return 2;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "tern: cluster restore needs DIR (see 'tern cluster restore --help')\n");
		return 2;
	}
	char snapdir[PATH_MAX], path[2 * PATH_MAX], src[2 * PATH_MAX], err[512];
	json_error_t je;
	if (!realpath(argv[optind], snapdir)) {
		fprintf(stderr, "tern: %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/cluster.json", snapdir);
	json_t *meta = json_load_file(path, 0, &je);
	const char *source = json_string_value(json_object_get(meta, "source"));
	if (!source) {
		fprintf(stderr, "tern: %s is not a cluster snapshot (no cluster.json)\n", snapdir);
		json_decref(meta);
		return 1;
	}
	struct state base = { 0 };
	snprintf(base.source, sizeof(base.source), "%s", source);
	struct project *p = state_load_project(snapdir, &base, stderr);
	if (!p) {
		json_decref(meta);
		return 1;
	}
	int rc = 1;
	/* The project must be down: its overlays are about to be replaced. */
	char dir[PATH_MAX];
	struct state st;
	if (!pdir && !state_default_dir(p->name, dir, sizeof(dir)))
		pdir = dir;
	if (pdir && !state_load(pdir, &st, err, sizeof(err))) {
		bool running = false;
		for (size_t i = 0; i < st.nmachines; i++)
			running |= state_pid_alive(st.machines[i].pid, st.machines[i].pid_start);
		state_free(&st);
		if (running) {
			fprintf(stderr, "tern: project %s is running: 'tern cluster down %s' first\n", p->name, p->name);
			goto out;
		}
	}
	if (!pdir) {
		fprintf(stderr, "tern: no project folder (give --dir)\n");
		goto out;
	}
	for (size_t mi = 0; mi < p->nmachines; mi++) {
		const struct project_machine *m = &p->machines[mi];
		snprintf(path, sizeof(path), "%s/%s", pdir, m->name);
		if (mkdir(pdir, 0755) && errno != EEXIST)
			break;
		if (mkdir(path, 0755) && errno != EEXIST) {
			fprintf(stderr, "tern: cannot create %s: %s\n", path, strerror(errno));
			goto out;
		}
		for (size_t k = 0; k < m->ndisks; k++) {
			launch_disk_path(p, mi, k, pdir, path, sizeof(path));
			snap_disk_path(snapdir, m->name, k, src, sizeof(src));
			if (copy_sparse(src, path, err, sizeof(err))) {
				fprintf(stderr, "tern: %s\n", err);
				goto out;
			}
		}
	}
	struct supervise_opts o = { .dir = pdir, .out = stdout, .tty = isatty(1), .snapshot_dir = snapdir,
				    .stop_timeout_s = 10, .source = source };
	snprintf(path, sizeof(path), "%s/project.xml", snapdir);
	int r = supervise_up(p, path, &o, err, sizeof(err));
	if (r < 0)
		fprintf(stderr, "tern: %s\n", err);
	rc = r ? 1 : 0;
out:
	json_decref(meta);
	project_free(p);
	return rc;
}
