/* Command handlers shared between the QMP command table and the modules
 * that implement them (ctl/qmp_migrate.c and ctl/qmp_snapshot.c for migrate). */
#ifndef TERN_QMP_CMDS_H
#define TERN_QMP_CMDS_H
#include "ctl/qmp_proto.h"

/* "running", "paused", "postmigrate", "finish-migrate" or "shutdown". */
const char *qmp_run_state(const struct qmp_ctx *ctx);
/* `stop`: park the vCPU (idempotent) and send STOP. */
void qmp_stop(struct qmp_ctx *ctx);

/* fd:NAME: take the descriptor getfd named (the caller owns it), or -1. */
int qmp_take_fd(struct qmp_ctx *ctx, const char *name);
/* Close every named descriptor (the server is going away). */
void qmp_ctx_release(struct qmp_ctx *ctx);
int qmp_cmd_human_monitor_command(struct qmp_ctx *ctx, json_t *args, json_t **ret,
				  struct qmp_error *err);
int qmp_cmd_query_qmp_schema(struct qmp_ctx *ctx, json_t *args, json_t **ret, struct qmp_error *err);

int qmp_cmd_migrate(struct qmp_ctx *ctx, json_t *args, json_t **ret, struct qmp_error *err);
int qmp_cmd_query_migrate(struct qmp_ctx *ctx, json_t *args, json_t **ret, struct qmp_error *err);
bool qmp_migration_active(const struct qmp_ctx *ctx);
const char *qmp_live_migration_state(const struct qmp_ctx *ctx);
int qmp_cmd_migrate_set_parameters(struct qmp_ctx *ctx, json_t *args, json_t **ret,
				   struct qmp_error *err);
int qmp_cmd_query_migrate_parameters(struct qmp_ctx *ctx, json_t *args, json_t **ret,
				     struct qmp_error *err);
int qmp_cmd_migrate_set_capabilities(struct qmp_ctx *ctx, json_t *args, json_t **ret,
				     struct qmp_error *err);
int qmp_cmd_query_migrate_capabilities(struct qmp_ctx *ctx, json_t *args, json_t **ret,
				       struct qmp_error *err);
int qmp_cmd_migrate_continue(struct qmp_ctx *ctx, json_t *args, json_t **ret, struct qmp_error *err);
int qmp_cmd_migrate_cancel(struct qmp_ctx *ctx, json_t *args, json_t **ret, struct qmp_error *err);
/* cont after a failed post-copy: the source takes the guest back. 1 when
 * done, 0 when there is no such guest, -1 with err. */
int qmp_reclaim_postcopy(struct qmp_ctx *ctx, struct qmp_error *err);
int qmp_cmd_migrate_start_postcopy(struct qmp_ctx *ctx, json_t *args, json_t **ret,
				   struct qmp_error *err);
/* ctl/qmp_balloon.c */
int qmp_cmd_balloon(struct qmp_ctx *ctx, json_t *args, json_t **ret, struct qmp_error *err);
int qmp_cmd_query_balloon(struct qmp_ctx *ctx, json_t *args, json_t **ret, struct qmp_error *err);
#endif
