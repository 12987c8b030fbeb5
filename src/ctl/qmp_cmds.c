/* The QMP command table: run state (stop/cont/reset/quit/powerdown) and the
 * queries. Handlers run on the I/O thread; the vCPU is reached through the
 * pause and request calls of struct vm. migrate lives in ctl/qmp_migrate.c. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "core/vm.h"
#include "ctl/qmp_proto.h"
#include "ctl/qmp_cmds.h"
#include "machine/virt.h"
#include "virtio/input.h"

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
	const char *live = qmp_live_migration_state(ctx);
	if (live && !strcmp(live, "postmigrate"))
		return qmp_fail(err, "GenericError", "the guest has been migrated away and runs at the "
				"destination (its disks belong there now)");
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
	/* As QEMU's ACPI button: the press always succeeds; whether the guest
	 * acts on it is the guest's business (tern stop waits and sees). */
	struct vm *vm = ctx->vm;
	if (!virt_power_button(vm))
		return qmp_fail(err, "GenericError", "this machine has no power button");
	if (atomic_load(&vm->exit_req) != VM_RUNNING)
		return qmp_fail(err, "GenericError", "The VM is shutting down");
	vm_event(vm, "POWERDOWN", NULL);
	pthread_mutex_lock(&vm->lock);
	virtio_input_press_power(virt_power_button(vm));
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

static int cmd_quit(struct qmp_ctx *ctx, json_t *args, json_t **ret, struct qmp_error *err)
{
	vm_request_exit(ctx->vm, VM_EXIT_QUIT, "QMP quit");
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
			 "minor", QMP_VERSION_MINOR, "micro", QMP_VERSION_MICRO, "package", QMP_VERSION_PACKAGE);
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
	for (int i = 0; i < vm->cpus.nharts; i++) {
		char qom[64];
		snprintf(qom, sizeof(qom), "/machine/soc/harts[%d]", i);
		/* The host thread that runs the hart (one per hart, or one for all). */
		json_array_append_new(*ret, json_pack("{s:i,s:s,s:i,s:s,s:{s:i,s:i,s:i}}",
			"cpu-index", i, "qom-path", qom, "thread-id", vm->cpus.harts[i]->host_tid, "target", "riscv64",
			"props", "core-id", i, "socket-id", 0, "thread-id", 0));
	}
	return 0;
}

/* getfd: name the descriptor the client passed with SCM_RIGHTS. */
static int cmd_getfd(struct qmp_ctx *ctx, json_t *args, json_t **ret, struct qmp_error *err)
{
	const char *name = json_string_value(json_object_get(args, "fdname"));
	if (!name || !*name || strlen(name) >= sizeof(ctx->fds[0].name) ||
	    (name[0] >= '0' && name[0] <= '9'))
		return qmp_fail(err, "GenericError", "Parameter 'fdname' expects a name of 1 to %zu "
				"characters that does not start with a digit", sizeof(ctx->fds[0].name) - 1);
	if (!ctx->passed_fd || *ctx->passed_fd < 0)
		return qmp_fail(err, "GenericError", "No file descriptor supplied via SCM_RIGHTS");
	int i = 0;
	while (i < ctx->nfds && strcmp(ctx->fds[i].name, name))
		i++;
	if (i == ctx->nfds) {
		if (ctx->nfds == QMP_MAX_FDS)
			return qmp_fail(err, "GenericError", "too many named descriptors (%d); closefd some",
					QMP_MAX_FDS);
		ctx->nfds++;
		snprintf(ctx->fds[i].name, sizeof(ctx->fds[i].name), "%s", name);
	} else {
		close(ctx->fds[i].fd);      /* QEMU replaces a descriptor of the same name */
	}
	ctx->fds[i].fd = *ctx->passed_fd;
	*ctx->passed_fd = -1;
	return 0;
}

int qmp_take_fd(struct qmp_ctx *ctx, const char *name)
{
	for (int i = 0; i < ctx->nfds; i++) {
		if (strcmp(ctx->fds[i].name, name))
			continue;
		int fd = ctx->fds[i].fd;
		ctx->fds[i] = ctx->fds[--ctx->nfds];
		return fd;
	}
	return -1;
}

static int cmd_closefd(struct qmp_ctx *ctx, json_t *args, json_t **ret, struct qmp_error *err)
{
	const char *name = json_string_value(json_object_get(args, "fdname"));
	int fd = name ? qmp_take_fd(ctx, name) : -1;
	if (fd < 0)
		return qmp_fail(err, "GenericError", "File descriptor named '%s' not found",
				name ? name : "");
	close(fd);
	return 0;
}

void qmp_ctx_release(struct qmp_ctx *ctx)
{
	for (int i = 0; i < ctx->nfds; i++)
		close(ctx->fds[i].fd);
	ctx->nfds = 0;
}

/* tern's own: what `tern list` shows besides /proc. */
static int cmd_x_query_tern(struct qmp_ctx *ctx, json_t *args, json_t **ret, struct qmp_error *err)
{
	struct vm *vm = ctx->vm;
	*ret = json_pack("{s:I,s:i,s:I}", "memory-bytes", (json_int_t)vm->mem.size,
			 "cpus", vm->cpus.nharts, "started-ns", (json_int_t)ctx->started_realtime_ns);
	return 0;
}

static const char *const migrate_required[] = { "uri", NULL };
static const char *const migrate_optional[] = { "blk", "inc", "detach", "resume", NULL };
static const char *const caps_required[] = { "capabilities", NULL };
static const char *const state_required[] = { "state", NULL };
static const char *const fdname_required[] = { "fdname", NULL };
static const char *const hmp_required[] = { "command-line", NULL };
static const char *const hmp_optional[] = { "cpu-index", NULL };

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
	{ .name = "migrate-set-parameters", .open_args = true, .fn = qmp_cmd_migrate_set_parameters },
	{ .name = "migrate-set-capabilities", .required = caps_required,
	  .fn = qmp_cmd_migrate_set_capabilities },
	{ .name = "query-migrate-capabilities", .fn = qmp_cmd_query_migrate_capabilities },
	{ .name = "getfd", .required = fdname_required, .fn = cmd_getfd },
	{ .name = "closefd", .required = fdname_required, .fn = cmd_closefd },
	{ .name = "human-monitor-command", .required = hmp_required, .optional = hmp_optional,
	  .fn = qmp_cmd_human_monitor_command },
	{ .name = "query-qmp-schema", .fn = qmp_cmd_query_qmp_schema },
	{ .name = "query-migrate-parameters", .fn = qmp_cmd_query_migrate_parameters },
	{ .name = "migrate_cancel", .fn = qmp_cmd_migrate_cancel },
	{ .name = "migrate-start-postcopy", .fn = qmp_cmd_migrate_start_postcopy },
	{ .name = "migrate-continue", .required = state_required, .fn = qmp_cmd_migrate_continue },
	{ .name = "balloon", .required = balloon_required, .fn = qmp_cmd_balloon },
	{ .name = "query-balloon", .fn = qmp_cmd_query_balloon },
	{ .name = NULL },
};
