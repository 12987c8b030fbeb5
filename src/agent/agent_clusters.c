/* ternd's /api/v1/clusters endpoints (docs/API.md): projects placed on the
 * cluster's hosts, listed with their machines' hosts and states, brought up
 * from a project file and down, each in a thread of its own (src/cluster/xhost.c). */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "agent/agent.h"
#include "agent/records.h"
#include "cluster/project.h"
#include "cluster/xhost.h"

struct cluster_job {
	struct agent *a;
	struct project *p;          /* up; NULL: down */
	char name[REC_NAME_MAX + 1];
	char dir[PATH_MAX];
};

static int reply_err(json_t **out, int status, const char *msg)
{
	*out = json_pack("{s:s}", "error", msg);
	return status;
}

static void *job_run(void *arg)
{
	struct cluster_job *j = arg;
	struct xhost_ctx c = { .store = j->a->store, .token = j->a->token, .out = stderr, .tls_dir = j->a->tls_dir };
	char err[512] = "";
	int rc = j->p ? xhost_up(&c, j->p, j->dir, XHOST_DEFAULT_COEFF, err, sizeof(err))
		      : xhost_down(&c, j->name, err, sizeof(err));
	if (rc)
		fprintf(stderr, "ternd: cluster %s %s: %s\n", j->name, j->p ? "up" : "down",
			err[0] ? err : "a machine failed");
	project_free(j->p);
	free(j);
	return NULL;
}

static int job_start(struct cluster_job *j, json_t **out)
{
	pthread_t t;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&t, &at, job_run, j);
	pthread_attr_destroy(&at);
	if (rc) {
		project_free(j->p);
		free(j);
		return reply_err(out, 500, "cannot start a thread");
	}
	return 0;
}

static int cluster_up(struct agent *a, json_t *body, json_t **out)
{
	const char *file = json_string_value(json_object_get(body, "file"));
	if (!file || file[0] != '/')
		return reply_err(out, 400, "file: the absolute path of a project file on this host is needed");
	char *diag = NULL;
	size_t dlen = 0;
	FILE *d = open_memstream(&diag, &dlen);
	struct project *p = d ? project_load(file, NULL, d) : NULL;
	if (d)
		fclose(d);
	if (!p) {
		/* The first problem, as FILE:LINE: message. */
		if (diag)
			diag[strcspn(diag, "\n")] = 0;
		int st = reply_err(out, 400, diag && *diag ? diag : "the project file cannot be read");
		free(diag);
		return st;
	}
	free(diag);
	/* Refused now, with the reason, rather than in the job's log. */
	struct xhost_ctx c = { .store = a->store, .token = a->token, .tls_dir = a->tls_dir };
	char err[512];
	int rc = xhost_check(&c, p, XHOST_DEFAULT_COEFF, err, sizeof(err));
	if (rc) {
		project_free(p);
		return reply_err(out, rc == -ENOSPC ? 409 : 503, err);
	}
	struct cluster_job *j = calloc(1, sizeof(*j));
	if (!j) {
		project_free(p);
		return reply_err(out, 500, "out of memory");
	}
	j->a = a;
	j->p = p;
	snprintf(j->name, sizeof(j->name), "%s", p->name);
	snprintf(j->dir, sizeof(j->dir), "%s/clusters", a->state_dir);
	mkdir(j->dir, 0755);
	snprintf(j->dir, sizeof(j->dir), "%s/clusters/%s", a->state_dir, p->name);
	mkdir(j->dir, 0755);
	char name[REC_NAME_MAX + 1];
	snprintf(name, sizeof(name), "%s", p->name);
	int st = job_start(j, out);
	if (st)
		return st;
	*out = json_pack("{s:s,s:s}", "name", name, "state", "starting");
	return 202;
}

int agent_clusters_handle(struct agent *a, const char *method, int nseg, char seg[][128], json_t *body,
			  json_t **out)
{
	struct xhost_ctx c = { .store = a->store, .token = a->token, .tls_dir = a->tls_dir };
	char err[512];
	int get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
	if (nseg == 1 && get) {
		*out = xhost_list(&c, err, sizeof(err));
		return *out ? 200 : reply_err(out, 503, err);
	}
	if (nseg == 1 && post)
		return cluster_up(a, body, out);
	if (nseg >= 2 && !rec_name_ok(seg[1]))
		return reply_err(out, 400, "not a project name");
	if (nseg == 2 && get) {
		int rc;
		*out = xhost_status(&c, seg[1], &rc, err, sizeof(err));
		return *out ? 200 : reply_err(out, rc == -ENOENT ? 404 : 503, err);
	}
	if (nseg == 3 && !strcmp(seg[2], "down") && post) {
		int rc;
		json_t *st = xhost_status(&c, seg[1], &rc, err, sizeof(err));
		if (!st)
			return reply_err(out, rc == -ENOENT ? 404 : 503, err);
		json_decref(st);
		struct cluster_job *j = calloc(1, sizeof(*j));
		if (!j)
			return reply_err(out, 500, "out of memory");
		j->a = a;
		snprintf(j->name, sizeof(j->name), "%s", seg[1]);
		int r = job_start(j, out);
		if (r)
			return r;
		*out = json_pack("{s:s,s:s}", "name", seg[1], "state", "stopping");
		return 202;
	}
	return reply_err(out, (nseg <= 3) ? 405 : 404, "clusters: GET /clusters[/NAME], POST /clusters "
			 "{\"file\"}, POST /clusters/NAME/down");
}
