/* `tern run --incoming file:PATH|tcp:HOST:PORT`: the machine comes from a
 * snapshot or a migration stream; only --name, --console, --qmp, --disk
 * (same size, in order) and --net (as many as recorded) may override. */
#ifndef TERN_RUN_INCOMING_H
#define TERN_RUN_INCOMING_H
#include <stddef.h>
#include <stdint.h>
#include "state/snapshot.h"

struct virt_config;
struct vm;

/* Replaces cfg with the snapshot's configuration, keeping the overrides the
 * user gave in cfg. Returns 0 or -1 with a one-line reason. */
int run_incoming_config(struct snap_image *img, const char *uri, struct virt_config *cfg,
			char *err, size_t errlen);
/* Lay the user's overrides over a recorded configuration. */
int run_incoming_overrides(const struct virt_config *user, struct virt_config *cfg,
			   char *err, size_t errlen);
/* Monotonic milliseconds, to report how long a restore took. */
int64_t run_incoming_clock_ms(void);
#endif
