/* ternd's part in consolidation: its flags (power model, capacity, history,
 * --auto-consolidate), the utilization history it records (agent_history.c),
 * the elected auto-consolidation loop and the API endpoints
 * (agent_consolidate.c). The planning itself is cons_live.c's. */
#ifndef TERN_AGENT_CONS_H
#define TERN_AGENT_CONS_H
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

struct agent;

struct agent_cons {
	double hist_interval_s;     /* --history-interval (300) */
	unsigned hist_len;          /* --history-len (288) */
	double idle_w, peak_w, standby_w;
	double table_w[11];
	int table;                  /* --power-table given */
	double capacity_cpus;       /* --capacity-cpus (the online CPUs) */
	double auto_interval_s;     /* --auto-consolidate (0: off) */
	int64_t last_hist_ms;
	pthread_t thread;
	int thread_started;
};

/* Defaults; NULL when out of memory. */
struct agent_cons *agent_cons_new(void);
/* One of ternd's consolidation flags (its long name without "--"): 0, 1
 * when name is not one of them, or -1 with a message in err. */
int agent_cons_flag(struct agent_cons *c, const char *name, const char *val, char *err, size_t errlen);
void agent_cons_usage(FILE *f);
/* 0, or -EINVAL when the power model given by the flags is not sound. */
int agent_cons_check(const struct agent_cons *c, char *err, size_t errlen);

/* agent_history.c: the power model and capacity for the host record
 * (agent_cons_ext's host_fields). */
void agent_cons_host_fields(struct agent *a, json_t *rec);
/* Records the VMs' and the host's utilization when an interval is due
 * (called from the main loop). */
void agent_history_tick(struct agent *a);

/* agent_consolidate.c: the auto-consolidation thread (if enabled). */
int agent_cons_start(struct agent *a);
void agent_cons_stop(struct agent *a);
/* The hooks ternd.c plugs into the agent's core (struct agent_ext):
 * /consolidate/... and /settings, the power model and capacity in the
 * host record, and migration defaults from the settings. */
extern const struct agent_ext agent_cons_ext;
#endif
