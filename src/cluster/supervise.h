/* Bringing a project up and down: switches, then machines group by group
 * behind their readiness gates, recorded in the project folder's
 * state.json; down in reverse. The VMs stay their own processes. */
#ifndef TERN_CLUSTER_SUPERVISE_H
#define TERN_CLUSTER_SUPERVISE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct project;

struct supervise_opts {
	const char *dir;            /* the project folder; NULL for the default */
	bool keep_going;            /* on a failure, go on with what does not depend on it */
	FILE *out;                  /* progress and failure reports */
	bool tty;                   /* out is a terminal: keep a live status line */
	/* Restore: each machine starts from SNAPSHOT_DIR/MACHINE.snap and is
	 * ready as soon as it runs. */
	const char *snapshot_dir;
	double stop_timeout_s;      /* when rolling back a failed up */
	const char *source;         /* the original project file, when file is a copy */
};

/* Starts what is missing of project p (loaded from file, which is copied
 * into the folder). Returns 0 when everything is ready, 1 when a machine
 * failed (reported on out), -1 on an error in err. */
int supervise_up(const struct project *p, const char *file, const struct supervise_opts *o,
		 char *err, size_t errlen);
/* Stops the project in folder dir: machines in reverse start order (power
 * off, killed after timeout_s), then switches; with purge, removes the
 * folder. Returns 0, or -1 with err. */
int supervise_down(const char *dir, double timeout_s, bool purge, FILE *out, char *err, size_t errlen);
/* Takes the folder's lock (flock on DIR/lock); returns the fd or -1 with err. */
int supervise_lock(const char *dir, char *err, size_t errlen);
#endif
