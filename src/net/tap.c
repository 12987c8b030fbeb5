/* TAP backend: a host tap interface from /dev/net/tun (IFF_TAP|IFF_NO_PI, no
 * vnet header, since the device offers no offloads), read on the I/O thread. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include "core/evloop.h"
#include "net/backends.h"
#include "net/net.h"
#include "net/spec.h"

struct net_tap {
	struct net_backend be;
	int fd;
	uint8_t buf[NET_MAX_FRAME];
};

static void tap_readable(void *opaque, uint32_t events)
{
	struct net_tap *t = opaque;
	for (int i = 0; i < 64 && !t->be.paused; i++) {
		ssize_t n = read(t->fd, t->buf, sizeof(t->buf));
		if (n <= 0)
			break;
		if (n >= 14)
			net_backend_deliver(&t->be, t->buf, (size_t)n);
	}
}

static int tap_send(struct net_backend *be, const void *frame, size_t len)
{
	struct net_tap *t = (struct net_tap *)be;
	ssize_t n;
	do {
		n = write(t->fd, frame, len);
	} while (n < 0 && errno == EINTR);
	return n == (ssize_t)len ? 0 : -EAGAIN;
}

static void tap_pause(struct net_backend *be, bool paused)
{
	struct net_tap *t = (struct net_tap *)be;
	evloop_mod_fd(be->loop, t->fd, paused ? 0 : EPOLLIN);
}

static void tap_close(struct net_backend *be)
{
	struct net_tap *t = (struct net_tap *)be;
	if (t->fd >= 0) {
		evloop_del_fd(be->loop, t->fd);
		close(t->fd);
	}
	free(t);
}

static const struct net_backend_ops tap_ops = {
	.kind = "tap",
	.send = tap_send,
	.pause = tap_pause,
	.close = tap_close,
};

struct net_backend *net_tap_open(const struct net_spec *spec, struct evloop *loop,
				 char *err, size_t errlen)
{
	struct net_tap *t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "--net tap: out of memory");
		return NULL;
	}
	net_backend_init(&t->be, &tap_ops, loop);
	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0) {
		snprintf(err, errlen, "--net tap: cannot open /dev/net/tun: %s", strerror(errno));
		tap_close(&t->be);
		return NULL;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", spec->ifname);
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;
		snprintf(err, errlen, "--net tap: cannot attach to tap '%s': %s%s", spec->ifname,
			 strerror(e), e == EPERM ? " (needs CAP_NET_ADMIN, or a tap "
			 "created for this user with 'ip tuntap add mode tap user ...')" : "");
		tap_close(&t->be);
		return NULL;
	}
	if (evloop_add_fd(loop, t->fd, EPOLLIN, tap_readable, t) < 0) {
		snprintf(err, errlen, "--net tap: cannot watch '%s'", spec->ifname);
		tap_close(&t->be);
		return NULL;
	}
	return &t->be;
}
