/* Host power models for consolidation: linear idle/peak or an 11-point
 * SPECpower table (0 %, 10 %, ..., 100 % CPU), interpolated; standby watts. */
#ifndef TERN_CONSOLIDATE_POWER_H
#define TERN_CONSOLIDATE_POWER_H

enum cons_power_kind { CONS_POWER_LINEAR, CONS_POWER_TABLE };

struct cons_power {
	enum cons_power_kind kind;
	double idle_w, peak_w;  /* CONS_POWER_LINEAR */
	double table_w[11];     /* CONS_POWER_TABLE: watts at 0, 10, ..., 100 % */
	double standby_w;       /* drawn while on standby */
};

/* Watts of an active host at CPU utilization u (clamped to [0, 1]). */
double cons_power_watts(const struct cons_power *p, double u);
/* 0, or -EINVAL when the model is not monotone non-decreasing in u, has a
 * negative or non-finite figure, or standby draws more than idle. */
int cons_power_check(const struct cons_power *p);
#endif
