/* ternd's API endpoints (docs/API.md): hosts, VMs and their actions, the
 * incoming side of migrations. A request about a VM that runs on another
 * host is passed on to that host's agent. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "agent/agent.h"
#include "agent/api_client.h"
#include "agent/records.h"
#include "store/store.h"

static int fail(json_t **out, int status, const char *fmt, const char *arg)
{
	char msg[600];
	snprintf(msg, sizeof(msg), fmt, arg);
	*out = json_pack("{s:s}", "error", msg);
	return status;
}

static int store_fail(struct agent *a, json_t **out, int rc)
{
	if (rc == -ENOTCONN)
		return fail(out, 503, "the store is unreachable: %s", store_error(a->store));
	return fail(out, 500, "store: %s", store_error(a->store));
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

/* Passes the request on to host's agent. */
static int forward(struct agent *a, const char *host, const char *method, const char *path,
		   json_t *body, json_t **out)
{
	json_t *hosts = NULL, *h;
	if (rec_hosts(a->store, &hosts) || !(h = rec_host_find(hosts, host))) {
		json_decref(hosts);
		return fail(out, 404, "no host %s", host);
	}
	json_decref(hosts);
	if (strcmp(jstr(h, "state"), "up") && strcmp(jstr(h, "state"), "draining")) {
		int r = fail(out, 503, "host %s is not up", host);
		json_decref(h);
		return r;
	}
	char url[256], full[600], err[512];
	snprintf(url, sizeof(url), "%s", jstr(h, "api"));
	json_decref(h);
	/* A GET's parameters (the "query" agent_http.c made of them) go on in
	 * the URL; via= says the request was logged here, not there. */
	const char *query = json_string_value(json_object_get(body, "query"));
	if (!strcmp(method, "GET") && query) {
		snprintf(full, sizeof(full), "/api/v1%s?%s&via=%s", path, query, a->host);
		body = NULL;
	} else {
		snprintf(full, sizeof(full), "/api/v1%s?via=%s", path, a->host);
	}
	struct api_auth auth = { .token = a->token, .tls_dir = a->tls_dir };
	int st = api_call(url, &auth, method, full, body, out, 600000, err, sizeof(err));
	if (st < 0) {
		json_decref(*out);
		return fail(out, 502, "%s", err);
	}
	return st;
}

/* A VM record merged with what its host reports (this host: live). */
static json_t *vm_view_of(struct agent *a, json_t *rec, json_t *hosts);

static json_t *vm_view(struct agent *a, json_t *rec, json_t *hosts)
{
	json_t *v = vm_view_of(a, rec, hosts);
	json_t *proj = json_object_get(rec, "project");
	if (proj)
		json_object_set(v, "project", proj);
	return v;
}

static json_t *vm_view_of(struct agent *a, json_t *rec, json_t *hosts)
{
	if (!strcmp(jstr(rec, "host"), a->host)) {
		json_t *v = json_pack("{s:s,s:s,s:s,s:O}", "name", jstr(rec, "name"), "host", a->host,
				      "desired", jstr(rec, "state"), "spec", json_object_get(rec, "spec"));
		pthread_mutex_lock(&a->lock);
		struct agent_vm *lv = agent_vm_find(a, jstr(rec, "name"));
		json_t *live = lv ? agent_vm_json(lv) : json_pack("{s:s}", "state", "stopped");
		pthread_mutex_unlock(&a->lock);
		json_object_update(v, live);
		json_decref(live);
		return v;
	}
	json_t *v = json_pack("{s:s,s:s,s:s,s:O}", "name", jstr(rec, "name"), "host", jstr(rec, "host"),
			      "desired", jstr(rec, "state"), "spec", json_object_get(rec, "spec"));
	json_t *h = rec_host_find(hosts, jstr(rec, "host"));
	const char *state = "stopped";
	if (h && !strcmp(jstr(h, "state"), "down"))
		state = "unknown";
	size_t i;
	json_t *rv;
	json_array_foreach(json_object_get(h, "vms"), i, rv) {
		if (!strcmp(jstr(rv, "name"), jstr(rec, "name"))) {
			state = jstr(rv, "state");
			const char *k;
			json_t *x;
			json_object_foreach(rv, k, x)
				if (strcmp(k, "name") && strcmp(k, "state"))
					json_object_set(v, k, x);
		}
	}
	json_object_set_new(v, "state", json_string(state));
	json_decref(h);
	return v;
}

static int list_vms(struct agent *a, json_t **out, const char *only)
{
	struct store_kv *kvs;
	size_t n;
	json_t *hosts = NULL;
	int rc = store_list(a->store, REC_VMS, &kvs, &n, NULL);
	if (rc || (rc = rec_hosts(a->store, &hosts)))
		return store_fail(a, out, rc);
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *rec = json_loads(kvs[i].value, 0, NULL);
		if (json_is_object(rec) && (!only || !strcmp(jstr(rec, "name"), only)))
			json_array_append_new(arr, vm_view(a, rec, hosts));
		json_decref(rec);
	}
	store_kvs_free(kvs, n);
	json_decref(hosts);
	if (only) {
		if (!json_array_size(arr)) {
			json_decref(arr);
			return fail(out, 404, "no VM %s", only);
		}
		*out = json_incref(json_array_get(arr, 0));
		json_decref(arr);
		return 200;
	}
	*out = json_pack("{s:o}", "vms", arr);
	return 200;
}

static int create_vm(struct agent *a, json_t *body, json_t **out)
{
	const char *name = jstr(body, "name"), *host = jstr(body, "host");
	char err[512], why[256];
	if (!json_is_object(body))
		return fail(out, 400, "%s", "body: a JSON object {\"name\",\"spec\"} is needed");
	if (!rec_name_ok(name))
		return fail(out, 400, "name: '%s' is not 1-63 of A-Z a-z 0-9 _ . -", name);
	if (!host[0])
		host = a->host;
	if (!rec_name_ok(host))
		return fail(out, 400, "host: '%s' is not a host name", host);
	json_t *spec = json_object_get(body, "spec");
	if (agent_spec_check(spec, err, sizeof(err)))
		return fail(out, 400, "%s", err);
	if (!strcmp(host, a->host) && !agent_host_accepts(a, why, sizeof(why)))
		return fail(out, 409, "%s", why);
	json_t *proj = json_object_get(body, "project");
	if (proj && (!json_is_string(proj) || !rec_name_ok(json_string_value(proj))))
		return fail(out, 400, "%s", "project: a name of 1-63 of A-Z a-z 0-9 _ . -");
	json_t *rec = json_pack("{s:s,s:s,s:s,s:O}", "name", name, "host", host, "state", "running",
				"spec", spec);
	if (proj)
		json_object_set(rec, "project", proj);
	char key[128];
	rec_key(key, sizeof(key), REC_VMS, name);
	int rc = rec_cas(a->store, key, 0, rec, 0);
	json_decref(rec);
	if (rc == -ECANCELED)
		return fail(out, 409, "a VM named %s exists already", name);
	if (rc)
		return store_fail(a, out, rc);
	if (!strcmp(host, a->host)) {
		agent_reconcile(a);
		agent_host_publish(a);
	}
	list_vms(a, out, name);
	return 201;
}

/* Sets the record's desired state, retrying on a concurrent change. */
static int set_desired(struct agent *a, const char *name, const char *state, json_t **out)
{
	char key[128];
	rec_key(key, sizeof(key), REC_VMS, name);
	for (int tries = 0; tries < 5; tries++) {
		json_t *rec;
		long long rev;
		int rc = rec_get(a->store, key, &rec, &rev);
		if (rc == -ENOENT)
			return fail(out, 404, "no VM %s", name);
		if (rc)
			return store_fail(a, out, rc);
		json_object_set_new(rec, "state", json_string(state));
		rc = rec_cas(a->store, key, rev, rec, 0);
		json_decref(rec);
		if (rc == 0)
			return 0;
		if (rc != -ECANCELED)
			return store_fail(a, out, rc);
	}
	return fail(out, 409, "the record of %s keeps changing", name);
}

static int wait_gone(struct agent *a, const char *name, int ms)
{
	for (int t = 0; t < ms; t += 100) {
		agent_vm_sample(a);
		pthread_mutex_lock(&a->lock);
		int here = agent_vm_find(a, name) != NULL;
		pthread_mutex_unlock(&a->lock);
		if (!here)
			return 0;
		struct timespec ts = { 0, 100000000 };
		nanosleep(&ts, NULL);
	}
	return -ETIMEDOUT;
}

static int qmp_simple(struct agent *a, const char *name, const char *cmd, json_t **out)
{
	char err[512];
	json_t *r = agent_vm_qmp(a, name, cmd, NULL, err, sizeof(err));
	if (!r)
		return fail(out, 409, "%s", err);
	json_decref(r);
	agent_vm_sample(a);
	return list_vms(a, out, name);
}

static int snapshot_vm(struct agent *a, const char *name, json_t *body, json_t **out)
{
	char err[512], uri[1100], file[1024];
	if (agent_snapshot_path(a, jstr(body, "file"), file, sizeof(file), err, sizeof(err)))
		return fail(out, 400, "%s", err);
	json_t *st = agent_vm_qmp(a, name, "query-status", NULL, err, sizeof(err));
	if (!st)
		return fail(out, 409, "%s", err);
	int was_running = json_is_true(json_object_get(st, "running"));
	json_decref(st);
	if (was_running)
		json_decref(agent_vm_qmp(a, name, "stop", NULL, err, sizeof(err)));
	snprintf(uri, sizeof(uri), "file:%s", file);
	json_t *args = json_pack("{s:s}", "uri", uri);
	json_t *r = agent_vm_qmp(a, name, "migrate", args, err, sizeof(err));
	json_decref(args);
	int status = 200;
	if (!r) {
		status = fail(out, 500, "%s", err);
	} else {
		json_decref(r);
		for (int i = 0; i < 6000; i++) {
			json_t *m = agent_vm_qmp(a, name, "query-migrate", NULL, err, sizeof(err));
			const char *s = jstr(m, "status");
			if (!m || !strcmp(s, "failed") || !strcmp(s, "cancelled")) {
				status = fail(out, 500, "snapshot failed: %s", m ? jstr(m, "error-desc") : err);
				json_decref(m);
				break;
			}
			if (!strcmp(s, "completed")) {
				*out = json_pack("{s:s,s:O}", "file", file, "stats", m);
				json_decref(m);
				break;
			}
			json_decref(m);
			struct timespec ts = { 0, 100000000 };
			nanosleep(&ts, NULL);
		}
	}
	if (was_running)
		json_decref(agent_vm_qmp(a, name, "cont", NULL, err, sizeof(err)));
	return status;
}

static int vm_action(struct agent *a, const char *method, const char *name, const char *action,
		     json_t *body, json_t **out)
{
	json_t *rec;
	long long rev;
	char err[512], path[400];
	int rc = agent_vm_record(a, name, &rec, &rev);
	if (rc == -ENOENT)
		return fail(out, 404, "no VM %s", name);
	if (rc)
		return store_fail(a, out, rc);
	char host[64];
	snprintf(host, sizeof(host), "%s", jstr(rec, "host"));
	json_decref(rec);
	if (!strcmp(action, "") && !strcmp(method, "GET"))
		return list_vms(a, out, name);
	if (!strcmp(action, "start") && !strcmp(method, "POST")) {
		if ((rc = set_desired(a, name, "running", out)))
			return rc;
		if (!strcmp(host, a->host))
			agent_reconcile(a);
		return list_vms(a, out, name);
	}
	/* A migration from here: its report stays here after the VM left. */
	if (!strcmp(action, "migration") && !strcmp(method, "GET")) {
		pthread_mutex_lock(&a->lock);
		struct agent_vm *v = a->vms;
		while (v && (strcmp(v->name, name) || !v->mig.status[0]))
			v = v->next;    /* the newest, also of a VM that left */
		if (v)
			*out = json_pack("{s:s,s:s,s:s,s:s,s:O?,s:I,s:I}", "name", name, "to", v->mig.to,
					 "status", v->mig.status, "error", v->mig.error, "progress",
					 v->mig.progress, "started_ms", (json_int_t)v->mig.started_ms,
					 "finished_ms", (json_int_t)v->mig.finished_ms);
		pthread_mutex_unlock(&a->lock);
		return *out ? 200 : fail(out, 404, "no migration of %s started here", name);
	}
	/* Everything else acts on the process: its host's agent does it. */
	if (strcmp(host, a->host)) {
		snprintf(path, sizeof(path), "/vms/%s%s%s", name, action[0] ? "/" : "", action);
		return forward(a, host, method, path, body, out);
	}
	if (!strcmp(action, "") && !strcmp(method, "DELETE")) {
		pthread_mutex_lock(&a->lock);
		struct agent_vm *v = agent_vm_find(a, name);
		int busy = v && v->migrating;
		pthread_mutex_unlock(&a->lock);
		if (busy)
			return fail(out, 409, "%s is migrating", name);
		agent_vm_kill(a, name);
		char key[128];
		rec_key(key, sizeof(key), REC_VMS, name);
		if ((rc = store_cas(a->store, key, rev, NULL, 0)))
			return rc == -ECANCELED ? fail(out, 409, "the record of %s changed meanwhile", name)
						: store_fail(a, out, rc);
		*out = json_pack("{s:s,s:b}", "name", name, "deleted", 1);
		return 200;
	}
	int web = agent_web_vm_action(a, method, name, action, body, out);
	if (web)
		return web;
	if (strcmp(method, "POST"))
		return fail(out, 405, "%s: use POST", action);
	if (!strcmp(action, "stop") || !strcmp(action, "kill")) {
		int graceful = !strcmp(action, "stop");
		if (graceful) {
			json_t *t = json_object_get(body, "timeout");
			int ms = json_is_integer(t) ? (int)json_integer_value(t) * 1000 : 30000;
			json_t *r = agent_vm_qmp(a, name, "system_powerdown", NULL, err, sizeof(err));
			json_decref(r);
			if (r && wait_gone(a, name, ms) == 0)
				graceful = 2;   /* it powered off by itself */
		}
		if ((rc = set_desired(a, name, "stopped", out)))
			return rc;
		agent_vm_kill(a, name);
		rc = list_vms(a, out, name);
		if (rc == 200)
			json_object_set_new(*out, "graceful", json_boolean(graceful == 2));
		return rc;
	}
	if (!strcmp(action, "pause"))
		return qmp_simple(a, name, "stop", out);
	if (!strcmp(action, "resume"))
		return qmp_simple(a, name, "cont", out);
	if (!strcmp(action, "snapshot"))
		return snapshot_vm(a, name, body, out);
	if (!strcmp(action, "migrate")) {
		const char *to = jstr(body, "to");
		json_t *pc = json_object_get(body, "postcopy"), *cs = json_object_get(body, "copy_storage");
		if (!rec_name_ok(to))
			return fail(out, 400, "to: '%s' is not a host name", to);
		if (pc && !json_is_boolean(pc))
			return fail(out, 400, "%s", "postcopy: true or false");
		if (cs && !json_is_boolean(cs))
			return fail(out, 400, "%s", "copy_storage: true or false");
		json_t *dt = json_object_get(body, "downtime_ms"), *bw = json_object_get(body, "bandwidth");
		if ((dt && (!json_is_integer(dt) || json_integer_value(dt) < 1)) ||
		    (bw && (!json_is_integer(bw) || json_integer_value(bw) < 0)))
			return fail(out, 400, "%s", "downtime_ms: a positive integer; bandwidth: MB/s, 0 or more");
		struct agent_mig_opts o = { .postcopy = json_is_true(pc), .downtime_ms = json_integer_value(dt),
					    .bandwidth_mbs = json_integer_value(bw) };
		if (a->ext && a->ext->mig_defaults)
			a->ext->mig_defaults(a, body, &o.postcopy, &o.downtime_ms, &o.bandwidth_mbs);
		o.copy_storage = json_is_true(cs);
		rc = agent_migrate_start(a, name, to, &o, err, sizeof(err));
		if (rc == -EBUSY)
			return fail(out, 409, "%s", err);
		if (rc)
			return fail(out, rc == -ENOTCONN ? 503 : 400, "%s", err);
		pthread_mutex_lock(&a->lock);
		*out = json_pack("{s:s,s:s,s:s,s:s}", "name", name, "from", a->host, "to", to, "status", "setup");
		pthread_mutex_unlock(&a->lock);
		return 202;
	}
	return fail(out, 404, "no action '%s'", action);
}

static int host_action(struct agent *a, const char *name, const char *action, json_t *body, json_t **out)
{
	char err[512];
	if (!strcmp(action, "wake")) {
		if (rec_host_wake(a->store, name, err, sizeof(err)))
			return fail(out, 409, "%s", err);
		*out = json_pack("{s:s,s:s}", "name", name, "power", "on");
		return 200;
	}
	if (strcmp(name, a->host)) {
		char path[300];
		snprintf(path, sizeof(path), "/hosts/%s/%s", name, action);
		return forward(a, name, "POST", path, body, out);
	}
	if (!strcmp(action, "standby")) {
		int rc = agent_host_standby(a, err, sizeof(err));
		if (rc)
			return fail(out, rc == -EBUSY ? 409 : 500, "%s", err);
		*out = json_pack("{s:s,s:s}", "name", name, "power", "standby");
		return 200;
	}
	if (!strcmp(action, "evacuate")) {
		json_t *cs = json_object_get(body, "copy_storage");
		if (cs && !json_is_boolean(cs))
			return fail(out, 400, "%s", "copy_storage: true or false");
		int rc = agent_evacuate_start_storage(a, json_is_true(cs), err, sizeof(err));
		if (rc)
			return fail(out, rc == -EBUSY ? 409 : 500, "%s", err);
		*out = json_pack("{s:s,s:s}", "name", name, "status", "draining");
		return 202;
	}
	return fail(out, 404, "no host action '%s'", action);
}

int agent_api_handle(struct agent *a, const char *method, const char *path, json_t *body, json_t **out)
{
	char seg[4][128] = { "", "", "", "" };
	int nseg = 0;
	const char *p = path;
	while (*p == '/' && nseg < 4) {
		p++;
		size_t n = strcspn(p, "/");
		if (n == 0 || n >= sizeof(seg[0]))
			return fail(out, 404, "no such path: %s", path);
		memcpy(seg[nseg], p, n);
		seg[nseg++][n] = 0;
		p += n;
	}
	if (*p)
		return fail(out, 404, "no such path: %s", path);
	int get = !strcmp(method, "GET"), post = !strcmp(method, "POST"), del = !strcmp(method, "DELETE");
	int ext_status;
	if (a->ext && a->ext->api && a->ext->api(a, method, path, body, out, &ext_status))
		return ext_status;
	if (nseg == 1 && !strcmp(seg[0], "hosts") && get) {
		int rc = rec_hosts(a->store, out);
		return rc ? store_fail(a, out, rc) : 200;
	}
	if (nseg == 1 && !strcmp(seg[0], "host") && get) {
		json_t *hosts;
		int rc = rec_hosts(a->store, &hosts);
		if (rc)
			return store_fail(a, out, rc);
		*out = rec_host_find(hosts, a->host);
		json_decref(hosts);
		return *out ? 200 : fail(out, 404, "host %s is not registered", a->host);
	}
	if (nseg == 1 && !strcmp(seg[0], "tasks") && get)
		return agent_tasks_list(a, out);
	if (nseg == 3 && !strcmp(seg[0], "hosts") && post)
		return host_action(a, seg[1], seg[2], body, out);
	if (nseg == 1 && !strcmp(seg[0], "vms") && get)
		return list_vms(a, out, NULL);
	if (nseg == 1 && !strcmp(seg[0], "vms") && post)
		return create_vm(a, body, out);
	if ((nseg == 2 || nseg == 3) && !strcmp(seg[0], "vms")) {
		if (!rec_name_ok(seg[1]))
			return fail(out, 400, "'%s' is not a VM name", seg[1]);
		if ((get || del) && nseg == 3 && strcmp(seg[2], "migration") &&
		    !(get && !strcmp(seg[2], "console-log")))
			return fail(out, 405, "%s: use POST", seg[2]);
		int st = vm_action(a, method, seg[1], nseg == 3 ? seg[2] : "", body, out);
		if (!get)
			agent_host_publish(a);   /* others see the change at once */
		return st;
	}
	if (nseg >= 1 && !strcmp(seg[0], "clusters"))
		return agent_clusters_handle(a, method, nseg, seg, body, out);
	if (nseg == 1 && !strcmp(seg[0], "incoming") && post) {
		const char *name = jstr(body, "name"), *key = jstr(body, "key");
		char uri[256], err[512];
		if (!rec_name_ok(name) || strlen(key) < 32)
			return fail(out, 400, "%s", "body: {\"name\", \"key\" (hex, 32+ digits), \"spec\"}");
		json_t *run_spec = NULL;
		int rc = agent_incoming_start_storage(a, name, json_object_get(body, "spec"), key,
						      json_is_true(json_object_get(body, "copy_storage")), &run_spec,
						      uri, sizeof(uri), err, sizeof(err));
		if (rc)
			return fail(out, rc == -EBUSY ? 409 : 500, "%s", err);
		*out = json_pack("{s:s,s:s,s:o}", "name", name, "uri", uri, "spec", run_spec ? run_spec : json_object());
		return 201;
	}
	if (nseg == 2 && !strcmp(seg[0], "incoming") && del) {
		if (!rec_name_ok(seg[1]))
			return fail(out, 400, "'%s' is not a VM name", seg[1]);
		int rc = agent_incoming_abort(a, seg[1]);
		if (rc)
			return fail(out, 404, "no incoming migration of %s", seg[1]);
		*out = json_pack("{s:s,s:b}", "name", seg[1], "aborted", 1);
		return 200;
	}
	return fail(out, 404, "no such path: %s", path);
}
