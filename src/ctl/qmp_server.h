/* The control socket: QMP over a listening AF_UNIX socket, served on the
 * VM's I/O thread; several clients, events broadcast to negotiated ones. */
#ifndef TERN_QMP_SERVER_H
#define TERN_QMP_SERVER_H
#include <stddef.h>

struct vm;
struct evloop;
struct qmp_server;

/* Binds path (refusing one a running VM serves) and starts serving on
 * loop (the board's I/O loop, virt_loop), which must be running. Installs the vm's event hook. Returns
 * NULL with a one-line reason in err. */
struct qmp_server *qmp_server_new(struct vm *vm, struct evloop *loop, const char *path,
				  char *err, size_t errlen);
/* Sends queued events, closes clients and removes the socket. */
void qmp_server_free(struct qmp_server *s);
#endif
