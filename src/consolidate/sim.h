/* The consolidation simulator: replays a utilization trace through the
 * planner interval by interval and accounts energy, migrations and the SLA
 * metrics of Beloglazov & Buyya 2012 (SLATAH, PDM, SLAV, ESV). */
#ifndef TERN_CONSOLIDATE_SIM_H
#define TERN_CONSOLIDATE_SIM_H
#include "consolidate/planner.h"
#include "consolidate/trace.h"

/* A data centre: host templates and VM sizes; the trace gives utilization. */
struct cons_scenario {
	struct cons_host *hosts;
	unsigned n_hosts;
	struct cons_vm *vms;        /* util, util_len and host are the simulator's */
	unsigned n_vms;
	const double *util;         /* n_vms rows of n_steps values, 0..1 */
	unsigned n_steps;
	double interval_s;
};

struct cons_sim_result {
	enum cons_policy policy;
	double energy_kwh;
	unsigned long migrations;
	double slatah, pdm, slav, esv;
	unsigned long hosts_shutdown;   /* active -> standby transitions */
	double mean_active_hosts;
	unsigned long unplaced;         /* VMs the planner could not move */
	unsigned long overload_events;  /* hosts found overloaded, summed */
};

/* The standard scenario of shared/data/README.md for a trace: n_hosts
 * alternating HP ML110 G4 / G5, the four VM types in quarters. standby_w is
 * each host's standby draw. With reserve_memory, a VM reserves its memory
 * and bandwidth on its host; without, as in the paper's CloudSim runs (whose
 * PlanetLab VMs request no RAM or bandwidth), only CPU limits placement and
 * memory only sets migration times. Free with cons_scenario_free. */
int cons_scenario_planetlab(const struct cons_trace *t, unsigned n_hosts, double interval_s,
			    double standby_w, bool reserve_memory, struct cons_scenario *sc);
void cons_scenario_free(struct cons_scenario *sc);

/* Runs one policy over the whole trace. Returns 0, -EINVAL or -ENOMEM. */
int cons_sim_run(const struct cons_scenario *sc, const struct cons_params *p,
		 struct cons_sim_result *r);
/* Energy bounds over the trace's duration: every host on standby, and every
 * host at 100 % CPU. */
void cons_sim_bounds(const struct cons_scenario *sc, double *standby_kwh, double *peak_kwh);
#endif
