/* The QMP migration commands: migrate (live, or to a file through
 * ctl/qmp_snapshot.c), parameters, capabilities, cancel, post-copy, continue
 * and query-migrate, over migration/'s plain C calls and structs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/vm.h"
#include "ctl/qmp_cmds.h"
#include "ctl/qmp_migrate_info.h"
#include "ctl/qmp_mig_params.h"
#include "ctl/qmp_snapshot.h"
#include "migration/migration.h"
#include "migration/mig_uri.h"

static bool live_active(const struct qmp_ctx *ctx)
{
	return ctx->vm->migration && mig_is_active(ctx->vm->migration);
}

/* The state a live migration puts the source in, or NULL: "finish-migrate"
 * during the switch-over, "postmigrate" once the guest runs elsewhere. */
const char *qmp_live_migration_state(const struct qmp_ctx *ctx)
{
	if (!ctx->vm->migration)
		return NULL;
	struct mig_info i;
	mig_get_info(ctx->vm->migration, &i);
	if (i.status == MIG_DEVICE || i.status == MIG_PRE_SWITCHOVER)
		return "finish-migrate";
	if (i.status == MIG_COMPLETED || i.status == MIG_POSTCOPY_ACTIVE)
		return "postmigrate";
	if (i.status == MIG_POSTCOPY_PAUSED)
		return "paused";
	return NULL;
}

static struct mig_params *params_of(struct qmp_ctx *ctx)
{
	if (!ctx->live_params && (ctx->live_params = malloc(sizeof(*ctx->live_params))))
		mig_params_default(ctx->live_params);
	return ctx->live_params;
}

/* A live migration over tcp:, unix:, exec: or fd:NAME (a getfd name; the
 * migration owns the descriptor from here). */
static int migrate_live(struct qmp_ctx *ctx, const char *uri, bool copy_storage, struct qmp_error *err)
{
	struct vm *vm = ctx->vm;
	struct mig_params *p = params_of(ctx);
	char fd_uri[32];
	int fd = -1;
	if (!p)
		return qmp_fail(err, "GenericError", "out of memory");
	if (!strncmp(uri, "fd:", 3) && !(uri[3] >= '0' && uri[3] <= '9')) {
		if ((fd = qmp_take_fd(ctx, uri + 3)) < 0)
			return qmp_fail(err, "GenericError", "File descriptor named '%s' has not been found "
					"(pass one with getfd)", uri + 3);
		snprintf(fd_uri, sizeof(fd_uri), "fd:%d", fd);
		uri = fd_uri;
	}
	if (vm->migration) {
		struct mig_info i;
		mig_get_info(vm->migration, &i);
		if (i.status == MIG_COMPLETED) {
			if (fd >= 0)
				close(fd);
			return qmp_fail(err, "GenericError", "this VM has already been migrated away");
		}
		mig_free(vm->migration);
		vm->migration = NULL;
	}
	char why[256];
	struct mig_notify notify = qmp_mig_notify(vm);
	vm->migration = mig_start_storage(vm, uri, p, vm->migrate_key, copy_storage, &notify,
					  why, sizeof(why));
	if (!vm->migration) {
		if (fd >= 0)
			close(fd);
		return qmp_fail(err, "GenericError", "%s", why);
	}
	ctx->live_last = true;
	return 0;
}

/* migrate-set-parameters and -capabilities: refused with busy while a
 * migration runs, else set applies arg to the parameters. */
static int set_params(struct qmp_ctx *ctx, const char *busy,
		      int (*set)(struct mig_params *, json_t *, char *, size_t), json_t *arg,
		      struct qmp_error *err)
{
	struct mig_params *p = params_of(ctx);
	char why[256];
	if (!p)
		return qmp_fail(err, "GenericError", "out of memory");
	if (qmp_migration_active(ctx) || live_active(ctx))
		return qmp_fail(err, "GenericError", "%s", busy);
	if (set(p, arg, why, sizeof(why)))
		return qmp_fail(err, "GenericError", "%s", why);
	return 0;
}

int qmp_cmd_migrate_set_parameters(struct qmp_ctx *ctx, json_t *args, json_t **ret,
				   struct qmp_error *err)
{
	return set_params(ctx, "a migration is in progress: tern takes the parameters when one "
			  "starts; set them before 'migrate'", qmp_mig_params_set, args, err);
}

int qmp_cmd_migrate_set_capabilities(struct qmp_ctx *ctx, json_t *args, json_t **ret,
				     struct qmp_error *err)
{
	return set_params(ctx, "There's a migration process in progress", qmp_mig_caps_set,
			  json_object_get(args, "capabilities"), err);
}

int qmp_cmd_query_migrate_capabilities(struct qmp_ctx *ctx, json_t *args, json_t **ret,
				       struct qmp_error *err)
{
	struct mig_params *p = params_of(ctx);
	if (!p)
		return qmp_fail(err, "GenericError", "out of memory");
	*ret = qmp_mig_caps_json(p);
	return 0;
}

int qmp_cmd_query_migrate_parameters(struct qmp_ctx *ctx, json_t *args, json_t **ret,
				     struct qmp_error *err)
{
	struct mig_params *p = params_of(ctx);
	if (!p)
		return qmp_fail(err, "GenericError", "out of memory");
	*ret = qmp_mig_params_json(p);
	return 0;
}

int qmp_cmd_migrate_cancel(struct qmp_ctx *ctx, json_t *args, json_t **ret, struct qmp_error *err)
{
	if (ctx->vm->migration)
		mig_cancel(ctx->vm->migration);
	return 0;
}

int qmp_cmd_migrate_start_postcopy(struct qmp_ctx *ctx, json_t *args, json_t **ret,
				   struct qmp_error *err)
{
	char why[256];
	if (!ctx->vm->migration || !live_active(ctx))
		return qmp_fail(err, "GenericError", "no migration is running (start one with migrate)");
	if (mig_start_postcopy(ctx->vm->migration, why, sizeof(why)))
		return qmp_fail(err, "GenericError", "%s", why);
	return 0;
}

int qmp_cmd_migrate_continue(struct qmp_ctx *ctx, json_t *args, json_t **ret, struct qmp_error *err)
{
	const char *state = json_string_value(json_object_get(args, "state"));
	char why[256];
	if (!state || strcmp(state, "pre-switchover"))
		return qmp_fail(err, "GenericError", "Parameter 'state' expects pre-switchover");
	if (!ctx->vm->migration)
		return qmp_fail(err, "GenericError", "Migration not in expected state: none");
	if (mig_continue(ctx->vm->migration, why, sizeof(why)))
		return qmp_fail(err, "GenericError", "%s", why);
	return 0;
}

int qmp_reclaim_postcopy(struct qmp_ctx *ctx, struct qmp_error *err)
{
	if (!ctx->vm->migration)
		return 0;
	struct mig_info i;
	mig_get_info(ctx->vm->migration, &i);
	if (i.status != MIG_POSTCOPY_PAUSED)
		return 0;
	char why[256];
	if (mig_postcopy_reclaim(ctx->vm->migration, why, sizeof(why)))
		return qmp_fail(err, "GenericError", "%s", why);
	vm_event(ctx->vm, "RESUME", NULL);
	return 1;
}

int qmp_cmd_migrate(struct qmp_ctx *ctx, json_t *args, json_t **ret, struct qmp_error *err)
{
	const char *uri = json_string_value(json_object_get(args, "uri"));
	if (!uri)
		return qmp_fail(err, "GenericError", "Invalid parameter type for 'uri', expected: string");
	/* Block migration: tern copies what each disk's own image holds over
	 * a base the destination has (QEMU's inc); blk asks for the same. */
	bool copy_storage = json_is_true(json_object_get(args, "blk")) || json_is_true(json_object_get(args, "inc"));
	if (copy_storage && !mig_uri_is_stream(uri))
		return qmp_fail(err, "GenericError", "block migration (blk, inc) needs a live migration "
				"(tcp:, unix:, exec:, fd:), not a snapshot file");
	if (json_is_true(json_object_get(args, "resume")))
		return qmp_fail(err, "GenericError", "resuming a paused post-copy (resume) is not "
				"implemented; 'cont' takes the guest back on the source");
	if (qmp_migration_active(ctx) || live_active(ctx))
		return qmp_fail(err, "GenericError", "a migration is already in progress");
	if (atomic_load(&ctx->vm->mem.absent))
		return qmp_fail(err, "GenericError", "this VM is still receiving its memory by post-copy; "
				"migrate or snapshot it once that completes");
	if (mig_uri_is_stream(uri))
		return migrate_live(ctx, uri, copy_storage, err);
	if (strncmp(uri, "file:", 5) || !uri[5])
		return qmp_fail(err, "GenericError", "migration URIs are file:PATH, tcp:HOST:PORT, "
				"unix:PATH, exec:CMD or fd:NAME");
	if (ctx->vm->migration && qmp_live_migration_state(ctx))
		return qmp_fail(err, "GenericError", "this VM has already been migrated away");
	if (atomic_load(&ctx->vm->exit_req) != VM_RUNNING)
		return qmp_fail(err, "GenericError", "The VM is shutting down");
	return qmp_snapshot_file(ctx, uri + 5, err);
}

int qmp_cmd_query_migrate(struct qmp_ctx *ctx, json_t *args, json_t **ret, struct qmp_error *err)
{
	if (ctx->live_last && ctx->vm->migration) {
		struct mig_info i;
		mig_get_info(ctx->vm->migration, &i);
		*ret = qmp_mig_info_json(&i);
		return 0;
	}
	if (!ctx->mig && ctx->vm->incoming) {
		struct mig_incoming_info in;
		mig_incoming_get_info(ctx->vm->incoming, &in);
		*ret = qmp_mig_incoming_json(&in);
		return 0;
	}
	*ret = qmp_snapshot_job_json(ctx);
	return 0;
}
