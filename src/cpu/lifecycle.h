/* A hart's life, for the machine around it: reset, serving the requests of
 * other threads, and freeing. Running it is exec.h's (hart_run). */
#ifndef TERN_LIFECYCLE_H
#define TERN_LIFECYCLE_H
#include "cpu/hart.h"
#include "cpu/hart_group.h"

/* Reset the architectural state; the hart keeps its code caches. */
void hart_reset(struct hart *h, struct hart_group *g, int id);
/* Serve h->req; only from the thread that runs h, with h->in_guest set
 * first (so that a requester sees either the flag or the request served). */
void hart_serve_requests(struct hart *h);
/* Free a hart (from malloc), printing its counters first when the
 * environment has TERN_CPU_STATS set. */
void hart_destroy(struct hart *h);
#endif
