/* ternd's consolidation flags and the utilization history it records: every
 * --history-interval seconds, each VM's CPU share and memory into a bounded
 * ring in the store (REC_HIST_VMS), and the host's (REC_HIST_HOSTS) with its
 * power model and power state, for the planner and the energy report. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include "agent/agent.h"
#include "agent/agent_cons.h"
#include "agent/cons_live.h"
#include "agent/records.h"
#include "consolidate/power.h"
#include "store/store.h"

struct agent_cons *agent_cons_new(void)
{
	struct agent_cons *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->hist_interval_s = 300;
	c->hist_len = 288;
	c->idle_w = 93.7;           /* HP ML110 G5 (SPECpower), as in the simulator */
	c->peak_w = 135;
	c->standby_w = 5;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	c->capacity_cpus = n > 0 ? (double)n : 1;
	return c;
}

void agent_cons_usage(FILE *f)
{
	fprintf(f,
		"consolidation (docs/CONSOLIDATION.md):\n"
		"  --power-idle W, --power-peak W   linear power model (93.7, 135)\n"
		"  --power-table W0,W10,...,W100    11-point SPECpower table instead\n"
		"  --power-standby W      the draw on standby (5)\n"
		"  --capacity-cpus N      CPUs the VMs may use here (the online CPUs)\n"
		"  --history-interval S   record VM utilization every S seconds (300)\n"
		"  --history-len N        samples kept per VM and host (288)\n"
		"  --auto-consolidate S   plan and apply every S seconds (the settings'\n"
		"                         interval_s wins when set); one agent at a time\n");
}

static int num(const char *s, double lo, double hi, double *out)
{
	char *e;
	errno = 0;
	double v = strtod(s, &e);
	if (e == s || *e || errno || !(v >= lo) || !(v <= hi))
		return -1;
	*out = v;
	return 0;
}

int agent_cons_flag(struct agent_cons *c, const char *name, const char *val, char *err, size_t errlen)
{
	double v;
	struct cons_power p;
	if (!strcmp(name, "power-table")) {
		const char *s = val;
		int i;
		for (i = 0; i < 11 && *s; i++) {
			char *e;
			c->table_w[i] = strtod(s, &e);
			if (e == s || (*e && *e != ','))
				break;
			s = *e ? e + 1 : e;
		}
		memset(&p, 0, sizeof(p));
		p.kind = CONS_POWER_TABLE;
		memcpy(p.table_w, c->table_w, sizeof(p.table_w));
		if (i != 11 || *s || cons_power_check(&p)) {
			snprintf(err, errlen, "--power-table: 11 watt figures, comma-separated, not decreasing, "
				 "not '%s'", val);
			return -1;
		}
		c->table = 1;
		return 0;
	}
	struct { const char *name; double lo, hi; double *dst; } f[] = {
		{ "power-idle", 0, 1e5, &c->idle_w },
		{ "power-peak", 0, 1e5, &c->peak_w },
		{ "power-standby", 0, 1e5, &c->standby_w },
		{ "capacity-cpus", 0.01, 4096, &c->capacity_cpus },
		{ "history-interval", 0.5, 86400, &c->hist_interval_s },
		{ "history-len", 2, 100000, NULL },
		{ "auto-consolidate", 1, 86400, &c->auto_interval_s },
	};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (strcmp(name, f[i].name))
			continue;
		if (num(val, f[i].lo, f[i].hi, &v)) {
			snprintf(err, errlen, "--%s: a number from %g to %g, not '%s'", name, f[i].lo, f[i].hi, val);
			return -1;
		}
		if (f[i].dst)
			*f[i].dst = v;
		else
			c->hist_len = (unsigned)v;
		return 0;
	}
	return 1;
}

int agent_cons_check(const struct agent_cons *c, char *err, size_t errlen)
{
	struct cons_power p = { .kind = c->table ? CONS_POWER_TABLE : CONS_POWER_LINEAR, .idle_w = c->idle_w,
				.peak_w = c->peak_w, .standby_w = c->standby_w };
	memcpy(p.table_w, c->table_w, sizeof(p.table_w));
	if (cons_power_check(&p)) {
		snprintf(err, errlen, "--power-idle/--power-peak/--power-table/--power-standby: the power "
			 "model must not fall with load, and standby must draw no more than idle");
		return -EINVAL;
	}
	return 0;
}

static json_t *power_json(const struct agent_cons *c)
{
	if (!c->table)
		return json_pack("{s:f,s:f,s:f}", "idle_w", c->idle_w, "peak_w", c->peak_w, "standby_w",
				 c->standby_w);
	json_t *t = json_array();
	for (int i = 0; i < 11; i++)
		json_array_append_new(t, json_real(c->table_w[i]));
	return json_pack("{s:o,s:f}", "table_w", t, "standby_w", c->standby_w);
}

void agent_cons_host_fields(struct agent *a, json_t *rec)
{
	if (!a->cons)
		return;
	json_object_set_new(rec, "power_model", power_json(a->cons));
	json_object_set_new(rec, "capacity_cpus", json_real(a->cons->capacity_cpus));
}

/* Appends x to the ring arr (created if need be), keeping the last len. */
static void ring_push(json_t *rec, const char *k, json_t *x, unsigned len)
{
	json_t *arr = json_object_get(rec, k);
	if (!json_is_array(arr)) {
		arr = json_array();
		json_object_set_new(rec, k, arr);
	}
	json_array_append_new(arr, x);
	while (json_array_size(arr) > len)
		json_array_remove(arr, 0);
}

struct vm_sample {
	char name[64];
	pid_t pid;
	double cpu_s, cpu_pct;
	uint64_t rss;
	unsigned vcpus;
};

static double wall_s(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

/* One VM's sample: its CPU share since its last one here (else the agent's
 * latest figure). Returns the share of its vCPUs, 0..1. */
static double record_vm(struct agent *a, const struct vm_sample *s, double now)
{
	char key[160];
	json_t *rec = NULL;
	long long rev = 0;
	rec_key(key, sizeof(key), REC_HIST_VMS, s->name);
	if (rec_get(a->store, key, &rec, &rev))
		rec = json_object(), rev = 0;
	double share = s->cpu_pct / 100.0;
	double prev_cpu = json_number_value(json_object_get(rec, "cpu_s"));
	double prev_t = json_number_value(json_object_get(rec, "t"));
	const char *host = json_string_value(json_object_get(rec, "host"));
	if (host && !strcmp(host, a->host) &&
	    json_integer_value(json_object_get(rec, "pid")) == s->pid && s->cpu_s >= prev_cpu && now > prev_t + 0.1)
		share = (s->cpu_s - prev_cpu) / (now - prev_t);
	share /= s->vcpus;
	share = share < 0 ? 0 : share > 1 ? 1 : share;
	ring_push(rec, "cpu", json_real(round(share * 10000) / 10000), a->cons->hist_len);
	ring_push(rec, "mem", json_integer((json_int_t)s->rss), a->cons->hist_len);
	ring_push(rec, "t_list", json_integer((json_int_t)now), a->cons->hist_len);
	json_object_set_new(rec, "host", json_string(a->host));
	json_object_set_new(rec, "pid", json_integer(s->pid));
	json_object_set_new(rec, "cpu_s", json_real(s->cpu_s));
	json_object_set_new(rec, "t", json_real(now));
	json_object_set_new(rec, "vcpus", json_integer(s->vcpus));
	json_object_set_new(rec, "interval_s", json_real(a->cons->hist_interval_s));
	rec_cas(a->store, key, rev, rec, 0);   /* a lost race skips one sample */
	json_decref(rec);
	return share * s->vcpus;
}

void agent_history_tick(struct agent *a)
{
	struct agent_cons *c = a->cons;
	int64_t now_ms = agent_now_ms();
	if (!c || (c->last_hist_ms && now_ms - c->last_hist_ms < (int64_t)(c->hist_interval_s * 1000)))
		return;
	c->last_hist_ms = now_ms;
	size_t n = 0, cap = 16;
	struct vm_sample *s = calloc(cap, sizeof(*s));
	pthread_mutex_lock(&a->lock);
	for (struct agent_vm *v = a->vms; s && v; v = v->next) {
		if (v->gone || v->incoming || strcmp(v->status, "running"))
			continue;
		if (n == cap) {
			struct vm_sample *t = realloc(s, 2 * cap * sizeof(*s));
			if (!t)
				break;
			s = t;
			cap *= 2;
		}
		snprintf(s[n].name, sizeof(s[n].name), "%s", v->name);
		s[n].pid = v->pid;
		s[n].cpu_s = v->last_cpu_s;
		s[n].cpu_pct = v->cpu_pct;
		s[n].rss = v->rss;
		json_t *cpus = json_object_get(v->spec, "cpus");
		s[n].vcpus = json_is_integer(cpus) && json_integer_value(cpus) > 0 ? (unsigned)json_integer_value(cpus) : 1;
		n++;
	}
	pthread_mutex_unlock(&a->lock);
	double now = wall_s(), busy = 0;
	for (size_t i = 0; s && i < n; i++)
		busy += record_vm(a, &s[i], now);
	free(s);
	/* The host: its VMs' CPU against its capacity, and on or standby. */
	char key[160];
	json_t *rec = NULL, *cfg = agent_host_cfg(a, NULL);
	long long rev = 0;
	const char *power = json_string_value(json_object_get(cfg, "power"));
	int on = !power || strcmp(power, "standby") != 0;
	json_decref(cfg);
	rec_key(key, sizeof(key), REC_HIST_HOSTS, a->host);
	if (rec_get(a->store, key, &rec, &rev))
		rec = json_object(), rev = 0;
	double u = busy / c->capacity_cpus;
	ring_push(rec, "t", json_integer((json_int_t)now), c->hist_len);
	ring_push(rec, "util", json_real(round((u > 1 ? 1 : u) * 10000) / 10000), c->hist_len);
	ring_push(rec, "on", json_integer(on), c->hist_len);
	json_object_set_new(rec, "interval_s", json_real(c->hist_interval_s));
	json_object_set_new(rec, "power_model", power_json(c));
	json_object_set_new(rec, "capacity_cpus", json_real(c->capacity_cpus));
	rec_cas(a->store, key, rev, rec, 0);
	json_decref(rec);
}
