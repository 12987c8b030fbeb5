/* The consolidation simulator. Each interval: the planner sees every VM's
 * history up to now, its plan is applied, and the interval is accounted in
 * sub-steps (demand interpolated linearly to the next sample, a migrating VM
 * loading its source until the copy ends). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "consolidate/sim.h"

#define SUBSTEPS 60
#define PDM_SHARE 0.1   /* a migrating VM loses 10 % of its demand (paper, 6.2) */

static const struct cons_power ml110_g4 = {
	.kind = CONS_POWER_TABLE,
	.table_w = { 86, 89.4, 92.6, 96, 99.5, 102, 106, 108, 112, 114, 117 },
};
static const struct cons_power ml110_g5 = {
	.kind = CONS_POWER_TABLE,
	.table_w = { 93.7, 97, 101, 105, 110, 116, 121, 125, 129, 133, 135 },
};
static const double vm_mips[4] = { 2500, 2000, 1000, 500 };
static const double vm_mem[4] = { 870, 1740, 1740, 613 };

int cons_scenario_planetlab(const struct cons_trace *t, unsigned n_hosts, double interval_s,
			    double standby_w, bool reserve_memory, struct cons_scenario *sc)
{
	memset(sc, 0, sizeof(*sc));
	if (!t->n_vms || !t->n_steps || !n_hosts || !(interval_s > 0))
		return -EINVAL;
	sc->hosts = calloc(n_hosts, sizeof(*sc->hosts));
	sc->vms = calloc(t->n_vms, sizeof(*sc->vms));
	if (!sc->hosts || !sc->vms) {
		cons_scenario_free(sc);
		return -ENOMEM;
	}
	for (unsigned h = 0; h < n_hosts; h++) {
		struct cons_host *ho = &sc->hosts[h];
		ho->core_mips = h % 2 ? 2660 : 1860;
		ho->cores = 2;
		ho->mem_mb = reserve_memory ? 4096 : 1e15;
		ho->bw_mbit = 1000;
		ho->power = h % 2 ? ml110_g5 : ml110_g4;
		ho->power.standby_w = standby_w;
	}
	unsigned quarter = (t->n_vms + 3) / 4;
	for (unsigned i = 0; i < t->n_vms; i++) {
		unsigned type = i / quarter;
		sc->vms[i] = (struct cons_vm){
			.mips = vm_mips[type], .vcpus = 1, .mem_mb = vm_mem[type],
			.bw_mbit = reserve_memory ? 100 : 0,
		};
	}
	sc->n_hosts = n_hosts;
	sc->n_vms = t->n_vms;
	sc->util = t->util;
	sc->n_steps = t->n_steps;
	sc->interval_s = interval_s;
	return 0;
}

void cons_scenario_free(struct cons_scenario *sc)
{
	free(sc->hosts);
	free(sc->vms);
	memset(sc, 0, sizeof(*sc));
}

void cons_sim_bounds(const struct cons_scenario *sc, double *standby_kwh, double *peak_kwh)
{
	double hours = sc->n_steps * sc->interval_s / 3600.0, s = 0, p = 0;
	for (unsigned h = 0; h < sc->n_hosts; h++) {
		s += sc->hosts[h].power.standby_w;
		p += cons_power_watts(&sc->hosts[h].power, 1);
	}
	*standby_kwh = s * hours / 1000;
	*peak_kwh = p * hours / 1000;
}

struct sim {
	const struct cons_scenario *sc;
	struct cons_host *hosts;
	struct cons_vm *vms;
	int *mig_from;
	double *mig_secs, *u0, *u1, *req, *deg, *host_d, *active_t, *viol_t;
	unsigned *host_occ;
	double energy_j, active_host_s;
};

/* Initial placement, shared by every policy: each VM at its full size,
 * best-fit decreasing by power with idle power counted (a dense start). */
static int initial_placement(struct sim *s, bool all_on)
{
	static const double full = 1.0;
	const struct cons_scenario *sc = s->sc;
	struct cons_params ip;
	cons_params_default(&ip, CONS_POLICY_NONE);
	ip.wake_cost = true;
	ip.interval_s = sc->interval_s;
	for (unsigned h = 0; h < sc->n_hosts; h++)
		s->hosts[h].state = CONS_HOST_STANDBY;
	for (unsigned i = 0; i < sc->n_vms; i++) {
		s->vms[i].host = -1;
		s->vms[i].util = &full;
		s->vms[i].util_len = 1;
	}
	struct cons_plan plan;
	int rc = cons_plan_compute(s->hosts, sc->n_hosts, s->vms, sc->n_vms, &ip, &plan);
	if (!rc && plan.n_unplaced)
		rc = -ENOSPC;
	for (unsigned i = 0; !rc && i < plan.n_mig; i++) {
		s->vms[plan.mig[i].vm].host = plan.mig[i].to;
		s->hosts[plan.mig[i].to].state = CONS_HOST_ACTIVE;
	}
	cons_plan_free(&plan);
	if (all_on)
		for (unsigned h = 0; h < sc->n_hosts; h++)
			s->hosts[h].state = CONS_HOST_ACTIVE;
	return rc;
}

/* One interval: migrations already applied; demand ramps from u0 to u1. */
static void account(struct sim *s)
{
	const struct cons_scenario *sc = s->sc;
	double I = sc->interval_s, dt = I / SUBSTEPS;
	for (unsigned i = 0; i < sc->n_vms; i++) {
		double size = s->vms[i].mips * (s->vms[i].vcpus ? s->vms[i].vcpus : 1);
		s->req[i] += I * (s->u0[i] + s->u1[i]) / 2 * size;
		if (s->mig_from[i] >= 0) {
			double ts = s->mig_secs[i] < I ? s->mig_secs[i] : I;
			s->deg[i] += PDM_SHARE * size *
				     (s->u0[i] * ts + (s->u1[i] - s->u0[i]) * ts * ts / (2 * I));
		}
	}
	for (unsigned st = 0; st < SUBSTEPS; st++) {
		double t = (st + 0.5) * dt;
		memset(s->host_d, 0, sc->n_hosts * sizeof(double));
		memset(s->host_occ, 0, sc->n_hosts * sizeof(unsigned));
		for (unsigned i = 0; i < sc->n_vms; i++) {
			const struct cons_vm *v = &s->vms[i];
			double d = v->mips * (v->vcpus ? v->vcpus : 1) *
				   (s->u0[i] + (s->u1[i] - s->u0[i]) * t / I);
			int h = s->mig_from[i] >= 0 && t < s->mig_secs[i] ? s->mig_from[i] : v->host;
			s->host_d[h] += d;
			s->host_occ[h]++;
		}
		for (unsigned h = 0; h < sc->n_hosts; h++) {
			const struct cons_host *ho = &s->hosts[h];
			if (ho->state != CONS_HOST_ACTIVE && !s->host_occ[h]) {
				s->energy_j += ho->power.standby_w * dt;
				continue;
			}
			double cap = ho->core_mips * ho->cores;
			s->energy_j += cons_power_watts(&ho->power, s->host_d[h] / cap) * dt;
			s->active_t[h] += dt;
			s->active_host_s += dt;
			if (s->host_d[h] >= cap * (1 - 1e-9))
				s->viol_t[h] += dt;
		}
	}
}

static int simulate(struct sim *s, const struct cons_params *p, struct cons_sim_result *r)
{
	const struct cons_scenario *sc = s->sc;
	int rc = initial_placement(s, p->policy == CONS_POLICY_NONE);
	if (rc)
		return rc;
	for (unsigned k = 0; k < sc->n_steps; k++) {
		for (unsigned i = 0; i < sc->n_vms; i++) {
			const double *row = sc->util + (size_t)i * sc->n_steps;
			s->vms[i].util = row;
			s->vms[i].util_len = k + 1;
			s->u0[i] = row[k];
			s->u1[i] = k + 1 < sc->n_steps ? row[k + 1] : row[k];
			s->mig_from[i] = -1;
		}
		struct cons_plan plan;
		rc = cons_plan_compute(s->hosts, sc->n_hosts, s->vms, sc->n_vms, p, &plan);
		if (rc)
			return rc;
		for (unsigned m = 0; m < plan.n_mig; m++) {
			const struct cons_migration *mg = &plan.mig[m];
			if (mg->from >= 0) {
				s->mig_from[mg->vm] = mg->from;
				s->mig_secs[mg->vm] = mg->seconds;
				r->migrations++;
			}
			s->vms[mg->vm].host = mg->to;
		}
		for (unsigned w = 0; w < plan.n_wake; w++)
			s->hosts[plan.wake[w]].state = CONS_HOST_ACTIVE;
		for (unsigned b = 0; b < plan.n_standby; b++)
			s->hosts[plan.standby[b]].state = CONS_HOST_STANDBY;
		r->hosts_shutdown += plan.n_standby;
		r->unplaced += plan.n_unplaced;
		r->overload_events += plan.n_overloaded;
		cons_plan_free(&plan);
		account(s);
	}
	double hosts_n = 0, vms_n = 0, sl = 0, pd = 0;
	for (unsigned h = 0; h < sc->n_hosts; h++)
		if (s->active_t[h] > 0) {
			sl += s->viol_t[h] / s->active_t[h];
			hosts_n++;
		}
	for (unsigned i = 0; i < sc->n_vms; i++)
		if (s->req[i] > 0) {
			pd += s->deg[i] / s->req[i];
			vms_n++;
		}
	r->energy_kwh = s->energy_j / 3.6e6;
	r->slatah = hosts_n ? sl / hosts_n : 0;
	r->pdm = vms_n ? pd / vms_n : 0;
	r->slav = r->slatah * r->pdm;
	r->esv = r->energy_kwh * r->slav;
	r->mean_active_hosts = s->active_host_s / (sc->n_steps * sc->interval_s);
	return 0;
}

int cons_sim_run(const struct cons_scenario *sc, const struct cons_params *p,
		 struct cons_sim_result *r)
{
	memset(r, 0, sizeof(*r));
	r->policy = p->policy;
	if (!sc->n_hosts || !sc->n_steps || !(sc->interval_s > 0))
		return -EINVAL;
	size_t nh = sc->n_hosts, nv = sc->n_vms ? sc->n_vms : 1;
	struct sim s = { .sc = sc };
	s.hosts = malloc(nh * sizeof(*s.hosts));
	s.vms = malloc(nv * sizeof(*s.vms));
	s.mig_from = malloc(nv * sizeof(int));
	s.mig_secs = calloc(nv, sizeof(double));
	s.u0 = malloc(nv * sizeof(double));
	s.u1 = malloc(nv * sizeof(double));
	s.req = calloc(nv, sizeof(double));
	s.deg = calloc(nv, sizeof(double));
	s.host_d = malloc(nh * sizeof(double));
	s.active_t = calloc(nh, sizeof(double));
	s.viol_t = calloc(nh, sizeof(double));
	s.host_occ = malloc(nh * sizeof(unsigned));
	int rc = -ENOMEM;
	if (s.hosts && s.vms && s.mig_from && s.mig_secs && s.u0 && s.u1 && s.req && s.deg &&
	    s.host_d && s.active_t && s.viol_t && s.host_occ) {
		memcpy(s.hosts, sc->hosts, nh * sizeof(*s.hosts));
		if (sc->n_vms)
			memcpy(s.vms, sc->vms, sc->n_vms * sizeof(*s.vms));
		rc = simulate(&s, p, r);
	}
	free(s.hosts); free(s.vms); free(s.mig_from); free(s.mig_secs); free(s.u0); free(s.u1);
	free(s.req); free(s.deg); free(s.host_d); free(s.active_t); free(s.viol_t);
	free(s.host_occ);
	return rc;
}
