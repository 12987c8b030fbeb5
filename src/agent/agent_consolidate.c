/* ternd's consolidation endpoints (/consolidate/plan, apply, report and
 * /settings, docs/API.md) and --auto-consolidate: a thread that, while this
 * agent holds the leader key under its lease, plans and applies each interval. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <civetweb.h>
#include "agent/agent.h"
#include "agent/agent_cons.h"
#include "agent/cons_live.h"
#include "agent/records.h"
#include "store/store.h"

static int fail(json_t **out, int status, const char *msg)
{
	*out = json_pack("{s:s}", "error", msg);
	return status;
}

static int status_of(int rc)
{
	return rc == -EINVAL ? 400 : rc == -ENOTCONN ? 503 : 500;
}

static int max_parallel_of(struct agent *a, json_t *body)
{
	json_t *set = NULL, *mp = json_object_get(body, "max_parallel");
	if (json_is_integer(mp))
		return (int)json_integer_value(mp);
	int n = 1;
	if (cons_settings_get(a->store, &set) == 0)
		n = (int)json_integer_value(json_object_get(json_object_get(set, "consolidate"), "max_parallel"));
	json_decref(set);
	return n > 0 ? n : 1;
}

static int cons_api(struct agent *a, const char *method, const char *path, json_t *body,
		   json_t **out, int *status)
{
	char err[512] = "";
	int get = !strcmp(method, "GET"), post = !strcmp(method, "POST"), rc;
	if (!strcmp(path, "/settings") && (get || post)) {
		if (post && (rc = cons_settings_set(a->store, body, err, sizeof(err)))) {
			*status = fail(out, status_of(rc), err);
			return 1;
		}
		rc = cons_settings_get(a->store, out);
		*status = rc ? fail(out, 503, store_error(a->store)) : 200;
		return 1;
	}
	if (strncmp(path, "/consolidate/", 13))
		return 0;
	const char *what = path + 13;
	if (!strcmp(what, "plan") && post) {
		json_t *pol = json_object_get(body, "policy");
		if (pol && !json_is_string(pol)) {
			*status = fail(out, 400, "policy: tern, thr-mmt or lr-mmt");
			return 1;
		}
		rc = cons_live_plan(a->store, json_string_value(pol), out, err, sizeof(err));
		*status = rc ? fail(out, status_of(rc), err) : 200;
		return 1;
	}
	if (!strcmp(what, "apply") && post) {
		json_t *plan = NULL, *mp = json_object_get(body, "max_parallel");
		if (mp && (!json_is_integer(mp) || json_integer_value(mp) < 1 || json_integer_value(mp) > 64)) {
			*status = fail(out, 400, "max_parallel: 1..64");
			return 1;
		}
		rc = cons_live_plan(a->store, json_string_value(json_object_get(body, "policy")), &plan, err,
				    sizeof(err));
		if (!rc)
			rc = cons_live_apply(a->store, a->token, plan, max_parallel_of(a, body), NULL, out, err,
					     sizeof(err));
		json_decref(plan);
		*status = rc ? fail(out, status_of(rc), err) : 200;
		return 1;
	}
	if (!strcmp(what, "report") && get) {
		char win[32] = "";
		const char *q = json_string_value(json_object_get(body, "query"));
		double w = 86400;
		if (q && mg_get_var(q, strlen(q), "window", win, sizeof(win)) > 0) {
			char *e;
			w = strtod(win, &e);
			if (e == win || *e || !(w > 0) || w > 366 * 86400.0) {
				*status = fail(out, 400, "window: seconds, more than 0");
				return 1;
			}
		}
		rc = cons_live_report(a->store, w, out, err, sizeof(err));
		*status = rc ? fail(out, status_of(rc), err) : 200;
		return 1;
	}
	*status = fail(out, 404, "no such consolidation endpoint (plan, apply: POST; report: GET)");
	return 1;
}

static void cons_mig_defaults(struct agent *a, json_t *body, int *postcopy, long long *downtime_ms,
			     long long *bandwidth_mbs)
{
	json_t *set = NULL;
	if (cons_settings_get(a->store, &set))
		return;
	json_t *m = json_object_get(set, "migration");
	if (!json_object_get(body, "downtime_ms"))
		*downtime_ms = json_integer_value(json_object_get(m, "downtime_ms"));
	if (!json_object_get(body, "bandwidth"))
		*bandwidth_mbs = json_integer_value(json_object_get(m, "bandwidth_mbps"));
	if (!json_object_get(body, "postcopy")) {
		const char *mode = json_string_value(json_object_get(m, "mode"));
		*postcopy = mode && !strcmp(mode, "postcopy");
	}
	json_decref(set);
}

/* 1 when this agent holds (or now takes) the leader key. */
static int lead(struct agent *a)
{
	json_t *mine = json_pack("{s:s}", "host", a->host), *cur = NULL;
	int rc = rec_cas(a->store, REC_CONS_LEADER, 0, mine, a->lease);
	json_decref(mine);
	if (rc == 0)
		return 1;
	if (rc != -ECANCELED || rec_get(a->store, REC_CONS_LEADER, &cur, NULL))
		return 0;
	const char *h = json_string_value(json_object_get(cur, "host"));
	int me = h && !strcmp(h, a->host);
	json_decref(cur);
	return me;
}

/* The period: the stored settings' interval_s when set, else the flag's. */
static double period_s(struct agent *a)
{
	json_t *raw = NULL;
	double p = a->cons->auto_interval_s;
	if (rec_get(a->store, REC_SETTINGS, &raw, NULL) == 0) {
		json_t *v = json_object_get(json_object_get(raw, "consolidate"), "interval_s");
		if (json_is_number(v) && json_number_value(v) >= 1)
			p = json_number_value(v);
	}
	json_decref(raw);
	return p;
}

static void *auto_loop(void *arg)
{
	struct agent *a = arg;
	int64_t last = agent_now_ms();
	while (!atomic_load(&a->stop)) {
		struct timespec ts = { 0, 250000000 };
		nanosleep(&ts, NULL);
		if (agent_now_ms() - last < (int64_t)(period_s(a) * 1000))
			continue;
		last = agent_now_ms();
		if (!lead(a))
			continue;
		json_t *plan = NULL, *res = NULL, *set = NULL;
		char err[512];
		if (cons_live_plan(a->store, NULL, &plan, err, sizeof(err))) {
			fprintf(stderr, "ternd: auto-consolidate: %s\n", err);
			continue;
		}
		size_t nm = json_array_size(json_object_get(plan, "migrations"));
		size_t ns = json_array_size(json_object_get(plan, "standby"));
		size_t nw = json_array_size(json_object_get(plan, "wake"));
		if (nm || ns || nw) {
			fprintf(stderr, "ternd: auto-consolidate: %zu migrations, %zu to standby, %zu to wake\n",
				nm, ns, nw);
			int mp = max_parallel_of(a, NULL);
			if (cons_live_apply(a->store, a->token, plan, mp, stderr, &res, err, sizeof(err)))
				fprintf(stderr, "ternd: auto-consolidate: %s\n", err);
			last = agent_now_ms();
		}
		json_decref(res);
		json_decref(set);
		json_decref(plan);
	}
	return NULL;
}

int agent_cons_start(struct agent *a)
{
	if (!a->cons || !(a->cons->auto_interval_s > 0))
		return 0;
	if (pthread_create(&a->cons->thread, NULL, auto_loop, a))
		return -EAGAIN;
	a->cons->thread_started = 1;
	return 0;
}

void agent_cons_stop(struct agent *a)
{
	if (a->cons && a->cons->thread_started) {
		pthread_join(a->cons->thread, NULL);
		a->cons->thread_started = 0;
	}
}

const struct agent_ext agent_cons_ext = {
	.api = cons_api,
	.host_fields = agent_cons_host_fields,
	.mig_defaults = cons_mig_defaults,
};
