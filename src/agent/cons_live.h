/* Live consolidation over the cluster store, shared by `tern consolidate
 * plan|apply|report` and ternd (API, --auto-consolidate): the cluster-wide
 * settings, the utilization history, planning with the pure planner, carrying
 * a plan out through the agents, the action log and the energy report. */
#ifndef TERN_AGENT_CONS_LIVE_H
#define TERN_AGENT_CONS_LIVE_H
#include <stdio.h>
#include <jansson.h>

struct store;

/* Cluster settings (dashboard): {"migration":{...},"consolidate":{...}}. */
#define REC_SETTINGS "/tern/settings"
/* Per-VM history ring: {"host","interval_s","t","cpu":[0..1],"mem":[bytes]}. */
#define REC_HIST_VMS "/tern/history/vms/"
/* Per-host ring: {"interval_s","t":[unix s],"util":[0..1],"on":[1|0]}. */
#define REC_HIST_HOSTS "/tern/history/hosts/"
/* One record per action: {"time","kind","vm","from","to",...}. */
#define REC_ACTIONS "/tern/consolidate/actions/"
/* Held (under its lease) by the agent running auto-consolidation. */
#define REC_CONS_LEADER "/tern/consolidate/leader"

/* The settings with defaults filled in (a new object); -errno on a store
 * failure other than absence. */
int cons_settings_get(struct store *s, json_t **out);
/* Checks body (a partial settings object), merges it into the stored ones
 * and writes them. 0, -EINVAL with the offending field in err, or -errno. */
int cons_settings_set(struct store *s, json_t *body, char *err, size_t errlen);

/* The plan for the cluster now: {"policy","migrations":[{"vm","from","to",
 * "seconds"}],"standby":[host],"wake":[host],"saving_kwh_per_day",
 * "power_now_w","power_after_w","unplaced"}. policy NULL: the settings'. */
int cons_live_plan(struct store *s, const char *policy, json_t **plan, char *err, size_t errlen);

/* Carries out plan: wakes hosts, migrates (at most max_parallel at once)
 * through the agents with token, then puts the hosts to standby. Progress
 * lines go to progress (may be NULL). Each action is logged in the store.
 * *result: {"migrations":[{"vm","from","to","status","downtime_ms","bytes",
 * "total_ms"}],"standby":[...],"wake":[...],"failed":N}. 0, or -errno when
 * the store failed (actions done so far are logged). */
int cons_live_apply(struct store *s, const char *token, json_t *plan, int max_parallel,
		    FILE *progress, json_t **result, char *err, size_t errlen);

/* Logs one action (its "time" is set here). */
int cons_action_log(struct store *s, json_t *action);

/* The report over the last window_s seconds (docs/CONSOLIDATION.md). */
int cons_live_report(struct store *s, double window_s, json_t **out, char *err, size_t errlen);
#endif
