/* QMP migrate to a snapshot file (file:PATH) and its query-migrate reply;
 * the live side of the migrate commands is ctl/qmp_migrate.c. */
#ifndef TERN_QMP_SNAPSHOT_H
#define TERN_QMP_SNAPSHOT_H
#include <jansson.h>
#include "ctl/qmp_proto.h"

/* Save the VM to path with the vCPU parked, as the snapshot job that
 * query-migrate reports (MIGRATION events on the way). 0, or -1 with err. */
int qmp_snapshot_file(struct qmp_ctx *ctx, const char *path, struct qmp_error *err);
/* query-migrate for the last snapshot job ({} when there was none). */
json_t *qmp_snapshot_job_json(const struct qmp_ctx *ctx);
#endif
