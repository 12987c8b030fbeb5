/* The consolidation planner: pure (no I/O, no globals). Given hosts, VMs with
 * their utilization history and parameters, it returns a plan: migrations,
 * hosts to put on standby, hosts to wake. The simulator and the live agent
 * call the same function, so both share every line of policy. */
#ifndef TERN_CONSOLIDATE_PLANNER_H
#define TERN_CONSOLIDATE_PLANNER_H
#include <stdbool.h>
#include "consolidate/power.h"

#define CONS_WINDOW_MAX 32

enum cons_policy { CONS_POLICY_TERN, CONS_POLICY_THR_MMT, CONS_POLICY_LR_MMT, CONS_POLICY_NONE };
enum cons_host_state { CONS_HOST_ACTIVE, CONS_HOST_STANDBY };

struct cons_host {
	double core_mips;           /* MIPS of one core */
	unsigned cores;
	double mem_mb;
	double bw_mbit;             /* network bandwidth, Mbit/s */
	struct cons_power power;
	enum cons_host_state state;
	/* Woken less than standby_after intervals ago: tern's policy does not
	 * empty it again yet, whatever its VMs' histories say (they include
	 * the time before it woke). */
	bool just_woken;
};

struct cons_vm {
	double mips;                /* MIPS of one vCPU */
	unsigned vcpus;             /* 0 means 1 */
	double mem_mb;
	double bw_mbit;
	int host;                   /* index into the hosts, or -1: to be placed */
	const double *util;         /* CPU utilization history, 0..1 of mips * vcpus, */
	unsigned util_len;          /* oldest first; util[util_len - 1] is now */
};

struct cons_params {
	enum cons_policy policy;
	double interval_s;          /* scheduling interval (300 s) */
	double thr;                 /* THR: static threshold (0.8) */
	double safety;              /* LR: safety parameter s (1.2) */
	unsigned window;            /* LR: observations in the regression (10) */
	double fallback_thr;        /* LR with a shorter history: threshold (0.7) */
	/* tern only (docs/CONSOLIDATION.md): */
	double capacity_coeff;      /* placement ceiling and wake watermark (0.8) */
	double z;                   /* overload margin in standard deviations */
	double low_wm;              /* underload watermark */
	unsigned standby_after;     /* intervals below low_wm before evacuating */
	unsigned max_mig_per_host;  /* migrations in + out per host and interval; 0 = no cap */
	bool wake_cost;             /* placement counts a standby host's idle power */
};

struct cons_migration {
	unsigned vm;
	int from, to;               /* from is -1 for a VM placed for the first time */
	double seconds;             /* estimated: memory / (half the target's bandwidth) */
};

struct cons_plan {
	struct cons_migration *mig;
	unsigned n_mig;
	unsigned *standby, n_standby;   /* hosts to put on standby (empty after the plan) */
	unsigned *wake, n_wake;         /* standby hosts that receive VMs */
	unsigned n_unplaced;            /* VMs to move or place that fit nowhere */
	unsigned n_overloaded;          /* hosts found overloaded */
};

/* The defaults for a policy (the paper's values for the baselines). */
void cons_params_default(struct cons_params *p, enum cons_policy policy);
const char *cons_policy_name(enum cons_policy policy);
/* 0, or -EINVAL for an unknown name. */
int cons_policy_parse(const char *name, enum cons_policy *out);
/* Migration time of vm to host, in seconds. */
double cons_migration_seconds(const struct cons_vm *vm, const struct cons_host *host);
/* Current CPU demand of a VM in MIPS (mips * vcpus * the newest utilization). */
double cons_vm_demand(const struct cons_vm *vm);

/* Computes a plan. Returns 0, -EINVAL for inconsistent input (a VM on a host
 * that does not exist, a bad parameter or power model), or -ENOMEM. The plan
 * is empty on error; free it with cons_plan_free either way. */
int cons_plan_compute(const struct cons_host *hosts, unsigned n_hosts,
		      const struct cons_vm *vms, unsigned n_vms,
		      const struct cons_params *params, struct cons_plan *plan);
void cons_plan_free(struct cons_plan *plan);
#endif
