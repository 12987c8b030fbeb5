/* The start plan of a project: machines grouped by ascending priority (ties
 * in file order); groups start one after another, the machines of a group
 * in parallel, each after its dependencies are ready. */
#ifndef TERN_CLUSTER_PLAN_H
#define TERN_CLUSTER_PLAN_H
#include <stddef.h>
#include <stdio.h>

struct project;

struct plan_group {
	int priority;
	size_t *machines;           /* indexes into project.machines, file order */
	size_t n;
};

struct plan {
	struct plan_group *groups;  /* ascending priority */
	size_t ngroups;
	size_t *order;              /* every machine in start order (group by group) */
	size_t n;
};

/* Returns 0 or -ENOMEM. */
int plan_build(const struct project *p, struct plan *out);
void plan_free(struct plan *pl);
/* The plan as `tern cluster validate` prints it. */
void plan_print(const struct project *p, const struct plan *pl, FILE *f);
/* One machine's gate in words ("console \"READY\", timeout 120 s"). */
void plan_describe_ready(const struct project *p, size_t mi, char *buf, size_t len);
#endif
