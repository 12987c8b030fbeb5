/* Utilization traces for the simulator: a folder with one file per VM (one
 * CPU percentage per line, as in the PlanetLab archive), or such an archive
 * itself (.tar.gz and anything else libarchive reads). */
#ifndef TERN_CONSOLIDATE_TRACE_H
#define TERN_CONSOLIDATE_TRACE_H
#include <stddef.h>

struct cons_trace {
	unsigned n_vms, n_steps;
	char **names;       /* file names, sorted: the VM order */
	double *util;       /* n_vms rows of n_steps values, 0..1 */
};

/* Loads PATH (a folder or an archive). Returns 0, or -errno with a message
 * naming the file (and line) in err. */
int cons_trace_load(const char *path, struct cons_trace *t, char *err, size_t errlen);
/* Parses one file's text (exposed for tests): values into *out (malloc'd),
 * their count into *n; -EINVAL with "NAME:LINE: ..." in err. */
int cons_trace_parse(const char *name, const char *text, size_t len, double **out,
		     unsigned *n, char *err, size_t errlen);
void cons_trace_free(struct cons_trace *t);
#endif
