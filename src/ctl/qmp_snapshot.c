/* QMP migrate {"uri": "file:PATH"}: a snapshot (state/snapshot.h) saved on
 * the I/O thread with the vCPU parked, keeping the VM's run state, and its
 * query-migrate reply. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/vm.h"
#include "ctl/qmp_cmds.h"
#include "ctl/qmp_migrate_info.h"
#include "ctl/qmp_snapshot.h"
#include "migration/migration.h"
#include "state/snapshot.h"

struct snap_job {
	const char *status;         /* setup, active, completed, failed */
	int64_t total_ms, downtime_ms, setup_ms;
	struct snap_stats stats;
	char error[256];
};

static int64_t mono_ms(void)
{
	return host_mono_ns() / 1000000;
}

static void set_status(struct qmp_ctx *ctx, const char *status)
{
	ctx->mig->status = status;
	if (!ctx->live_params || ctx->live_params->events)
		qmp_mig_status_event(ctx->vm, status);
}

bool qmp_migration_active(const struct qmp_ctx *ctx)
{
	return ctx->mig && (!strcmp(ctx->mig->status, "setup") || !strcmp(ctx->mig->status, "active"));
}

int qmp_snapshot_file(struct qmp_ctx *ctx, const char *path, struct qmp_error *err)
{
	if (!ctx->mig && !(ctx->mig = calloc(1, sizeof(*ctx->mig))))
		return qmp_fail(err, "GenericError", "out of memory");
	struct snap_job *j = ctx->mig;
	memset(j, 0, sizeof(*j));
	int64_t t0 = mono_ms();
	set_status(ctx, "setup");
	vm_pause(ctx->vm);
	int64_t t1 = mono_ms();
	j->setup_ms = t1 - t0;
	set_status(ctx, "active");
	ctx->live_last = false;
	int r = snap_save_file(ctx->vm, path, &j->stats, j->error, sizeof(j->error));
	vm_resume(ctx->vm);
	int64_t t2 = mono_ms();
	j->downtime_ms = t2 - t1;
	j->total_ms = t2 - t0;
	set_status(ctx, r ? "failed" : "completed");
	if (r)
		return qmp_fail(err, "GenericError", "%s", j->error);
	if (ctx->user_stopped)
		ctx->postmigrate = true;
	return 0;
}

json_t *qmp_snapshot_job_json(const struct qmp_ctx *ctx)
{
	const struct snap_job *j = ctx->mig;
	if (!j)
		return json_object();
	json_t *ret;
	const uint64_t page = 4096;
	ret = json_pack("{s:s,s:I,s:I,s:I}", "status", j->status, "total-time", (json_int_t)j->total_ms,
			 "downtime", (json_int_t)j->downtime_ms, "setup-time", (json_int_t)j->setup_ms);
	json_object_set_new(ret, "ram", json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}",
		"transferred", (json_int_t)(j->stats.pages_normal * page),
		"total", (json_int_t)j->stats.ram_total,
		"remaining", (json_int_t)0,
		"duplicate", (json_int_t)j->stats.pages_zero,
		"normal", (json_int_t)j->stats.pages_normal,
		"normal-bytes", (json_int_t)(j->stats.pages_normal * page)));
	if (!strcmp(j->status, "failed"))
		json_object_set_new(ret, "error-desc", json_string(j->error));
	return ret;
}
