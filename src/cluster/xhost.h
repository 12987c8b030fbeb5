/* A project spread over the hosts of a cluster (docs/CLUSTER.md, "Across
 * hosts"): placement (host= pins, else first-fit decreasing by memory under a
 * capacity coefficient), start through the agents in plan order with
 * dependencies honoured across hosts, and the record at /tern/clusters/NAME. */
#ifndef TERN_CLUSTER_XHOST_H
#define TERN_CLUSTER_XHOST_H
#include <stddef.h>
#include <stdio.h>
#include <jansson.h>

struct project;
struct store;

#define XHOST_REC "/tern/clusters/"
#define XHOST_DEFAULT_COEFF 0.8

struct xhost_ctx {
	struct store *store;
	const char *token;          /* the cluster's API token */
	FILE *out;                  /* progress (may be NULL) */
	const char *tls_dir;        /* an agent's host folder (https), or NULL */
	const char *ca_pem;         /* or the cluster CA (the CLI), or NULL */
};

/* Chooses a host for every machine of p from hosts (rec_hosts' shape):
 * where[i] gets machine i's host. Pinned machines go to their host (which
 * must be up); the rest, largest memory first, to the first host by name
 * that is up and stays within coeff of its memory. 0, or -1 with err. */
int xhost_place(const struct project *p, json_t *hosts, double coeff, char (*where)[64],
		char *err, size_t errlen);
/* The agent spec ({"kernel",...}) of machine mi, its files under dir. */
json_t *xhost_spec(const struct project *p, size_t mi, const char *dir, char *err, size_t errlen);
/* What xhost_up would refuse before it starts anything: no room on the
 * hosts that are up, or a pinned host that is not (-ENOSPC), the store
 * not answering (-EIO); 0 when p can be placed. */
int xhost_check(const struct xhost_ctx *c, const struct project *p, double coeff, char *err, size_t errlen);
/* Places and starts p (its folder dir) through the agents, group by group,
 * each machine once its dependencies run and are ready. 0 when all are
 * ready, 1 when one failed (reported on out), -1 with err. */
int xhost_up(const struct xhost_ctx *c, const struct project *p, const char *dir, double coeff,
	     char *err, size_t errlen);
/* Deletes the project's VMs, in reverse start order, and its record; stops
 * its switches on this host. 0 or -1 with err. */
int xhost_down(const struct xhost_ctx *c, const char *name, char *err, size_t errlen);
/* The record of project name merged with its machines' live state:
 * {"name","state","file","dir","machines":[{"name","priority","host","state",
 * "ready_at"}],"switches":[{"name"}]}. NULL with err (-ENOENT: no such). */
json_t *xhost_status(const struct xhost_ctx *c, const char *name, int *rc, char *err, size_t errlen);
/* Every project recorded in the store, as xhost_status shows each. */
json_t *xhost_list(const struct xhost_ctx *c, char *err, size_t errlen);
#endif
