/* QMP protocol layer: the greeting, capabilities negotiation, request
 * validation, the command table and error/event messages. No I/O here; the
 * server (qmp_server.c) moves the text. */
#ifndef TERN_QMP_PROTO_H
#define TERN_QMP_PROTO_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "core/version.h"

struct vm;
struct snap_job;

/* What commands act on; lives in the server, used on the I/O thread only. */
struct mig_params;

#define QMP_MAX_FDS 16

struct qmp_ctx {
	struct vm *vm;
	bool user_stopped;          /* `stop` was obeyed and not yet `cont` */
	bool postmigrate;           /* stopped, and a migration completed since */
	int64_t started_realtime_ns;
	struct snap_job *mig;       /* the last or current snapshot migration (ctl/qmp_snapshot.c) */
	bool live_last;             /* the last migration was live (vm->migration) */
	struct mig_params *live_params;   /* migrate-set-parameters (migration/) */
	/* getfd: descriptors a client passed (SCM_RIGHTS), by name. */
	struct qmp_named_fd {
		char name[64];
		int fd;
	} fds[QMP_MAX_FDS];
	int nfds;
	/* The serving client's last passed descriptor (-1: none), while one of
	 * its commands runs; NULL otherwise. */
	int *passed_fd;
};

struct qmp_error {
	const char *cls;            /* GenericError, CommandNotFound, ... */
	char desc[256];
};

struct qmp_command {
	const char *name;
	const char *const *required;    /* argument names, NULL-terminated, or NULL */
	const char *const *optional;
	bool open_args;                 /* the handler checks its arguments itself */
	/* Returns 0 with *ret set (NULL means {}), or -1 with err filled. */
	int (*fn)(struct qmp_ctx *ctx, json_t *args, json_t **ret, struct qmp_error *err);
};

extern const struct qmp_command qmp_commands[];   /* ends with { NULL } */

/* query-version and the greeting give tern's own version. */
#define QMP_VERSION_MAJOR TERN_VERSION_MAJOR
#define QMP_VERSION_MINOR TERN_VERSION_MINOR
#define QMP_VERSION_MICRO TERN_VERSION_MICRO
#define QMP_VERSION_PACKAGE "tern " TERN_VERSION

int qmp_fail(struct qmp_error *err, const char *cls, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
json_t *qmp_greeting(void);
/* {"error": {"class", "desc"}} with the request's id when it had one. */
json_t *qmp_error_reply(const char *cls, const char *desc, json_t *id);
/* Handle one complete JSON text from a client. *negotiated is the client's
 * capabilities state. Returns the reply (never NULL unless out of memory). */
json_t *qmp_handle_text(struct qmp_ctx *ctx, bool *negotiated, const char *text, size_t len);
/* An event message: {"event", "data" (when data_json is not NULL),
 * "timestamp": {"seconds", "microseconds"}}. */
json_t *qmp_event_message(const char *event, const char *data_json);
/* Serialise one message as a line; caller frees. */
char *qmp_dump(const json_t *msg, size_t *len);
#endif
