/* QMP migrate {"uri": "file:PATH"} and query-migrate. The save runs on the
 * I/O thread with the vCPU parked (a file write takes well under a second
 * for small guests; live migration over TCP will need its own thread). The
 * VM keeps the run state it had: `tern snapshot` stops it first unless
 * --leave-running. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/vm.h"
#include "ctl/qmp_cmds.h"
#include "state/snapshot.h"

struct snap_job {
	const char *status;         /* setup, active, completed, failed */
	int64_t total_ms, downtime_ms, setup_ms;
	struct snap_stats stats;
	char error[256];
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_status(struct qmp_ctx *ctx, const char *status)
{
	char data[64];
	ctx->mig->status = status;
	snprintf(data, sizeof(data), "{\"status\": \"%s\"}", status);
	vm_event(ctx->vm, "MIGRATION", data);
}

bool qmp_migration_active(const struct qmp_ctx *ctx)
{
	return ctx->mig && (!strcmp(ctx->mig->status, "setup") || !strcmp(ctx->mig->status, "active"));
}

int qmp_cmd_migrate(struct qmp_ctx *ctx, json_t *args, json_t **ret, struct qmp_error *err)
{
	const char *uri = json_string_value(json_object_get(args, "uri"));
	if (!uri)
		return qmp_fail(err, "GenericError", "Invalid parameter type for 'uri', expected: string");
	if (strncmp(uri, "file:", 5) || !uri[5])
		return qmp_fail(err, "GenericError", "only 'file:PATH' migration URIs are supported so far");
	if (qmp_migration_active(ctx))
		return qmp_fail(err, "GenericError", "a migration is already in progress");
	if (atomic_load(&ctx->vm->exit_req) != VM_RUNNING)
		return qmp_fail(err, "GenericError", "The VM is shutting down");
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
	int r = snap_save_file(ctx->vm, uri + 5, &j->stats, j->error, sizeof(j->error));
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

int qmp_cmd_query_migrate(struct qmp_ctx *ctx, json_t *args, json_t **ret, struct qmp_error *err)
{
	struct snap_job *j = ctx->mig;
	if (!j) {
		*ret = json_object();
		return 0;
	}
	const uint64_t page = 4096;
	*ret = json_pack("{s:s,s:I,s:I,s:I}", "status", j->status, "total-time", (json_int_t)j->total_ms,
			 "downtime", (json_int_t)j->downtime_ms, "setup-time", (json_int_t)j->setup_ms);
	json_object_set_new(*ret, "ram", json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}",
		"transferred", (json_int_t)(j->stats.pages_normal * page),
		"total", (json_int_t)j->stats.ram_total,
		"remaining", (json_int_t)0,
		"duplicate", (json_int_t)j->stats.pages_zero,
		"normal", (json_int_t)j->stats.pages_normal,
		"normal-bytes", (json_int_t)(j->stats.pages_normal * page)));
	if (!strcmp(j->status, "failed"))
		json_object_set_new(*ret, "error-desc", json_string(j->error));
	return 0;
}
