/* QMP migrate / query-migrate: snapshots to a file (placeholder until the
 * snapshot writer lands). */
#include "ctl/qmp_cmds.h"

int qmp_cmd_migrate(struct qmp_ctx *ctx, json_t *args, json_t **ret, struct qmp_error *err)
{
	return qmp_fail(err, "GenericError", "migrate is not implemented yet");
}

int qmp_cmd_query_migrate(struct qmp_ctx *ctx, json_t *args, json_t **ret, struct qmp_error *err)
{
	*ret = NULL;
	return 0;
}

bool qmp_migration_active(const struct qmp_ctx *ctx)
{
	return false;
}
