/* VDE backend: one port on a vde_switch through libvdeplug. Frames are read
 * on the I/O thread from the data fd; sends never block (a full switch
 * queue drops the frame, as a real wire would). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <libvdeplug.h>
#include "core/evloop.h"
#include "net/backends.h"
#include "net/net.h"
#include "net/spec.h"

struct net_vde {
	struct net_backend be;
	VDECONN *conn;
	int datafd, ctlfd;
	char path[NET_SOCK_MAX];
	uint8_t buf[VDE_ETHBUFSIZE];
};

static void vde_readable(void *opaque, uint32_t events)
{
	struct net_vde *v = opaque;
	/* A bounded batch, so one busy switch cannot starve the loop. */
	for (int i = 0; i < 64 && !v->be.paused; i++) {
		ssize_t n = vde_recv(v->conn, v->buf, sizeof(v->buf), MSG_DONTWAIT);
		if (n <= 0)
			break;
		if (n >= 14)
			net_backend_deliver(&v->be, v->buf, (size_t)n);
	}
}

/* The control socket only speaks again when the switch goes away. */
static void vde_ctl_event(void *opaque, uint32_t events)
{
	struct net_vde *v = opaque;
	char c;
	ssize_t n = recv(v->ctlfd, &c, 1, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		fprintf(stderr, "tern: net vde: switch '%s' went away; the link is dead\n", v->path);
		evloop_del_fd(v->be.loop, v->ctlfd);
		evloop_del_fd(v->be.loop, v->datafd);
	}
}

static int vde_send_frame(struct net_backend *be, const void *frame, size_t len)
{
	struct net_vde *v = (struct net_vde *)be;
	ssize_t n = vde_send(v->conn, frame, len, MSG_DONTWAIT);
	return n == (ssize_t)len ? 0 : -EAGAIN;
}

static void vde_pause(struct net_backend *be, bool paused)
{
	struct net_vde *v = (struct net_vde *)be;
	evloop_mod_fd(be->loop, v->datafd, paused ? 0 : EPOLLIN);
}

static void vde_close_backend(struct net_backend *be)
{
	struct net_vde *v = (struct net_vde *)be;
	if (v->conn) {
		evloop_del_fd(be->loop, v->datafd);
		evloop_del_fd(be->loop, v->ctlfd);
		vde_close(v->conn);
	}
	free(v);
}

static const struct net_backend_ops vde_ops = {
	.kind = "vde",
	.send = vde_send_frame,
	.pause = vde_pause,
	.close = vde_close_backend,
};

struct net_backend *net_vde_open(const struct net_spec *spec, struct evloop *loop,
				 char *err, size_t errlen)
{
	struct net_vde *v = calloc(1, sizeof(*v));
	if (!v) {
		snprintf(err, errlen, "--net vde: out of memory");
		return NULL;
	}
	net_backend_init(&v->be, &vde_ops, loop);
	snprintf(v->path, sizeof(v->path), "%s", spec->sock);
	errno = 0;
	v->conn = vde_open(v->path, "tern", NULL);
	if (!v->conn) {
		snprintf(err, errlen, "--net vde: cannot connect to the switch at '%s': %s",
			 spec->sock, errno ? strerror(errno) : "refused");
		free(v);
		return NULL;
	}
	v->datafd = vde_datafd(v->conn);
	v->ctlfd = vde_ctlfd(v->conn);
	/* libvdeplug's plugins may ignore MSG_DONTWAIT: make the fd itself
	 * non-blocking, so neither a read batch nor a send can stall the loop. */
	int fl = fcntl(v->datafd, F_GETFL);
	if (fl < 0 || fcntl(v->datafd, F_SETFL, fl | O_NONBLOCK) < 0) {
		snprintf(err, errlen, "--net vde: cannot make the switch connection non-blocking");
		vde_close_backend(&v->be);
		return NULL;
	}
	if (evloop_add_fd(loop, v->datafd, EPOLLIN, vde_readable, v) < 0 ||
	    (v->ctlfd >= 0 && evloop_add_fd(loop, v->ctlfd, EPOLLIN, vde_ctl_event, v) < 0)) {
		snprintf(err, errlen, "--net vde: cannot watch the switch connection");
		vde_close_backend(&v->be);
		return NULL;
	}
	return &v->be;
}
