/* Console on a listening AF_UNIX stream socket: one client at a time; output
 * goes to it when connected and is dropped otherwise. */
#define _GNU_SOURCE   /* accept4, ptsname_r */
#include "backend/chr_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/evloop.h"

/* How long chr_write waits for a connected but slow client. */
#define UNIX_WRITE_WAIT_MS 100

static void on_accept(void *opaque, uint32_t events)
{
	struct chr *c = opaque;
	int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;     /* EAGAIN, ECONNABORTED, EMFILE...: try again later */
	pthread_mutex_lock(&c->lock);
	c->out_fd = fd;
	c->congested = false;
	pthread_mutex_unlock(&c->lock);
	/* Further clients wait in the backlog until this one leaves. */
	evloop_del_fd(c->loop, c->listen_fd);
	chr_input_attach(c, fd);
}

static int unix_start(struct chr *c)
{
	return evloop_add_fd(c->loop, c->listen_fd, EPOLLIN, on_accept, c);
}

static void unix_input_closed(struct chr *c)
{
	int fd = chr_input_detach(c);
	pthread_mutex_lock(&c->lock);
	if (c->out_fd == fd)
		c->out_fd = -1;
	pthread_mutex_unlock(&c->lock);
	if (fd >= 0)
		close(fd);
	evloop_add_fd(c->loop, c->listen_fd, EPOLLIN, on_accept, c);
}

static void unix_write(struct chr *c, const unsigned char *buf, size_t len)
{
	pthread_mutex_lock(&c->lock);
	if (c->out_fd >= 0) {
		/* A client that stopped reading costs one timeout, then output
		 * is dropped until its buffer drains. */
		int r = chr_write_fd(c->out_fd, buf, len,
		                     c->congested ? 0 : UNIX_WRITE_WAIT_MS, true);
		c->congested = r == -EAGAIN;
	}
	pthread_mutex_unlock(&c->lock);
}

static void unix_stop(struct chr *c)
{
	if (c->listen_fd >= 0)
		evloop_del_fd(c->loop, c->listen_fd);
}

static void unix_destroy(struct chr *c)
{
	if (c->out_fd >= 0)
		close(c->out_fd);
	if (c->listen_fd >= 0) {
		close(c->listen_fd);
		if (c->path)
			unlink(c->path);
	}
	c->out_fd = c->listen_fd = -1;
}

static const struct chr_ops unix_ops = {
	.name = "unix",
	.start = unix_start,
	.write = unix_write,
	.input_closed = unix_input_closed,
	.stop = unix_stop,
	.destroy = unix_destroy,
};

int chr_unix_open(struct chr *c, const char *path, char *err, size_t errlen)
{
	c->ops = &unix_ops;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "console socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);

	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "cannot use %s as console socket: it exists and is not a socket",
			         path);
			return -EEXIST;
		}
		/* A stale socket from an earlier run. */
		if (unlink(path) < 0) {
			int e = errno;
			snprintf(err, errlen, "cannot remove stale console socket %s: %s", path, strerror(e));
			return -e;
		}
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot create console socket: %s", strerror(e));
		return -e;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		snprintf(err, errlen, "cannot bind console socket %s: %s", path, strerror(e));
		return -e;
	}
	/* From here on chr_close (or the failure path) unlinks it. */
	c->listen_fd = fd;
	c->path = strdup(path);
	if (!c->path) {
		snprintf(err, errlen, "out of memory");
		unlink(path);
		return -ENOMEM;
	}
	if (listen(fd, 1) < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot listen on console socket %s: %s", path, strerror(e));
		return -e;
	}
	return 0;
}
