/* The QMP command table: run state (stop/cont/reset/quit/powerdown) and the
 * queries. Handlers run on the I/O thread; the vCPU is reached through the
 * pause and request calls of struct vm. migrate lives in state/snap_qmp.c. */
#include <stdio.h>
#include <string.h>
#include "core/vm.h"
#include "ctl/qmp_proto.h"
#include "ctl/qmp_cmds.h"

const char *qmp_run_state(const struct qmp_ctx *ctx)
{
	if (atomic_load(&ctx->vm->exit_req) != VM_RUNNING)
		return "shutdown";
	if (qmp_migration_active(ctx))
		return "finish-migrate";
	const char *live = qmp_live_migration_state(ctx);
	if (live)
		return live;
	if (ctx->user_stopped)
		return ctx->postmigrate ? "postmigrate" : "paused";
	return "running";
}

static int cmd_query_status(struct qmp_ctx *ctx, json_t *args, json_t **ret, struct qmp_error *err)
{
	const char *st = qmp_run_state(ctx);
	*ret = json_pack("{s:s,s:b,s:b}", "status", st, "running", !strcmp(st, "running"),
			 "singlestep", 0);
	return 0;
}

void qmp_stop(struct qmp_ctx *ctx)
{
	if (ctx->user_stopped)
		return;
	vm_pause(ctx->vm);
	ctx->user_stopped = true;
	ctx->postmigrate = false;
	vm_event(ctx->vm, "STOP", NULL);
}

static int cmd_stop(struct qmp_ctx *ctx, json_t *args, json_t **ret, struct qmp_error *err)
{
	qmp_stop(ctx);
	return 0;
}

static int cmd_cont(struct qmp_ctx *ctx, json_t *args, json_t **ret, struct qmp_error *err)
{
	if (atomic_load(&ctx->vm->exit_req) != VM_RUNNING)
		return qmp_fail(err, "GenericError", "The VM is shutting down");
	int reclaimed = qmp_reclaim_postcopy(ctx, err);
	if (reclaimed)
		return reclaimed < 0 ? -1 : 0;
	if (!ctx->user_stopped)
		return 0;
	ctx->user_stopped = false;
	ctx->postmigrate = false;
	vm_resume(ctx->vm);
	vm_event(ctx->vm, "RESUME", NULL);
	return 0;
}

static int cmd_system_reset(struct qmp_ctx *ctx, json_t *args, json_t **ret, struct qmp_error *err)
{
	atomic_store(&ctx->vm->reset_req, 1);
	vm_kick(ctx->vm);
	return 0;
}

static int cmd_system_powerdown(struct qmp_ctx *ctx, json_t *args, json_t **ret, struct qmp_error *err)
{
	/* QEMU's riscv 'virt' has no power button either: the stock kernel
	 * listens to no device the host could press. Say so, never fake it. */
	return qmp_fail(err, "GenericError",
			"system_powerdown is not supported: the 'virt' board has no power button "
			"the guest listens to; power off inside the guest, or use 'quit'");
}

static int cmd_quit(struct qmp_ctx *ctx, json_t *args, json_t **ret, struct qmp_error *err)
{
	vm_request_exit(ctx->vm, VM_EXIT_QUIT, NULL);
	return 0;
}

static int cmd_query_name(struct qmp_ctx *ctx, json_t *args, json_t **ret, struct qmp_error *err)
{
	*ret = json_object();
	if (ctx->vm->name)
		json_object_set_new(*ret, "name", json_string(ctx->vm->name));
	return 0;
}

static int cmd_query_version(struct qmp_ctx *ctx, json_t *args, json_t **ret, struct qmp_error *err)
{
	*ret = json_pack("{s:{s:i,s:i,s:i},s:s}", "qemu", "major", QMP_VERSION_MAJOR,
			 "minor", QMP_VERSION_MINOR, "micro", QMP_VERSION_MICRO, "package", "tern");
	return 0;
}

static int cmd_query_commands(struct qmp_ctx *ctx, json_t *args, json_t **ret, struct qmp_error *err)
{
	*ret = json_array();
	json_array_append_new(*ret, json_pack("{s:s}", "name", "qmp_capabilities"));
	for (const struct qmp_command *c = qmp_commands; c->name; c++)
		json_array_append_new(*ret, json_pack("{s:s}", "name", c->name));
	return 0;
}

static int cmd_query_cpus_fast(struct qmp_ctx *ctx, json_t *args, json_t **ret, struct qmp_error *err)
{
	struct vm *vm = ctx->vm;
	*ret = json_array();
	for (int i = 0; i < vm->nharts; i++) {
		char qom[64];
		snprintf(qom, sizeof(qom), "/machine/soc/harts[%d]", i);
		/* All harts share the one vCPU thread. */
		json_array_append_new(*ret, json_pack("{s:i,s:s,s:i,s:s,s:{s:i,s:i,s:i}}",
			"cpu-index", i, "qom-path", qom, "thread-id", vm->vcpu_tid, "target", "riscv64",
			"props", "core-id", i, "socket-id", 0, "thread-id", 0));
	}
	return 0;
}

/* tern's own: what `tern list` shows besides /proc. */
static int cmd_x_query_tern(struct qmp_ctx *ctx, json_t *args, json_t **ret, struct qmp_error *err)
{
	struct vm *vm = ctx->vm;
	*ret = json_pack("{s:I,s:i,s:I}", "memory-bytes", (json_int_t)vm->ram_size,
			 "cpus", vm->nharts, "started-ns", (json_int_t)ctx->started_realtime_ns);
	return 0;
}

static const char *const migrate_required[] = { "uri", NULL };
static const char *const migrate_optional[] = { "blk", "inc", "detach", "resume", NULL };
static const char *const migrate_param_names[] = { "downtime-limit", "max-bandwidth", "mode",
						   "compress", "x-device-state", NULL };

static const char *const balloon_required[] = { "value", NULL };

const struct qmp_command qmp_commands[] = {
	{ .name = "query-status", .fn = cmd_query_status },
	{ .name = "stop", .fn = cmd_stop },
	{ .name = "cont", .fn = cmd_cont },
	{ .name = "system_reset", .fn = cmd_system_reset },
	{ .name = "system_powerdown", .fn = cmd_system_powerdown },
	{ .name = "quit", .fn = cmd_quit },
	{ .name = "query-name", .fn = cmd_query_name },
	{ .name = "query-version", .fn = cmd_query_version },
	{ .name = "query-commands", .fn = cmd_query_commands },
	{ .name = "query-cpus-fast", .fn = cmd_query_cpus_fast },
	{ .name = "x-query-tern", .fn = cmd_x_query_tern },
	{ .name = "migrate", .required = migrate_required, .optional = migrate_optional,
	  .fn = qmp_cmd_migrate },
	{ .name = "query-migrate", .fn = qmp_cmd_query_migrate },
	{ .name = "migrate-set-parameters", .optional = migrate_param_names,
	  .fn = qmp_cmd_migrate_set_parameters },
	{ .name = "query-migrate-parameters", .fn = qmp_cmd_query_migrate_parameters },
	{ .name = "migrate_cancel", .fn = qmp_cmd_migrate_cancel },
	{ .name = "migrate-start-postcopy", .fn = qmp_cmd_migrate_start_postcopy },
	{ .name = "balloon", .required = balloon_required, .fn = qmp_cmd_balloon },
	{ .name = "query-balloon", .fn = qmp_cmd_query_balloon },
	{ .name = NULL },
};
