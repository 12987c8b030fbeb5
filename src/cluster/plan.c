/* The start plan: priority groups in ascending order, file order inside a
 * group; printing it for `tern cluster validate`. */
#include "cluster/plan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "cluster/project.h"

int plan_build(const struct project *p, struct plan *out)
{
	memset(out, 0, sizeof(*out));
	out->order = calloc(p->nmachines + 1, sizeof(size_t));
	out->groups = calloc(p->nmachines + 1, sizeof(*out->groups));
	if (!out->order || !out->groups) {
		plan_free(out);
		return -ENOMEM;
	}
	/* Stable selection by priority: small projects, clear code. */
	char *taken = calloc(p->nmachines + 1, 1);
	if (!taken) {
		plan_free(out);
		return -ENOMEM;
	}
	while (out->n < p->nmachines) {
		int best = -1;
		for (size_t i = 0; i < p->nmachines; i++)
			if (!taken[i] && (best < 0 || p->machines[i].priority < best))
				best = p->machines[i].priority;
		struct plan_group *g = &out->groups[out->ngroups++];
		g->priority = best;
		g->machines = out->order + out->n;
		for (size_t i = 0; i < p->nmachines; i++)
			if (!taken[i] && p->machines[i].priority == best) {
				taken[i] = 1;
				out->order[out->n++] = i;
				g->n++;
			}
	}
	free(taken);
	return 0;
}

void plan_free(struct plan *pl)
{
	free(pl->order);
	free(pl->groups);
	memset(pl, 0, sizeof(*pl));
}

void plan_describe_ready(const struct project *p, size_t mi, char *buf, size_t len)
{
	const struct project_ready *r = &p->machines[mi].ready;
	switch (r->kind) {
	case PROJECT_READY_CONSOLE:
		snprintf(buf, len, "console \"%s\", timeout %g s", r->console, r->timeout_s);
		break;
	case PROJECT_READY_TCP:
		snprintf(buf, len, "tcp %s:%d, timeout %g s", r->tcp_host, r->tcp_port, r->timeout_s);
		break;
	case PROJECT_READY_DELAY:
		snprintf(buf, len, "delay %g s", r->delay_s);
		break;
	default:
		snprintf(buf, len, "started");
		break;
	}
}

void plan_print(const struct project *p, const struct plan *pl, FILE *f)
{
	fprintf(f, "project %s: %zu switch%s, %zu machine%s, %zu group%s\n", p->name, p->nswitches,
		p->nswitches == 1 ? "" : "es", p->nmachines, p->nmachines == 1 ? "" : "s", pl->ngroups,
		pl->ngroups == 1 ? "" : "s");
	fprintf(f, "switches:");
	for (size_t i = 0; i < p->nswitches; i++)
		fprintf(f, " %s", p->switches[i].name);
	fprintf(f, "%s\n", p->nswitches ? "" : " (none)");
	for (size_t g = 0; g < pl->ngroups; g++) {
		const struct plan_group *gr = &pl->groups[g];
		fprintf(f, "group %zu (priority %d):\n", g + 1, gr->priority);
		for (size_t k = 0; k < gr->n; k++) {
			const struct project_machine *m = &p->machines[gr->machines[k]];
			char ready[256];
			plan_describe_ready(p, gr->machines[k], ready, sizeof(ready));
			fprintf(f, "  %s  ready: %s", m->name, ready);
			if (m->ndepends) {
				fprintf(f, "; after");
				for (size_t d = 0; d < m->ndepends; d++)
					fprintf(f, "%s %s", d ? "," : "", p->machines[m->depends[d]].name);
			}
			fputc('\n', f);
		}
	}
}
