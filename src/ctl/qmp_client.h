/* A small blocking QMP client for the `tern` verbs: connect, negotiate,
 * execute; events arriving meanwhile are skipped. */
#ifndef TERN_QMP_CLIENT_H
#define TERN_QMP_CLIENT_H
#include <stddef.h>
#include <sys/types.h>
#include <jansson.h>

struct qmp_client_conn;

/* Connects to path and negotiates; timeout_ms bounds each wait. Returns
 * NULL with a one-line reason in err. */
struct qmp_client_conn *qmp_client_open(const char *path, int timeout_ms, char *err, size_t errlen);
void qmp_client_close(struct qmp_client_conn *c);
/* The server's process id (SO_PEERCRED), or -1. */
pid_t qmp_client_peer_pid(const struct qmp_client_conn *c);
/* Runs cmd with args (borrowed, may be NULL). Returns the "return" value
 * (caller decrefs), or NULL with the error's desc (or a transport error) in err. */
json_t *qmp_client_execute(struct qmp_client_conn *c, const char *cmd, json_t *args,
			   char *err, size_t errlen);
/* Waits up to timeout_ms for the event named; 0 when it came, -1 otherwise
 * (the connection closing counts as -1). */
int qmp_client_wait_event(struct qmp_client_conn *c, const char *event, int timeout_ms);
/* The same, handing over the event's "data" (NULL when it has none;
 * caller decrefs). */
int qmp_client_wait_event_data(struct qmp_client_conn *c, const char *event, int timeout_ms,
			       json_t **data);
/* Resolves a VM name to its socket path (a name containing '/' is a path). */
int qmp_client_resolve(const char *name, char *path, size_t len, char *err, size_t errlen);
#endif
