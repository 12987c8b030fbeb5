/* Live consolidation over the cluster store (cons_live.h): settings, the
 * cluster's view for the pure planner (consolidate/planner.h), carrying a
 * plan out through the agents' API, the action log and the energy report. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include "agent/api_client.h"
#include "agent/cons_live.h"
#include "agent/records.h"
#include "consolidate/planner.h"
#include "store/store.h"

#define MIPS_PER_CPU 1000.0
#define DEFAULT_IDLE_W 93.7         /* HP ML110 G5, as in the simulator */
#define DEFAULT_PEAK_W 135.0
#define DEFAULT_STANDBY_W 5.0

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static double jnum(json_t *o, const char *k, double dflt)
{
	json_t *v = json_object_get(o, k);
	return json_is_number(v) ? json_number_value(v) : dflt;
}

static double now_s(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

/* ---- settings ---------------------------------------------------------- */

static json_t *settings_default(void)
{
	struct cons_params p;
	cons_params_default(&p, CONS_POLICY_TERN);
	return json_pack("{s:{s:i,s:i,s:s},s:{s:s,s:f,s:f,s:i,s:i}}", "migration", "downtime_ms", 300,
			 "bandwidth_mbps", 0, "mode", "precopy", "consolidate", "policy", "tern",
			 "low_watermark", p.low_wm, "high_watermark", p.capacity_coeff, "interval_s", 300,
			 "max_parallel", 2);
}

int cons_settings_get(struct store *s, json_t **out)
{
	json_t *stored = NULL, *d = settings_default();
	int rc = rec_get(s, REC_SETTINGS, &stored, NULL);
	if (rc && rc != -ENOENT && rc != -EIO) {
		json_decref(d);
		return rc;
	}
	const char *sec;
	json_t *v;
	json_object_foreach(stored, sec, v)
		if (json_is_object(v) && json_is_object(json_object_get(d, sec)))
			json_object_update(json_object_get(d, sec), v);
	json_decref(stored);
	*out = d;
	return 0;
}

/* One field: its type and range. */
static int check_field(const char *sec, const char *k, json_t *v, char *err, size_t errlen)
{
	double x = json_number_value(v);
	const char *str = json_string_value(v);
	enum cons_policy pol;
	int ok = 0;
	if (!strcmp(sec, "migration")) {
		if (!strcmp(k, "downtime_ms"))
			ok = json_is_integer(v) && x >= 1 && x <= 60000;
		else if (!strcmp(k, "bandwidth_mbps"))
			ok = json_is_integer(v) && x >= 0;
		else if (!strcmp(k, "mode"))
			ok = str && (!strcmp(str, "precopy") || !strcmp(str, "postcopy"));
		else {
			snprintf(err, errlen, "migration.%s: unknown setting (downtime_ms, bandwidth_mbps, mode)", k);
			return -EINVAL;
		}
	} else {
		if (!strcmp(k, "policy"))
			ok = str && (!strcmp(str, "none") || !cons_policy_parse(str, &pol));
		else if (!strcmp(k, "low_watermark") || !strcmp(k, "high_watermark"))
			ok = json_is_number(v) && x >= 0 && x <= 1;
		else if (!strcmp(k, "interval_s"))
			ok = json_is_number(v) && x >= 1 && x <= 86400;
		else if (!strcmp(k, "max_parallel"))
			ok = json_is_integer(v) && x >= 1 && x <= 64;
		else {
			snprintf(err, errlen, "consolidate.%s: unknown setting (policy, low_watermark, "
				 "high_watermark, interval_s, max_parallel)", k);
			return -EINVAL;
		}
	}
	if (!ok) {
		snprintf(err, errlen, "%s.%s: out of range or of the wrong type (docs/API.md)", sec, k);
		return -EINVAL;
	}
	return 0;
}

int cons_settings_set(struct store *s, json_t *body, char *err, size_t errlen)
{
	if (!json_is_object(body)) {
		snprintf(err, errlen, "body: a JSON object {\"migration\":{...},\"consolidate\":{...}}");
		return -EINVAL;
	}
	const char *sec, *k;
	json_t *v, *x;
	json_object_foreach(body, sec, v) {
		if (strcmp(sec, "migration") && strcmp(sec, "consolidate")) {
			snprintf(err, errlen, "%s: unknown section (migration, consolidate)", sec);
			return -EINVAL;
		}
		if (!json_is_object(v)) {
			snprintf(err, errlen, "%s: an object is needed", sec);
			return -EINVAL;
		}
		json_object_foreach(v, k, x)
			if (check_field(sec, k, x, err, errlen))
				return -EINVAL;
	}
	for (int tries = 0; tries < 5; tries++) {
		json_t *cur = NULL;
		long long rev = 0;
		int rc = rec_get(s, REC_SETTINGS, &cur, &rev);
		if (rc == -ENOENT || rc == -EIO) {
			cur = json_object();
			if (rc == -ENOENT)
				rev = 0;
		} else if (rc) {
			snprintf(err, errlen, "store: %s", store_error(s));
			return rc;
		}
		json_object_foreach(body, sec, v) {
			if (!json_is_object(json_object_get(cur, sec)))
				json_object_set_new(cur, sec, json_object());
			json_object_update(json_object_get(cur, sec), v);
		}
		rc = rec_cas(s, REC_SETTINGS, rev, cur, 0);
		json_decref(cur);
		if (rc != -ECANCELED) {
			if (rc)
				snprintf(err, errlen, "store: %s", store_error(s));
			return rc;
		}
	}
	snprintf(err, errlen, "the settings keep changing");
	return -EAGAIN;
}

/* ---- the cluster's view ------------------------------------------------ */

/* A host's power model from its record's "power_model" (defaults: linear
 * 93.7..135 W, 5 W on standby). */
static void power_of(json_t *rec, struct cons_power *p)
{
	json_t *m = json_object_get(rec, "power_model");
	memset(p, 0, sizeof(*p));
	p->kind = CONS_POWER_LINEAR;
	p->idle_w = jnum(m, "idle_w", DEFAULT_IDLE_W);
	p->peak_w = jnum(m, "peak_w", DEFAULT_PEAK_W);
	p->standby_w = jnum(m, "standby_w", DEFAULT_STANDBY_W);
	json_t *t = json_object_get(m, "table_w");
	if (json_array_size(t) == 11) {
		p->kind = CONS_POWER_TABLE;
		for (int i = 0; i < 11; i++)
			p->table_w[i] = json_number_value(json_array_get(t, (size_t)i));
	}
	if (cons_power_check(p)) {
		p->kind = CONS_POWER_LINEAR;
		p->idle_w = DEFAULT_IDLE_W;
		p->peak_w = DEFAULT_PEAK_W;
		p->standby_w = DEFAULT_STANDBY_W;
	}
}

struct view {
	json_t *hosts;              /* rec_hosts' array, the hosts we plan with */
	json_t *hist;               /* VM name -> history record */
	unsigned nh, nv;
	struct cons_host *h;
	const char **hname;
	double *cap;                /* CPUs of capacity per host */
	struct cons_vm *v;
	const char **vname;
	double **util;
};

static void view_free(struct view *w)
{
	for (unsigned i = 0; i < w->nv; i++)
		free(w->util[i]);
	free(w->util);
	free(w->v);
	free(w->vname);
	free(w->h);
	free(w->hname);
	free(w->cap);
	json_decref(w->hosts);
	json_decref(w->hist);
	memset(w, 0, sizeof(*w));
}

static int history_map(struct store *s, const char *prefix, json_t **out)
{
	struct store_kv *kvs;
	size_t n;
	int rc = store_list(s, prefix, &kvs, &n, NULL);
	if (rc)
		return rc;
	*out = json_object();
	for (size_t i = 0; i < n; i++) {
		json_t *r = json_loads(kvs[i].value, 0, NULL);
		if (json_is_object(r))
			json_object_set_new(*out, kvs[i].key + strlen(prefix), r);
		else
			json_decref(r);
	}
	store_kvs_free(kvs, n);
	return 0;
}

/* Hosts that are up or on standby, and their running VMs. A host woken
 * (`woken_at` in its record) less than standby_after history samples ago
 * (its VMs' --history-interval) is marked just_woken, so that the planner
 * does not put it back on standby on the strength of older samples. */
static int view_build(struct store *s, const struct cons_params *p, struct view *w, char *err,
		      size_t errlen)
{
	time_t now = time(NULL);
	json_t *all = NULL;
	memset(w, 0, sizeof(*w));
	int rc = rec_hosts(s, &all);
	if (!rc)
		rc = history_map(s, REC_HIST_VMS, &w->hist);
	if (rc) {
		snprintf(err, errlen, "store: %s", store_error(s));
		json_decref(all);
		return rc;
	}
	w->hosts = json_array();
	size_t i, j, nvm = 0;
	json_t *h, *vm;
	json_array_foreach(json_object_get(all, "hosts"), i, h) {
		const char *st = jstr(h, "state");
		if (!strcmp(st, "up") || !strcmp(st, "standby")) {
			json_array_append(w->hosts, h);
			nvm += json_array_size(json_object_get(h, "vms"));
		}
	}
	json_decref(all);
	size_t nh = json_array_size(w->hosts);
	w->h = calloc(nh + 1, sizeof(*w->h));
	w->hname = calloc(nh + 1, sizeof(*w->hname));
	w->cap = calloc(nh + 1, sizeof(*w->cap));
	w->v = calloc(nvm + 1, sizeof(*w->v));
	w->vname = calloc(nvm + 1, sizeof(*w->vname));
	w->util = calloc(nvm + 1, sizeof(*w->util));
	if (!w->h || !w->hname || !w->cap || !w->v || !w->vname || !w->util) {
		view_free(w);
		return -ENOMEM;
	}
	json_array_foreach(w->hosts, i, h) {
		struct cons_host *ch = &w->h[w->nh];
		double cap = jnum(h, "capacity_cpus", jnum(h, "cpus", 1));
		if (!(cap > 0))
			cap = 1;
		ch->cores = (unsigned)ceil(cap);
		ch->core_mips = MIPS_PER_CPU * cap / ch->cores;
		ch->mem_mb = jnum(h, "mem_total", 0) / 1048576.0;
		if (!(ch->mem_mb > 0))
			ch->mem_mb = 1e6;
		ch->bw_mbit = 1000;
		power_of(h, &ch->power);
		ch->state = strcmp(jstr(h, "state"), "standby") ? CONS_HOST_ACTIVE : CONS_HOST_STANDBY;
		/* the hysteresis counts history samples: the host must have been
		 * sampled standby_after times since it woke */
		double woken_at = jnum(h, "woken_at", 0), sample_s = 0;
		json_array_foreach(json_object_get(h, "vms"), j, vm) {
			double s = jnum(json_object_get(w->hist, jstr(vm, "name")), "interval_s", 0);
			if (s > sample_s)
				sample_s = s;
		}
		if (!(sample_s > 0))
			sample_s = p->interval_s;
		ch->just_woken = woken_at > 0 && ch->state == CONS_HOST_ACTIVE &&
				 (double)now - woken_at < (double)p->standby_after * sample_s;
		w->cap[w->nh] = cap;
		w->hname[w->nh] = jstr(h, "name");
		json_array_foreach(json_object_get(h, "vms"), j, vm) {
			if (strcmp(jstr(vm, "state"), "running") || json_is_true(json_object_get(vm, "migrating")))
				continue;
			struct cons_vm *cv = &w->v[w->nv];
			json_t *hist = json_object_get(w->hist, jstr(vm, "name"));
			json_t *cpu = json_object_get(hist, "cpu");
			size_t n = json_array_size(cpu);
			unsigned vcpus = (unsigned)jnum(hist, "vcpus", 1);
			double *u = calloc(n ? n : 1, sizeof(*u));
			if (!u)
				continue;
			for (size_t k = 0; k < n; k++)
				u[k] = json_number_value(json_array_get(cpu, k));
			if (!n) {
				u[0] = jnum(vm, "cpu_percent", 0) / 100.0 / (vcpus ? vcpus : 1);
				n = 1;
			}
			cv->vcpus = vcpus ? vcpus : 1;
			cv->mips = MIPS_PER_CPU;
			cv->mem_mb = jnum(vm, "mem", 0) / 1048576.0;
			cv->bw_mbit = 0;
			cv->host = (int)w->nh;
			cv->util = u;
			cv->util_len = (unsigned)n;
			w->util[w->nv] = u;
			w->vname[w->nv++] = jstr(vm, "name");
		}
		w->nh++;
	}
	return 0;
}

/* Cluster power in watts with each VM on vm_host[] and host on[] as given. */
static double cluster_watts(const struct view *w, const int *vm_host, const int *on)
{
	double watts = 0;
	for (unsigned h = 0; h < w->nh; h++) {
		double d = 0;
		for (unsigned v = 0; v < w->nv; v++)
			if (vm_host[v] == (int)h)
				d += cons_vm_demand(&w->v[v]);
		watts += on[h] ? cons_power_watts(&w->h[h].power, d / (MIPS_PER_CPU * w->cap[h]))
			       : w->h[h].power.standby_w;
	}
	return watts;
}

static int params_from_settings(json_t *set, const char *policy, struct cons_params *p,
				char *err, size_t errlen)
{
	json_t *c = json_object_get(set, "consolidate");
	const char *name = policy ? policy : jstr(c, "policy");
	enum cons_policy pol;
	if (!strcmp(name, "none"))
		pol = CONS_POLICY_NONE;
	else if (cons_policy_parse(name, &pol)) {
		snprintf(err, errlen, "--policy: unknown policy '%s' (tern, thr-mmt, lr-mmt)", name);
		return -EINVAL;
	}
	cons_params_default(p, pol);
	p->interval_s = jnum(c, "interval_s", p->interval_s);
	if (pol == CONS_POLICY_TERN) {
		p->low_wm = jnum(c, "low_watermark", p->low_wm);
		p->capacity_coeff = jnum(c, "high_watermark", p->capacity_coeff);
	}
	return 0;
}

int cons_live_plan(struct store *s, const char *policy, json_t **plan, char *err, size_t errlen)
{
	json_t *set;
	struct cons_params p;
	struct view w;
	int rc = cons_settings_get(s, &set);
	if (rc) {
		snprintf(err, errlen, "store: %s", store_error(s));
		return rc;
	}
	rc = params_from_settings(set, policy, &p, err, errlen);
	json_decref(set);
	if (rc || (rc = view_build(s, &p, &w, err, errlen)))
		return rc;
	struct cons_plan pl;
	memset(&pl, 0, sizeof(pl));
	if (p.policy == CONS_POLICY_NONE)
		rc = 0;
	else
		rc = cons_plan_compute(w.h, w.nh, w.v, w.nv, &p, &pl);
	if (rc) {
		snprintf(err, errlen, "the planner refused the cluster's figures (%s)", strerror(-rc));
		cons_plan_free(&pl);
		view_free(&w);
		return rc;
	}
	int *vh = calloc(w.nv + 1, sizeof(int)), *on = calloc(w.nh + 1, sizeof(int));
	int *after = calloc(w.nv + 1, sizeof(int)), *on_after = calloc(w.nh + 1, sizeof(int));
	json_t *migs = json_array(), *stb = json_array(), *wake = json_array();
	for (unsigned v = 0; vh && after && v < w.nv; v++)
		vh[v] = after[v] = w.v[v].host;
	for (unsigned h = 0; on && on_after && h < w.nh; h++)
		on[h] = on_after[h] = w.h[h].state == CONS_HOST_ACTIVE;
	for (unsigned i = 0; after && i < pl.n_mig; i++) {
		const struct cons_migration *m = &pl.mig[i];
		if (m->from < 0)
			continue;
		after[m->vm] = m->to;
		json_array_append_new(migs, json_pack("{s:s,s:s,s:s,s:f}", "vm", w.vname[m->vm], "from",
						      w.hname[m->from], "to", w.hname[m->to], "seconds", m->seconds));
	}
	/* One host stays on: someone must run the next VM and the agents. */
	unsigned active_after = 0;
	for (unsigned h = 0; on_after && h < w.nh; h++)
		active_after += on_after[h];
	for (unsigned i = 0; i < pl.n_wake; i++)
		active_after += w.h[pl.wake[i]].state != CONS_HOST_ACTIVE;
	if (pl.n_standby && pl.n_standby >= active_after)
		pl.n_standby = active_after - 1;
	for (unsigned i = 0; on_after && i < pl.n_standby; i++) {
		on_after[pl.standby[i]] = 0;
		json_array_append_new(stb, json_string(w.hname[pl.standby[i]]));
	}
	for (unsigned i = 0; on_after && i < pl.n_wake; i++) {
		on_after[pl.wake[i]] = 1;
		json_array_append_new(wake, json_string(w.hname[pl.wake[i]]));
	}
	double before_w = vh && on ? cluster_watts(&w, vh, on) : 0;
	double after_w = after && on_after ? cluster_watts(&w, after, on_after) : 0;
	*plan = json_pack("{s:s,s:o,s:o,s:o,s:f,s:f,s:f,s:i,s:i,s:i}", "policy", cons_policy_name(p.policy),
			  "migrations", migs, "standby", stb, "wake", wake, "saving_kwh_per_day",
			  (before_w - after_w) * 24 / 1000, "power_now_w", before_w, "power_after_w", after_w,
			  "unplaced", (int)pl.n_unplaced, "hosts", (int)w.nh, "vms", (int)w.nv);
	free(vh);
	free(on);
	free(after);
	free(on_after);
	cons_plan_free(&pl);
	view_free(&w);
	return 0;
}

/* ---- carrying a plan out ----------------------------------------------- */

int cons_action_log(struct store *s, json_t *action)
{
	static const char hex[] = "0123456789abcdef";
	double t = now_s();
	char key[160], rnd[9];
	unsigned r = (unsigned)rand() ^ (unsigned)(t * 1e6);
	for (int i = 0; i < 8; i++)
		rnd[i] = hex[(r >> (4 * i)) & 15];
	rnd[8] = 0;
	snprintf(key, sizeof(key), "%s%016lld-%s", REC_ACTIONS, (long long)(t * 1000), rnd);
	json_object_set_new(action, "time", json_real(t));
	char *text = json_dumps(action, JSON_COMPACT | JSON_SORT_KEYS);
	int rc = text ? store_put(s, key, text, 0) : -ENOMEM;
	free(text);
	return rc;
}

static const char *host_api(json_t *hosts, const char *name)
{
	size_t i;
	json_t *h;
	json_array_foreach(json_object_get(hosts, "hosts"), i, h)
		if (!strcmp(jstr(h, "name"), name))
			return jstr(h, "api");
	return "";
}

struct running {
	json_t *m;                  /* the plan's migration */
	char api[200];              /* the source agent */
	double started, last_print;
};

static json_t *mig_result(json_t *m, const char *status, json_t *rep, const char *error)
{
	json_t *p = json_object_get(rep, "progress");
	json_t *ram = json_object_get(p, "ram");
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:s}", "kind", "migration", "vm", jstr(m, "vm"),
			 "from", jstr(m, "from"), "to", jstr(m, "to"), "status", status, "downtime_ms",
			 (json_int_t)jnum(p, "downtime", 0), "bytes", (json_int_t)jnum(ram, "transferred", 0),
			 "total_ms", (json_int_t)jnum(p, "total-time", 0), "error", error);
}

/* Polls one running migration: 1 when it ended (result in *res), 0 not yet. */
static int mig_poll(struct running *r, const struct api_auth *auth, FILE *progress, json_t **res)
{
	char path[200], err[512];
	json_t *rep = NULL;
	snprintf(path, sizeof(path), "/api/v1/vms/%s/migration", jstr(r->m, "vm"));
	int st = api_call(r->api, auth, "GET", path, NULL, &rep, 30000, err, sizeof(err));
	const char *status = jstr(rep, "status");
	if (st == 200 && (!strcmp(status, "completed") || !strcmp(status, "failed"))) {
		*res = mig_result(r->m, status, rep, jstr(rep, "error"));
		json_decref(rep);
		return 1;
	}
	if (st != 200 && now_s() - r->started > 30) {
		*res = mig_result(r->m, "failed", NULL, st < 0 ? err : jstr(rep, "error"));
		json_decref(rep);
		return 1;
	}
	if (progress && now_s() - r->last_print >= 1) {
		json_t *ram = json_object_get(json_object_get(rep, "progress"), "ram");
		double tot = jnum(ram, "total", 0), done = jnum(ram, "transferred", 0);
		fprintf(progress, "  %s: %s -> %s: %s, %.0f MB sent%s%.0f%%)\n", jstr(r->m, "vm"),
			jstr(r->m, "from"), jstr(r->m, "to"), status[0] ? status : "starting", done / 1048576,
			" (", tot > 0 ? fmin(100, 100 * done / tot) : 0.0);
		fflush(progress);
		r->last_print = now_s();
	}
	json_decref(rep);
	return 0;
}

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Starts one migration through its source agent: 0, or -1 with *res. */
static int mig_start(json_t *m, json_t *hosts, json_t *set, const struct api_auth *auth,
		     struct running *r, json_t **res)
{
	char path[200], err[512];
	json_t *mig = json_object_get(set, "migration"), *rep = NULL;
	json_t *body = json_pack("{s:s,s:I,s:I,s:b}", "to", jstr(m, "to"), "downtime_ms",
				 (json_int_t)jnum(mig, "downtime_ms", 300), "bandwidth",
				 (json_int_t)jnum(mig, "bandwidth_mbps", 0), "postcopy",
				 !strcmp(jstr(mig, "mode"), "postcopy"));
	snprintf(r->api, sizeof(r->api), "%s", host_api(hosts, jstr(m, "from")));
	snprintf(path, sizeof(path), "/api/v1/vms/%s/migrate", jstr(m, "vm"));
	int st = api_call(r->api, auth, "POST", path, body, &rep, 60000, err, sizeof(err));
	json_decref(body);
	if (st != 202) {
		*res = mig_result(m, "failed", NULL, st < 0 ? err : jstr(rep, "error"));
		json_decref(rep);
		return -1;
	}
	json_decref(rep);
	r->m = m;
	r->started = now_s();
	r->last_print = 0;
	return 0;
}

int cons_live_apply(struct store *s, const char *token, json_t *plan, int max_parallel,
		    FILE *progress, json_t **result, char *err, size_t errlen)
{
	struct api_auth auth = { .token = token };
	json_t *hosts = NULL, *set = NULL, *h;
	int rc = rec_hosts(s, &hosts);
	if (!rc)
		rc = cons_settings_get(s, &set);
	if (rc) {
		snprintf(err, errlen, "store: %s", store_error(s));
		json_decref(hosts);
		return rc;
	}
	if (max_parallel < 1)
		max_parallel = 1;
	json_t *done = json_array(), *stb = json_array(), *woke = json_array();
	int failed = 0;
	size_t i;
	/* Wake first: the migrations need their destinations. */
	json_array_foreach(json_object_get(plan, "wake"), i, h) {
		char e[512] = "";
		int r = rec_host_wake(s, json_string_value(h), e, sizeof(e));
		if (progress)
			fprintf(progress, "wake %s: %s\n", json_string_value(h), r ? e : "on");
		failed += r != 0;
		json_t *act = json_pack("{s:s,s:s,s:s,s:s}", "kind", "wake", "host", json_string_value(h),
					"status", r ? "failed" : "completed", "error", e);
		cons_action_log(s, act);
		json_array_append_new(woke, act);
	}
	json_t *migs = json_object_get(plan, "migrations");
	size_t n = json_array_size(migs), next = 0;
	struct running *run = calloc((size_t)max_parallel, sizeof(*run));
	int nrun = 0;
	while (run && (next < n || nrun)) {
		while (nrun < max_parallel && next < n) {
			json_t *m = json_array_get(migs, next++), *res = NULL;
			if (progress)
				fprintf(progress, "migrate %s: %s -> %s\n", jstr(m, "vm"), jstr(m, "from"), jstr(m, "to"));
			if (mig_start(m, hosts, set, &auth, &run[nrun], &res) == 0) {
				nrun++;
				continue;
			}
			if (progress)
				fprintf(progress, "  %s: failed: %s\n", jstr(m, "vm"), jstr(res, "error"));
			failed++;
			cons_action_log(s, res);
			json_array_append_new(done, res);
		}
		nap_ms(200);
		for (int k = 0; k < nrun; k++) {
			json_t *res = NULL;
			if (!mig_poll(&run[k], &auth, progress, &res))
				continue;
			if (progress)
				fprintf(progress, "  %s: %s (downtime %lld ms, %.1f MB, %lld ms)%s%s\n", jstr(res, "vm"),
					jstr(res, "status"), (long long)jnum(res, "downtime_ms", 0),
					jnum(res, "bytes", 0) / 1048576, (long long)jnum(res, "total_ms", 0),
					jstr(res, "error")[0] ? ": " : "", jstr(res, "error"));
			failed += strcmp(jstr(res, "status"), "completed") != 0;
			cons_action_log(s, res);
			json_array_append_new(done, res);
			run[k--] = run[--nrun];
		}
	}
	free(run);
	/* Standby: each host the agent finds empty (a failed move keeps it on). */
	json_array_foreach(json_object_get(plan, "standby"), i, h) {
		const char *name = json_string_value(h);
		char path[200], e[512] = "";
		json_t *rep = NULL;
		snprintf(path, sizeof(path), "/api/v1/hosts/%s/standby", name);
		int st;
		/* The sources of the migrations end a moment after them: wait. */
		for (int tries = 0;; tries++) {
			st = api_call(host_api(hosts, name), &auth, "POST", path, NULL, &rep, 120000, e, sizeof(e));
			if (st != 409 || tries >= 60)
				break;
			json_decref(rep);
			rep = NULL;
			nap_ms(500);
		}
		if (st >= 0 && st != 200)
			snprintf(e, sizeof(e), "%s", jstr(rep, "error"));
		json_decref(rep);
		if (progress)
			fprintf(progress, "standby %s: %s\n", name, st == 200 ? "done" : e);
		failed += st != 200;
		json_t *act = json_pack("{s:s,s:s,s:s,s:s}", "kind", "standby", "host", name, "status",
					st == 200 ? "completed" : "failed", "error", st == 200 ? "" : e);
		cons_action_log(s, act);
		json_array_append_new(stb, act);
	}
	json_decref(hosts);
	json_decref(set);
	*result = json_pack("{s:o,s:o,s:o,s:i}", "migrations", done, "standby", stb, "wake", woke,
			    "failed", failed);
	return 0;
}

/* ---- the report -------------------------------------------------------- */

int cons_live_report(struct store *s, double window_s, json_t **out, char *err, size_t errlen)
{
	json_t *hh = NULL, *vh = NULL, *acts = NULL;
	int rc = history_map(s, REC_HIST_HOSTS, &hh);
	if (!rc)
		rc = history_map(s, REC_HIST_VMS, &vh);
	if (!rc)
		rc = history_map(s, REC_ACTIONS, &acts);
	if (rc) {
		snprintf(err, errlen, "store: %s", store_error(s));
		json_decref(hh);
		json_decref(vh);
		return rc;
	}
	double now = now_s(), t0 = now - window_s, interval = 0, first = now;
	const char *k;
	json_t *r;
	json_object_foreach(hh, k, r) {
		interval = fmax(interval, jnum(r, "interval_s", 0));
		json_t *t = json_object_get(r, "t");
		for (size_t i = 0; i < json_array_size(t); i++) {
			double ti = json_number_value(json_array_get(t, i));
			if (ti >= t0 && ti < first)
				first = ti;
		}
	}
	if (!(interval > 0))
		interval = 300;
	double start = fmax(t0, first - interval);
	double step = fmax(interval, (now - start) / 500);
	size_t nb = (size_t)ceil((now - start) / step);
	if (nb < 1)
		nb = 1;
	double *e = calloc(nb, sizeof(double)), *b = calloc(nb, sizeof(double));
	int *mig = calloc(nb, sizeof(int)), *sb = calloc(nb, sizeof(int));
	if (!e || !b || !mig || !sb) {
		free(e), free(b), free(mig), free(sb);
		json_decref(hh), json_decref(vh), json_decref(acts);
		return -ENOMEM;
	}
	double energy = 0, base = 0, active_s = 0, full_s = 0;
	json_object_foreach(hh, k, r) {
		struct cons_power p;
		power_of(r, &p);
		double dt = jnum(r, "interval_s", interval);
		json_t *t = json_object_get(r, "t"), *u = json_object_get(r, "util"), *on = json_object_get(r, "on");
		char *seen = calloc(nb, 1);
		for (size_t i = 0; seen && i < json_array_size(t); i++) {
			double ti = json_number_value(json_array_get(t, i));
			if (ti < start || ti > now)
				continue;
			size_t bin = (size_t)fmin((double)(nb - 1), floor((ti - start) / step));
			double ui = json_number_value(json_array_get(u, i));
			int is_on = json_integer_value(json_array_get(on, i)) != 0;
			double j_on = cons_power_watts(&p, ui) * dt, j = is_on ? j_on : p.standby_w * dt;
			e[bin] += j / 3.6e6;
			b[bin] += j_on / 3.6e6;
			energy += j / 3.6e6;
			base += j_on / 3.6e6;
			if (is_on) {
				active_s += dt;
				full_s += ui >= 0.999 ? dt : 0;
			} else if (!seen[bin]) {
				seen[bin] = 1;
				sb[bin]++;
			}
		}
		free(seen);
	}
	/* Actions: migrations, downtime, bytes; PDM's degradation per VM. */
	unsigned long n_mig = 0, n_failed = 0, n_standby = 0, n_wake = 0;
	double downtime = 0, bytes = 0;
	json_t *cd = json_object();
	json_object_foreach(acts, k, r) {
		double ti = jnum(r, "time", 0);
		if (ti < t0)
			continue;
		const char *kind = jstr(r, "kind");
		int ok = !strcmp(jstr(r, "status"), "completed");
		if (!strcmp(kind, "migration")) {
			if (!ok) {
				n_failed++;
				continue;
			}
			n_mig++;
			downtime += jnum(r, "downtime_ms", 0);
			bytes += jnum(r, "bytes", 0);
			if (ti >= start)
				mig[(size_t)fmin((double)(nb - 1), floor((ti - start) / step))]++;
			/* Beloglazov & Buyya: 10 % of the VM's CPU during the move. */
			json_t *cpu = json_object_get(json_object_get(vh, jstr(r, "vm")), "cpu");
			size_t ncpu = json_array_size(cpu);
			double u = ncpu ? json_number_value(json_array_get(cpu, ncpu - 1)) : 0;
			double prev = jnum(cd, jstr(r, "vm"), 0);
			json_object_set_new(cd, jstr(r, "vm"), json_real(prev + 0.1 * u * jnum(r, "total_ms", 0) / 1000));
		} else if (!strcmp(kind, "standby") && ok) {
			n_standby++;
		} else if (!strcmp(kind, "wake") && ok) {
			n_wake++;
		}
	}
	double pdm = 0;
	unsigned m = 0;
	json_object_foreach(vh, k, r) {
		json_t *cpu = json_object_get(r, "cpu"), *t = json_object_get(r, "t_list");
		double dt = jnum(r, "interval_s", interval), req = 0;
		size_t n = json_array_size(cpu);
		double last = jnum(r, "t", now);
		for (size_t i = 0; i < n; i++) {
			double ti = t ? json_number_value(json_array_get(t, i)) : last - (double)(n - 1 - i) * dt;
			if (ti >= t0)
				req += json_number_value(json_array_get(cpu, i)) * dt;
		}
		if (req > 0) {
			pdm += jnum(cd, k, 0) / req;
			m++;
		}
	}
	pdm = m ? pdm / m : 0;
	json_t *st = json_array(), *se = json_array(), *sbase = json_array(), *sm = json_array(), *ss = json_array();
	double ce = 0, cb = 0;
	for (size_t i = 0; i < nb; i++) {
		ce += e[i];
		cb += b[i];
		json_array_append_new(st, json_integer((json_int_t)(start + (double)(i + 1) * step)));
		json_array_append_new(se, json_real(ce));
		json_array_append_new(sbase, json_real(cb));
		json_array_append_new(sm, json_integer(mig[i]));
		json_array_append_new(ss, json_integer(sb[i]));
	}
	*out = json_pack("{s:f,s:f,s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:f,s:{s:o,s:o,s:o,s:o,s:o}}",
			 "window_s", window_s, "energy_kwh", energy, "baseline_kwh", base, "migrations",
			 (json_int_t)n_mig, "failed_migrations", (json_int_t)n_failed, "downtime_ms",
			 (json_int_t)llround(downtime), "bytes_moved", (json_int_t)llround(bytes), "standby",
			 (json_int_t)n_standby, "wake", (json_int_t)n_wake, "slatah",
			 active_s > 0 ? full_s / active_s : 0.0, "pdm", pdm, "slav",
			 (active_s > 0 ? full_s / active_s : 0.0) * pdm, "series", "time", st, "energy_kwh", se,
			 "baseline_kwh", sbase, "migrations", sm, "standby_hosts", ss);
	free(e), free(b), free(mig), free(sb);
	json_decref(cd);
	json_decref(hh), json_decref(vh), json_decref(acts);
	return 0;
}
