/* A project over the hosts of a cluster: placement, the agents' VM records
 * in plan order behind readiness gates, the project's record in the store,
 * status and down. The agents start and stop the processes. */
#define _GNU_SOURCE
#include "cluster/xhost.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "agent/api_client.h"
#include "agent/records.h"
#include "cluster/launch.h"
#include "cluster/plan.h"
#include "cluster/gate.h"
#include "cluster/project.h"
#include "cluster/state.h"
#include "store/store.h"

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void say(const struct xhost_ctx *c, const char *fmt, ...)
{
	if (!c->out)
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(c->out, fmt, ap);
	va_end(ap);
	fflush(c->out);
}

static int host_up(json_t *h)
{
	return h && !strcmp(jstr(h, "state"), "up");
}

int xhost_place(const struct project *p, json_t *hosts, double coeff, char (*where)[64],
		char *err, size_t errlen)
{
	json_t *list = json_object_get(hosts, "hosts");
	size_t nh = json_array_size(list), n = p->nmachines;
	double *room = calloc(nh ? nh : 1, sizeof(*room));
	size_t *order = calloc(n ? n : 1, sizeof(*order));
	int rc = -1;
	if (!room || !order) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t h = 0; h < nh; h++) {
		json_t *o = json_array_get(list, h);
		room[h] = coeff * (double)json_integer_value(json_object_get(o, "mem_total")) -
			  (double)json_integer_value(json_object_get(o, "mem_used"));
	}
	/* Pins first: they take their room whatever the rest needs. */
	for (size_t i = 0; i < n; i++) {
		const struct project_machine *m = &p->machines[i];
		where[i][0] = 0;
		if (!m->host)
			continue;
		size_t h;
		for (h = 0; h < nh && strcmp(jstr(json_array_get(list, h), "name"), m->host); h++)
			;
		if (h == nh) {
			snprintf(err, errlen, "%s:%d: machine '%s': no host '%s' in the cluster (see 'tern host list')",
				 p->path, m->line, m->name, m->host);
			goto out;
		}
		if (!host_up(json_array_get(list, h))) {
			snprintf(err, errlen, "%s:%d: machine '%s': host '%s' is %s", p->path, m->line, m->name,
				 m->host, jstr(json_array_get(list, h), "state"));
			goto out;
		}
		snprintf(where[i], 64, "%s", m->host);
		room[h] -= (double)m->memory;
	}
	/* First-fit decreasing: the largest machine first (file order on ties),
	 * each to the first host by name with room for it. */
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!p->machines[i].host)
			order[k++] = i;
	for (size_t a = 1; a < k; a++)
		for (size_t b = a; b > 0 && p->machines[order[b]].memory > p->machines[order[b - 1]].memory; b--) {
			size_t t = order[b];
			order[b] = order[b - 1];
			order[b - 1] = t;
		}
	for (size_t j = 0; j < k; j++) {
		const struct project_machine *m = &p->machines[order[j]];
		size_t best = nh;
		for (size_t h = 0; h < nh; h++) {
			json_t *o = json_array_get(list, h);
			if (host_up(o) && room[h] >= (double)m->memory &&
			    (best == nh || strcmp(jstr(o, "name"), jstr(json_array_get(list, best), "name")) < 0))
				best = h;
		}
		if (best == nh) {
			snprintf(err, errlen, "%s:%d: machine '%s' (%llu MiB) fits on no host that is up within %.0f %% "
				 "of its memory", p->path, m->line, m->name,
				 (unsigned long long)(m->memory >> 20), coeff * 100);
			goto out;
		}
		snprintf(where[order[j]], 64, "%s", jstr(json_array_get(list, best), "name"));
		room[best] -= (double)m->memory;
	}
	rc = 0;
out:
	free(room);
	free(order);
	return rc;
}

/* A NIC on a project switch names the switch (the agents run it, joined
 * across hosts) instead of a socket in the project folder. */
static const char *switch_net(const struct project *p, const char *dir, const char *net, char *buf,
			      size_t len)
{
	for (size_t si = 0; si < p->nswitches; si++) {
		char sock[PATH_MAX], pre[PATH_MAX + 16];
		if (launch_switch_sock(p, si, dir, sock, sizeof(sock)))
			continue;
		snprintf(pre, sizeof(pre), "vde,sock=%s,", sock);
		if (!strncmp(net, pre, strlen(pre))) {
			snprintf(buf, len, "vde,switch=%s.%s,%s", p->name, p->switches[si].name,
				 net + strlen(pre));
			return buf;
		}
	}
	return net;
}

json_t *xhost_spec(const struct project *p, size_t mi, const char *dir, char *err, size_t errlen)
{
	struct launch_argv av;
	if (launch_machine_argv(p, mi, dir, "tern", &av, err, errlen))
		return NULL;
	json_t *spec = json_object(), *disks = json_array(), *nets = json_array();
	for (size_t i = 2; i + 1 < av.n; i += 2) {
		const char *f = av.v[i], *v = av.v[i + 1];
		if (!strcmp(f, "--disk"))
			json_array_append_new(disks, json_string(v));
		else if (!strcmp(f, "--net")) {
			char net[512];
			json_array_append_new(nets, json_string(switch_net(p, dir, v, net, sizeof(net))));
		}
		else if (!strcmp(f, "--cpus"))
			json_object_set_new(spec, "cpus", json_integer(atoi(v)));
		else if (!strcmp(f, "--kernel") || !strcmp(f, "--initrd") || !strcmp(f, "--append") ||
			 !strcmp(f, "--memory"))
			json_object_set_new(spec, f + 2, json_string(v));
		/* --name and --console are the agent's. */
	}
	launch_argv_free(&av);
	json_object_set_new(spec, "disks", disks);
	json_object_set_new(spec, "nets", nets);
	return spec;
}

static void vm_name(const struct project *p, size_t mi, char *buf, size_t len)
{
	snprintf(buf, len, "%s.%s", p->name, p->machines[mi].name);
}

/* The live state of VM name from the hosts' records: its QMP status on the
 * host the record names, "unknown" when that host is down, else "stopped". */
static const char *live_state(json_t *hosts, const char *host, const char *name)
{
	json_t *h = rec_host_find(hosts, host), *v;
	size_t i;
	const char *st = "stopped";
	if (h && !strcmp(jstr(h, "state"), "down"))
		st = "unknown";
	else if (h)
		json_array_foreach(json_object_get(h, "vms"), i, v)
			if (!strcmp(jstr(v, "name"), name)) {
				st = json_string_value(json_object_get(v, "state"));
				st = st ? st : "starting";
			}
	json_decref(h);
	return st;
}

static int call_host(const struct xhost_ctx *c, const char *host, const char *method, const char *path,
		     json_t *body, json_t **out, int timeout_ms, char *err, size_t errlen)
{
	json_t *hosts = NULL, *h;
	if (rec_hosts(c->store, &hosts)) {
		snprintf(err, errlen, "the store: %s", store_error(c->store));
		return -1;
	}
	h = rec_host_find(hosts, host);
	json_decref(hosts);
	if (!h || strcmp(jstr(h, "state"), "down") == 0 || !jstr(h, "api")[0]) {
		snprintf(err, errlen, "host %s is %s", host, h ? jstr(h, "state") : "unknown");
		json_decref(h);
		return -1;
	}
	struct api_auth auth = { .token = c->token, .tls_dir = c->tls_dir, .ca_pem = c->ca_pem };
	int st = api_call(jstr(h, "api"), &auth, method, path, body, out, timeout_ms, err, errlen);
	json_decref(h);
	return st;
}

static int save_rec(const struct xhost_ctx *c, json_t *rec)
{
	char key[160];
	rec_key(key, sizeof(key), XHOST_REC, jstr(rec, "name"));
	char *t = json_dumps(rec, JSON_COMPACT);
	int rc = t ? store_put(c->store, key, t, 0) : -ENOMEM;
	free(t);
	return rc;
}

/* text with every byte but RFC 3986's unreserved ones %-encoded. */
static void url_encode(const char *text, char *buf, size_t len)
{
	size_t o = 0;
	for (const unsigned char *t = (const unsigned char *)text; *t && o + 4 < len; t++) {
		if (isalnum(*t) || strchr("-._~", *t))
			buf[o++] = (char)*t;
		else
			o += (size_t)snprintf(buf + o, len - o, "%%%02X", *t);
	}
	buf[o] = 0;
}

/* Is machine mi's gate open? 1 yes, 0 not yet, -1 it failed (err). vm
 * runs on host; a console gate asks that host's agent to search the VM's
 * console log. */
static int gate_open(const struct xhost_ctx *c, const struct project *p, size_t mi, const char *host,
		     const char *vm, const char *state, double started, char *err, size_t errlen)
{
	const struct project_ready *r = &p->machines[mi].ready;
	if (!strcmp(state, "stopped") || !strcmp(state, "shutdown") || !strcmp(state, "guest-panicked") ||
	    !strcmp(state, "internal-error")) {
		snprintf(err, errlen, "machine %s is %s", p->machines[mi].name, state);
		return -1;
	}
	if (strcmp(state, "running"))
		return 0;
	switch (r->kind) {
	case PROJECT_READY_DELAY:
		return now_s() - started >= r->delay_s;
	case PROJECT_READY_TCP:
		return gate_tcp_accepts(r->tcp_host, r->tcp_port);
	case PROJECT_READY_CONSOLE: {
		char text[3 * 256 + 1], path[1200], why[256];
		url_encode(r->console, text, sizeof(text));
		snprintf(path, sizeof(path), "/api/v1/vms/%s/console-log?match=%s", vm, text);
		json_t *out = NULL;
		int st = call_host(c, host, "GET", path, NULL, &out, 10000, why, sizeof(why));
		int found = st == 200 && json_is_true(json_object_get(out, "match"));
		json_decref(out);
		return found;       /* an agent that does not answer now may later */
	}
	default:
		return 1;
	}
}

int xhost_check(const struct xhost_ctx *c, const struct project *p, double coeff, char *err, size_t errlen)
{
	json_t *hosts = NULL;
	if (rec_hosts(c->store, &hosts)) {
		snprintf(err, errlen, "the store: %s", store_error(c->store));
		return -EIO;
	}
	char (*where)[64] = calloc(p->nmachines ? p->nmachines : 1, sizeof(*where));
	int rc = !where ? -ENOMEM : xhost_place(p, hosts, coeff, where, err, errlen) ? -ENOSPC : 0;
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	free(where);
	json_decref(hosts);
	return rc;
}

int xhost_up(const struct xhost_ctx *c, const struct project *p, const char *dir, double coeff,
	     char *err, size_t errlen)
{
	size_t n = p->nmachines;
	json_t *hosts = NULL;
	if (rec_hosts(c->store, &hosts)) {
		snprintf(err, errlen, "the store: %s", store_error(c->store));
		return -1;
	}
	char (*where)[64] = calloc(n ? n : 1, sizeof(*where));
	double *started = calloc(n ? n : 1, sizeof(double)), *ready = calloc(n ? n : 1, sizeof(double));
	struct plan pl = { 0 };
	json_t *rec = NULL;
	int rc = -1;
	if (!where || !started || !ready || plan_build(p, &pl)) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	/* A machine already recorded keeps its host. */
	json_t *old = NULL;
	char key[160];
	rec_key(key, sizeof(key), XHOST_REC, p->name);
	rec_get(c->store, key, &old, NULL);
	if (xhost_place(p, hosts, coeff, where, err, errlen)) {
		json_decref(old);
		goto out;
	}
	size_t i;
	json_t *om;
	json_array_foreach(json_object_get(old, "machines"), i, om) {
		int mi = project_machine_index(p, jstr(om, "name"));
		if (mi >= 0 && jstr(om, "host")[0] && !p->machines[mi].host)
			snprintf(where[mi], 64, "%s", jstr(om, "host"));
	}
	json_decref(old);
	rec = json_pack("{s:s,s:s,s:s,s:s,s:[],s:[]}", "name", p->name, "state", "starting", "file", p->path,
			"dir", dir, "machines", "switches");
	for (size_t k = 0; k < pl.n; k++) {
		size_t mi = pl.order[k];
		json_array_append_new(json_object_get(rec, "machines"),
				      json_pack("{s:s,s:i,s:s,s:n}", "name", p->machines[mi].name, "priority",
						p->machines[mi].priority, "host", where[mi], "ready_at"));
		say(c, "%s: on %s\n", p->machines[mi].name, where[mi]);
	}
	for (size_t si = 0; si < p->nswitches; si++)
		json_array_append_new(json_object_get(rec, "switches"), json_pack("{s:s}", "name", p->switches[si].name));
	if (save_rec(c, rec)) {
		snprintf(err, errlen, "the store: %s", store_error(c->store));
		goto out;
	}
	double t0 = now_s();
	rc = 0;
	for (size_t g = 0; g < pl.ngroups && rc == 0; g++) {
		struct plan_group *gr = &pl.groups[g];
		for (;;) {
			size_t left = 0;
			for (size_t j = 0; j < gr->n && rc == 0; j++) {
				size_t mi = gr->machines[j];
				const struct project_machine *m = &p->machines[mi];
				char name[140], path[200], why[512];
				if (ready[mi] > 0)
					continue;
				left++;
				int deps = 1;
				for (size_t d = 0; d < m->ndepends; d++)
					deps &= ready[m->depends[d]] > 0;
				if (!deps)
					continue;
				vm_name(p, mi, name, sizeof(name));
				if (!started[mi]) {
					if (launch_prepare_machine(p, mi, dir, why, sizeof(why))) {
						say(c, "%s: %s\n", m->name, why);
						rc = 1;
						break;
					}
					json_t *spec = xhost_spec(p, mi, dir, why, sizeof(why)), *r = NULL;
					json_t *body = json_pack("{s:s,s:s,s:o,s:s}", "name", name, "host", where[mi],
								 "spec", spec ? spec : json_object(), "project", p->name);
					int st = spec ? call_host(c, where[mi], "POST", "/api/v1/vms", body, &r, 60000,
								  why, sizeof(why)) : -1;
					json_decref(body);
					json_decref(r);
					if (st != 201 && st != 409) {
						say(c, "%s: cannot start on %s: %s\n", m->name, where[mi], why);
						rc = 1;
						break;
					}
					started[mi] = now_s();
					say(c, "[%6.1fs] %s: starting on %s\n", now_s() - t0, m->name, where[mi]);
				}
				json_t *hs = NULL;
				if (rec_hosts(c->store, &hs))
					continue;   /* the store may come back */
				snprintf(path, sizeof(path), "%s", live_state(hs, where[mi], name));
				json_decref(hs);
				int o = gate_open(c, p, mi, where[mi], name, path, started[mi], why, sizeof(why));
				if (o == 0 && now_s() - started[mi] > m->ready.timeout_s) {
					snprintf(why, sizeof(why), "not ready after %.0f s", m->ready.timeout_s);
					o = -1;
				}
				if (o < 0) {
					say(c, "%s: failed: %s\n", m->name, why);
					rc = 1;
				} else if (o > 0) {
					ready[mi] = now_s();
					say(c, "[%6.1fs] %s: ready on %s\n", now_s() - t0, m->name, where[mi]);
					json_t *ms;
					json_array_foreach(json_object_get(rec, "machines"), i, ms)
						if (!strcmp(jstr(ms, "name"), m->name))
							json_object_set_new(ms, "ready_at", json_real(ready[mi]));
					save_rec(c, rec);
				}
			}
			if (!left || rc)
				break;
			struct timespec ts = { 0, 200000000 };
			nanosleep(&ts, NULL);
		}
	}
	json_object_set_new(rec, "state", json_string(rc ? "failed" : "running"));
	save_rec(c, rec);
out:
	json_decref(rec);
	json_decref(hosts);
	plan_free(&pl);
	free(where);
	free(started);
	free(ready);
	return rc;
}

json_t *xhost_status(const struct xhost_ctx *c, const char *name, int *rc, char *err, size_t errlen)
{
	char key[160];
	json_t *rec = NULL, *hosts = NULL, *m;
	rec_key(key, sizeof(key), XHOST_REC, name);
	*rc = rec_get(c->store, key, &rec, NULL);
	if (*rc) {
		snprintf(err, errlen, *rc == -ENOENT ? "no project %s in the cluster" : "the store: %s",
			 *rc == -ENOENT ? name : store_error(c->store));
		return NULL;
	}
	if ((*rc = rec_hosts(c->store, &hosts))) {
		snprintf(err, errlen, "the store: %s", store_error(c->store));
		json_decref(rec);
		return NULL;
	}
	size_t i, running = 0, n = json_array_size(json_object_get(rec, "machines"));
	json_array_foreach(json_object_get(rec, "machines"), i, m) {
		char vm[160];
		snprintf(vm, sizeof(vm), "%s.%s", name, jstr(m, "name"));
		json_t *vr = NULL;
		char vkey[200];
		rec_key(vkey, sizeof(vkey), REC_VMS, vm);
		int desired = 0;
		if (rec_get(c->store, vkey, &vr, NULL) == 0 && jstr(vr, "host")[0]) {
			json_object_set_new(m, "host", json_string(jstr(vr, "host")));   /* it may have moved */
			desired = !strcmp(jstr(vr, "state"), "running");
		}
		json_decref(vr);
		const char *st = live_state(hosts, jstr(m, "host"), vm);
		if (desired && !strcmp(st, "stopped"))
			st = "starting";    /* its host has not reported it yet */
		json_object_set_new(m, "state", json_string(st));
		running += !strcmp(st, "running");
	}
	json_decref(hosts);
	if (strcmp(jstr(rec, "state"), "starting") && strcmp(jstr(rec, "state"), "stopping"))
		json_object_set_new(rec, "state", json_string(running == n && n ? "running" :
							       running ? "degraded" : "stopped"));
	return rec;
}

json_t *xhost_list(const struct xhost_ctx *c, char *err, size_t errlen)
{
	struct store_kv *kvs = NULL;
	size_t n = 0;
	int64_t rev;
	if (store_list(c->store, XHOST_REC, &kvs, &n, &rev)) {
		snprintf(err, errlen, "the store: %s", store_error(c->store));
		return NULL;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		int rc;
		json_t *s = xhost_status(c, kvs[i].key + strlen(XHOST_REC), &rc, err, errlen);
		if (s)
			json_array_append_new(arr, s);
	}
	store_kvs_free(kvs, n);
	return json_pack("{s:o}", "clusters", arr);
}

int xhost_down(const struct xhost_ctx *c, const char *name, char *err, size_t errlen)
{
	int rc;
	json_t *rec = xhost_status(c, name, &rc, err, errlen), *m;
	if (!rec)
		return -1;
	json_object_set_new(rec, "state", json_string("stopping"));
	save_rec(c, rec);
	json_t *ms = json_object_get(rec, "machines");
	int failed = 0;
	for (size_t i = json_array_size(ms); i-- > 0; ) {
		m = json_array_get(ms, i);
		char vm[160], path[256], why[512];
		json_t *r = NULL, *body = json_pack("{s:i}", "timeout", 10);
		snprintf(vm, sizeof(vm), "%s.%s", name, jstr(m, "name"));
		snprintf(path, sizeof(path), "/api/v1/vms/%s/stop", vm);
		say(c, "%s: stopping on %s\n", jstr(m, "name"), jstr(m, "host"));
		int st = call_host(c, jstr(m, "host"), "POST", path, body, &r, 60000, why, sizeof(why));
		json_decref(body);
		json_decref(r);
		r = NULL;
		snprintf(path, sizeof(path), "/api/v1/vms/%s", vm);
		if (st != 404)
			st = call_host(c, jstr(m, "host"), "DELETE", path, NULL, &r, 60000, why, sizeof(why));
		json_decref(r);
		if (st != 200 && st != 404) {
			say(c, "%s: %s\n", jstr(m, "name"), why);
			failed = 1;
		}
	}
	/* The agents take their parts of the project's switches down once
	 * the switch records are gone. */
	json_t *sw;
	size_t i;
	json_array_foreach(json_object_get(rec, "switches"), i, sw) {
		char key[200], full[160];
		snprintf(full, sizeof(full), "%s.%s", name, jstr(sw, "name"));
		rec_key(key, sizeof(key), REC_SWITCHES, full);
		if (!failed)
			store_del(c->store, key);
	}
	if (failed) {
		/* Kept, with why: its state is then its machines' again (running,
		 * degraded or stopped), and down may be tried again. */
		snprintf(err, errlen, "some machines of %s did not stop; the record is kept", name);
		json_object_set_new(rec, "state", json_string("failed"));
		json_object_set_new(rec, "error", json_string(err));
		save_rec(c, rec);
		json_decref(rec);
		return -1;
	}
	char key[160];
	rec_key(key, sizeof(key), XHOST_REC, name);
	store_del(c->store, key);
	json_decref(rec);
	return 0;
}
