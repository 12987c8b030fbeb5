/* The consolidation planner: overload detection (THR, LR, tern), VM selection
 * (minimum migration time), power-aware best-fit decreasing placement,
 * underload evacuation and standby/wake decisions. Formulas and sources are
 * in docs/CONSOLIDATION.md. Pure: everything lives in a per-call context. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "consolidate/planner.h"
#include "consolidate/regress.h"

/* Per-host aggregates over the host's planned VMs. */
struct agg {
	unsigned n;                 /* VMs */
	unsigned len;               /* usable history: min over the VMs, <= window */
	double cur, mem, bw;        /* current demand (MIPS), memory, bandwidth */
	double var;                 /* tern: sum of the VMs' step variances (MIPS^2) */
	double max_mem;             /* largest VM memory (LR's migration time) */
	double hist[CONS_WINDOW_MAX]; /* demand in MIPS, newest last */
};

struct ctx {
	const struct cons_host *h;
	const struct cons_vm *v;
	const struct cons_params *p;
	unsigned nh, nv;
	int *at;                    /* planned host of each VM */
	int *head, *next, *prev;    /* VMs of each host, a doubly linked list */
	struct agg *agg;
	double *sigma;              /* tern: std dev of each VM's step, MIPS */
	unsigned *moves;            /* migrations in + out per host */
	unsigned char *excl_place, *excl_under;
	struct cons_plan *plan;
	unsigned mig_cap;           /* allocated entries of plan->mig */
};

struct keyed { double key; unsigned idx; };

static const char *const policy_names[] = { "tern", "thr-mmt", "lr-mmt", "none" };

const char *cons_policy_name(enum cons_policy policy)
{
	return (unsigned)policy < 4 ? policy_names[policy] : "?";
}

int cons_policy_parse(const char *name, enum cons_policy *out)
{
	for (unsigned i = 0; i < 4; i++)
		if (!strcmp(name, policy_names[i])) {
			*out = (enum cons_policy)i;
			return 0;
		}
	return -EINVAL;
}

void cons_params_default(struct cons_params *p, enum cons_policy policy)
{
	*p = (struct cons_params){
		.policy = policy, .interval_s = 300, .thr = 0.8, .safety = 1.2,
		.window = 10, .fallback_thr = 0.7, .capacity_coeff = 1.0,
	};
	if (policy == CONS_POLICY_TERN) {
		p->capacity_coeff = 0.8;
		p->z = 0;
		p->low_wm = 0.5;
		p->standby_after = 3;
		p->max_mig_per_host = 12;
		p->wake_cost = true;
	}
}

static double host_cap(const struct cons_host *h)
{
	return h->core_mips * h->cores;
}

static unsigned vcpus(const struct cons_vm *v)
{
	return v->vcpus ? v->vcpus : 1;
}

double cons_vm_demand(const struct cons_vm *v)
{
	double u = v->util_len ? v->util[v->util_len - 1] : 1.0;
	return v->mips * vcpus(v) * u;
}

double cons_migration_seconds(const struct cons_vm *vm, const struct cons_host *host)
{
	return vm->mem_mb * 8.0 / (host->bw_mbit / 2.0);
}

/* Demand of VM v at step k of a window of w steps ending now; -1 if the
 * history does not reach back that far. */
static double vm_demand_at(const struct cons_vm *v, unsigned w, unsigned k)
{
	if (v->util_len < w - k)
		return -1;
	return v->mips * vcpus(v) * v->util[v->util_len - w + k];
}

static void agg_rebuild(struct ctx *c, unsigned h)
{
	struct agg *a = &c->agg[h];
	unsigned w = c->p->window;
	memset(a, 0, sizeof(*a));
	a->len = w;
	for (int i = c->head[h]; i >= 0; i = c->next[i]) {
		const struct cons_vm *v = &c->v[i];
		a->n++;
		a->cur += cons_vm_demand(v);
		a->mem += v->mem_mb;
		a->bw += v->bw_mbit;
		a->var += c->sigma[i] * c->sigma[i];
		if (v->mem_mb > a->max_mem)
			a->max_mem = v->mem_mb;
		if (v->util_len < a->len)
			a->len = v->util_len;
		for (unsigned k = 0; k < w; k++) {
			double d = vm_demand_at(v, w, k);
			if (d > 0)
				a->hist[k] += d;
		}
	}
	if (!a->n)
		a->len = 0;
}

static void attach(struct ctx *c, unsigned vm, int h)
{
	c->at[vm] = h;
	/* Keep each list in VM order, so ties break the same way every run. */
	int prev = -1, cur = c->head[h];
	while (cur >= 0 && cur < (int)vm) {
		prev = cur;
		cur = c->next[cur];
	}
	c->next[vm] = cur;
	c->prev[vm] = prev;
	if (cur >= 0)
		c->prev[cur] = (int)vm;
	if (prev >= 0)
		c->next[prev] = (int)vm;
	else
		c->head[h] = (int)vm;
	agg_rebuild(c, (unsigned)h);
}

static void detach(struct ctx *c, unsigned vm)
{
	int h = c->at[vm];
	if (c->prev[vm] >= 0)
		c->next[c->prev[vm]] = c->next[vm];
	else
		c->head[h] = c->next[vm];
	if (c->next[vm] >= 0)
		c->prev[c->next[vm]] = c->prev[vm];
	c->at[vm] = -1;
	agg_rebuild(c, (unsigned)h);
}

/* The window of host h's utilization (0..1), with VM extra added (or -1);
 * returns the usable length (newest values at the end of y). */
static unsigned host_window(const struct ctx *c, unsigned h, int extra, double *y)
{
	const struct agg *a = &c->agg[h];
	unsigned w = c->p->window, len = a->n ? a->len : w;
	double cap = host_cap(&c->h[h]);
	for (unsigned k = 0; k < w; k++) {
		y[k] = a->hist[k];
		if (extra >= 0) {
			double d = vm_demand_at(&c->v[extra], w, k);
			if (d > 0)
				y[k] += d;
		}
		y[k] /= cap;
	}
	if (extra >= 0 && c->v[extra].util_len < len)
		len = c->v[extra].util_len;
	return len;
}

/* Is host h overloaded (with VM extra added, if extra >= 0)? */
static bool overloaded(const struct ctx *c, unsigned h, int extra)
{
	const struct cons_params *p = c->p;
	const struct agg *a = &c->agg[h];
	double cap = host_cap(&c->h[h]);
	double cur = a->cur + (extra >= 0 ? cons_vm_demand(&c->v[extra]) : 0);
	double u = cur / cap;
	double y[CONS_WINDOW_MAX], fa, fb;
	unsigned w = p->window, len;

	switch (p->policy) {
	case CONS_POLICY_NONE:
		return u > 1;
	case CONS_POLICY_THR_MMT:
		return u > p->thr;
	case CONS_POLICY_LR_MMT: {
		len = host_window(c, h, extra, y);
		if (len < w || cons_loess_fit(y, w, &fa, &fb))
			return u > p->fallback_thr;
		double mem = a->max_mem;
		if (extra >= 0 && c->v[extra].mem_mb > mem)
			mem = c->v[extra].mem_mb;
		double tm = mem * 8.0 / (c->h[h].bw_mbit / 2.0);
		double ahead = ceil(tm / p->interval_s);
		if (ahead < 1)
			ahead = 1;
		return p->safety * (fa + fb * (w - 1 + ahead + 1)) >= 1;
	}
	case CONS_POLICY_TERN: {
		if (u > 1)
			return true;
		double pred = u;
		len = host_window(c, h, extra, y);
		if (len >= 3 && !cons_loess_fit(y + (w - len), len, &fa, &fb)) {
			double f = fa + fb * (len + 1);
			if (f > pred)
				pred = f;
		}
		double var = a->var;
		if (extra >= 0)
			var += c->sigma[extra] * c->sigma[extra];
		return pred + p->z * sqrt(var) / cap >= 1;
	}
	}
	return false;
}

static double power_delta(const struct ctx *c, unsigned h, double d)
{
	const struct cons_host *ho = &c->h[h];
	double cap = host_cap(ho), cur = c->agg[h].cur;
	double before = cons_power_watts(&ho->power, cur / cap);
	if (c->p->wake_cost && ho->state == CONS_HOST_STANDBY && !c->agg[h].n)
		before = ho->power.standby_w;
	return cons_power_watts(&ho->power, (cur + d) / cap) - before;
}

static bool suitable(const struct ctx *c, unsigned h, unsigned vm)
{
	const struct cons_host *ho = &c->h[h];
	const struct cons_vm *v = &c->v[vm];
	const struct agg *a = &c->agg[h];
	const struct cons_params *p = c->p;
	double d = cons_vm_demand(v), cap = host_cap(ho);
	if (c->excl_place[h] || d / vcpus(v) > ho->core_mips || vcpus(v) > ho->cores)
		return false;
	if (a->cur + d > cap || a->mem + v->mem_mb > ho->mem_mb || a->bw + v->bw_mbit > ho->bw_mbit)
		return false;
	if (p->max_mig_per_host && c->moves[h] >= p->max_mig_per_host)
		return false;
	if (p->policy == CONS_POLICY_TERN) {
		if ((a->cur + d) / cap > p->capacity_coeff)
			return false;
		return !overloaded(c, h, (int)vm);
	}
	/* As in the paper's PABFD: an empty host takes any VM that fits. */
	return !a->n || !overloaded(c, h, (int)vm);
}

/* PABFD's inner step: the suitable host whose power rises least. */
static int find_host(const struct ctx *c, unsigned vm)
{
	double best = INFINITY, d = cons_vm_demand(&c->v[vm]);
	int best_h = -1;
	for (unsigned h = 0; h < c->nh; h++) {
		if (!suitable(c, h, vm))
			continue;
		double delta = power_delta(c, h, d);
		if (delta < best) {
			best = delta;
			best_h = (int)h;
		}
	}
	return best_h;
}

static int push_mig(struct ctx *c, unsigned vm, int from, int to)
{
	struct cons_plan *pl = c->plan;
	if (pl->n_mig == c->mig_cap) {
		unsigned cap = c->mig_cap ? c->mig_cap * 2 : 64;
		struct cons_migration *m = realloc(pl->mig, cap * sizeof(*m));
		if (!m)
			return -ENOMEM;
		pl->mig = m;
		c->mig_cap = cap;
	}
	pl->mig[pl->n_mig++] = (struct cons_migration){
		.vm = vm, .from = from, .to = to,
		.seconds = from < 0 ? 0 : cons_migration_seconds(&c->v[vm], &c->h[to]),
	};
	return 0;
}

static int cmp_key_desc(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	if (x->key != y->key)
		return x->key > y->key ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Sorts VM indices by current demand, largest first (the "decreasing" of
 * best-fit decreasing). */
static void sort_by_demand(const struct ctx *c, struct keyed *k, const unsigned *vms, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		k[i] = (struct keyed){ cons_vm_demand(&c->v[vms[i]]), vms[i] };
	qsort(k, n, sizeof(*k), cmp_key_desc);
}

/* Places vms (all detached) by PABFD. With all_or_nothing, a VM that fits
 * nowhere undoes the whole batch and returns 1; otherwise it goes back to
 * its source and counts as unplaced. */
static int place(struct ctx *c, const unsigned *vms, const int *src, unsigned n,
		 bool all_or_nothing, struct keyed *tmp)
{
	unsigned first_mig = c->plan->n_mig;
	sort_by_demand(c, tmp, vms, n);
	for (unsigned i = 0; i < n; i++) {
		unsigned vm = tmp[i].idx;
		int from = src[vm], to = find_host(c, vm);
		if (to < 0) {
			if (all_or_nothing) {
				for (unsigned j = first_mig; j < c->plan->n_mig; j++) {
					struct cons_migration *m = &c->plan->mig[j];
					c->moves[m->to]--;
					c->moves[m->from]--;
					detach(c, m->vm);
				}
				c->plan->n_mig = first_mig;
				for (unsigned j = 0; j < n; j++)
					if (c->at[vms[j]] < 0)
						attach(c, vms[j], src[vms[j]]);
				return 1;
			}
			c->plan->n_unplaced++;
			if (from >= 0)
				attach(c, vm, from);
			continue;
		}
		attach(c, vm, to);
		if (push_mig(c, vm, from, to))
			return -ENOMEM;
		c->moves[to]++;
		if (from >= 0)
			c->moves[from]++;
	}
	return 0;
}

/* The VM to move off overloaded host h: minimum migration time (MMT); tern
 * takes the quickest VM whose removal alone ends the overload, if any. */
static int select_vm(struct ctx *c, unsigned h)
{
	int best = -1;
	double best_t = INFINITY;
	for (int i = c->head[h]; i >= 0; i = c->next[i]) {
		double t = cons_migration_seconds(&c->v[i], &c->h[h]);
		if (t < best_t) {
			best_t = t;
			best = i;
		}
	}
	if (c->p->policy != CONS_POLICY_TERN || best < 0)
		return best;
	int quick = -1;
	double quick_t = INFINITY;
	for (int i = c->head[h]; i >= 0; i = c->next[i]) {
		double t = cons_migration_seconds(&c->v[i], &c->h[h]);
		if (t >= quick_t)
			continue;
		detach(c, (unsigned)i);
		if (!overloaded(c, h, -1)) {
			quick_t = t;
			quick = i;
		}
		attach(c, (unsigned)i, (int)h);
	}
	return quick >= 0 ? quick : best;
}

/* Tern's hysteresis: h has stayed below the low watermark for the last
 * standby_after intervals (its history, from its VMs' histories), and was
 * not woken within them. */
static bool long_underloaded(const struct ctx *c, unsigned h)
{
	const struct cons_params *p = c->p;
	const struct agg *a = &c->agg[h];
	unsigned n = p->standby_after ? p->standby_after : 1, w = p->window;
	if (n > w || a->len < n || c->h[h].just_woken)
		return false;
	double cap = host_cap(&c->h[h]);
	for (unsigned k = w - n; k < w; k++)
		if (a->hist[k] / cap >= p->low_wm)
			return false;
	return true;
}

static int check_input(const struct cons_host *hosts, unsigned nh, const struct cons_vm *vms,
		       unsigned nv, const struct cons_params *p)
{
	if (p->window < 3 || p->window > CONS_WINDOW_MAX || !(p->interval_s > 0) ||
	    (unsigned)p->policy > CONS_POLICY_NONE)
		return -EINVAL;
	if (p->policy == CONS_POLICY_TERN && (!(p->capacity_coeff > 0) || p->capacity_coeff > 1 ||
					      p->z < 0 || p->standby_after > p->window))
		return -EINVAL;
	for (unsigned h = 0; h < nh; h++)
		if (!(hosts[h].core_mips > 0) || !hosts[h].cores || !(hosts[h].bw_mbit > 0) ||
		    cons_power_check(&hosts[h].power))
			return -EINVAL;
	for (unsigned i = 0; i < nv; i++) {
		if (vms[i].host >= (int)nh || vms[i].host < -1 || !(vms[i].mips >= 0))
			return -EINVAL;
		for (unsigned k = 0; k < vms[i].util_len; k++)
			if (!(vms[i].util[k] >= 0) || vms[i].util[k] > 1)
				return -EINVAL;
	}
	return 0;
}

/* Each VM's step standard deviation (RMS of its last window-1 changes), in
 * MIPS; a VM with less history gets a tenth of its size. */
static void vm_sigmas(struct ctx *c)
{
	unsigned w = c->p->window;
	for (unsigned i = 0; i < c->nv; i++) {
		const struct cons_vm *v = &c->v[i];
		double size = v->mips * vcpus(v);
		if (c->p->policy != CONS_POLICY_TERN) {
			c->sigma[i] = 0;
			continue;
		}
		unsigned n = v->util_len < w ? v->util_len : w;
		if (n < 3) {
			c->sigma[i] = 0.1 * size;
			continue;
		}
		double s = 0;
		const double *u = v->util + v->util_len - n;
		for (unsigned k = 1; k < n; k++)
			s += (u[k] - u[k - 1]) * (u[k] - u[k - 1]);
		c->sigma[i] = sqrt(s / (n - 1)) * size;
	}
}

static int finish(struct ctx *c)
{
	struct cons_plan *pl = c->plan;
	if (c->p->policy == CONS_POLICY_NONE)
		return 0;
	pl->standby = calloc(c->nh ? c->nh : 1, sizeof(unsigned));
	pl->wake = calloc(c->nh ? c->nh : 1, sizeof(unsigned));
	if (!pl->standby || !pl->wake)
		return -ENOMEM;
	for (unsigned h = 0; h < c->nh; h++) {
		if (c->h[h].state == CONS_HOST_ACTIVE && !c->agg[h].n)
			pl->standby[pl->n_standby++] = h;
		else if (c->h[h].state == CONS_HOST_STANDBY && c->agg[h].n)
			pl->wake[pl->n_wake++] = h;
	}
	return 0;
}

static int run_phases(struct ctx *c, unsigned *list, int *src, struct keyed *tmp)
{
	const struct cons_params *p = c->p;
	unsigned n = 0;
	int rc;

	/* New VMs first: admission by the same placement. */
	for (unsigned i = 0; i < c->nv; i++)
		if (c->v[i].host < 0)
			list[n++] = i;
	if (n && (rc = place(c, list, src, n, false, tmp)) < 0)
		return rc;
	if (p->policy == CONS_POLICY_NONE)
		return finish(c);

	/* Overloaded hosts, and the VMs to move off them. */
	n = 0;
	for (unsigned h = 0; h < c->nh; h++) {
		if (!c->agg[h].n || !overloaded(c, h, -1))
			continue;
		c->plan->n_overloaded++;
		c->excl_place[h] = c->excl_under[h] = 1;
		while (c->agg[h].n) {
			if (p->max_mig_per_host && c->moves[h] >= p->max_mig_per_host)
				break;
			int vm = select_vm(c, h);
			detach(c, (unsigned)vm);
			c->moves[h]++;          /* reserved; place() counts it again */
			list[n++] = (unsigned)vm;
			if (!overloaded(c, h, -1))
				break;
		}
	}
	for (unsigned i = 0; i < n; i++)
		c->moves[src[list[i]]]--;
	if (n && (rc = place(c, list, src, n, false, tmp)) < 0)
		return rc;
	for (unsigned i = 0; i < c->plan->n_mig; i++)
		c->excl_under[c->plan->mig[i].to] = 1;

	/* Underloaded hosts: least utilized first, emptied entirely or not at
	 * all, onto hosts that were running VMs when the round began (a host
	 * just woken for an overloaded one still counts as switched off, as
	 * its utilization does in the reference simulator). */
	for (unsigned h = 0; h < c->nh; h++)
		if (!c->agg[h].n || c->h[h].state == CONS_HOST_STANDBY)
			c->excl_under[h] = c->excl_place[h] = 1;
	for (;;) {
		int under = -1;
		double umin = INFINITY;
		for (unsigned h = 0; h < c->nh; h++) {
			if (c->excl_under[h] || !c->agg[h].n)
				continue;
			double u = c->agg[h].cur / host_cap(&c->h[h]);
			if (u < umin) {
				umin = u;
				under = (int)h;
			}
		}
		if (under < 0)
			break;
		c->excl_under[under] = c->excl_place[under] = 1;
		if (p->policy == CONS_POLICY_TERN) {
			if (!long_underloaded(c, (unsigned)under))
				continue;
			if (p->max_mig_per_host && c->moves[under] + c->agg[under].n > p->max_mig_per_host)
				continue;
		}
		n = 0;
		for (int i = c->head[under]; i >= 0; i = c->next[i])
			list[n++] = (unsigned)i;
		for (unsigned i = 0; i < n; i++)
			detach(c, list[i]);
		unsigned before = c->plan->n_mig;
		if ((rc = place(c, list, src, n, true, tmp)) < 0)
			return rc;
		if (rc == 0)
			for (unsigned i = before; i < c->plan->n_mig; i++)
				c->excl_under[c->plan->mig[i].to] = 1;
	}
	return finish(c);
}

int cons_plan_compute(const struct cons_host *hosts, unsigned nh, const struct cons_vm *vms,
		      unsigned nv, const struct cons_params *p, struct cons_plan *plan)
{
	memset(plan, 0, sizeof(*plan));
	int rc = check_input(hosts, nh, vms, nv, p);
	if (rc)
		return rc;
	struct ctx c = { .h = hosts, .v = vms, .p = p, .nh = nh, .nv = nv, .plan = plan };
	size_t hn = nh ? nh : 1, vn = nv ? nv : 1;
	c.at = malloc(vn * sizeof(int));
	c.head = malloc(hn * sizeof(int));
	c.next = malloc(vn * sizeof(int));
	c.prev = malloc(vn * sizeof(int));
	c.agg = calloc(hn, sizeof(struct agg));
	c.sigma = calloc(vn, sizeof(double));
	c.moves = calloc(hn, sizeof(unsigned));
	c.excl_place = calloc(hn, 1);
	c.excl_under = calloc(hn, 1);
	unsigned *list = malloc(vn * sizeof(unsigned));
	int *src = malloc(vn * sizeof(int));
	struct keyed *tmp = malloc(vn * sizeof(struct keyed));
	rc = -ENOMEM;
	if (c.at && c.head && c.next && c.prev && c.agg && c.sigma && c.moves && c.excl_place &&
	    c.excl_under && list && src && tmp) {
		vm_sigmas(&c);
		for (unsigned h = 0; h < nh; h++)
			c.head[h] = -1;
		for (unsigned i = 0; i < nv; i++) {
			c.at[i] = -1;
			src[i] = vms[i].host;
		}
		/* Link every VM, then build each host's aggregates once. */
		for (unsigned i = nv; i-- > 0;) {
			if (vms[i].host < 0)
				continue;
			int h = vms[i].host;
			c.at[i] = h;
			c.prev[i] = -1;
			c.next[i] = c.head[h];
			if (c.head[h] >= 0)
				c.prev[c.head[h]] = (int)i;
			c.head[h] = (int)i;
		}
		for (unsigned h = 0; h < nh; h++)
			agg_rebuild(&c, h);
		rc = run_phases(&c, list, src, tmp);
	}
	free(c.at); free(c.head); free(c.next); free(c.prev); free(c.agg); free(c.sigma);
	free(c.moves); free(c.excl_place); free(c.excl_under); free(list); free(src); free(tmp);
	if (rc) {
		cons_plan_free(plan);
		memset(plan, 0, sizeof(*plan));
	}
	return rc;
}

void cons_plan_free(struct cons_plan *plan)
{
	free(plan->mig);
	free(plan->standby);
	free(plan->wake);
	plan->mig = NULL;
	plan->standby = plan->wake = NULL;
	plan->n_mig = plan->n_standby = plan->n_wake = 0;
}
