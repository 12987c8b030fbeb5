/* User-mode networking through libslirp, driven by the I/O thread: slirp's
 * sockets are mirrored into the epoll loop after every pass, and its timers
 * (and poll timeout) share one timerfd. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <slirp/libslirp.h>
#include "core/evloop.h"
#include "net/backends.h"
#include "net/net.h"
#include "net/spec.h"

#define REG_ON 0x80000000u      /* fd is in the loop (in reg[]) */
#define REG_SEEN 0x40000000u    /* wanted by the latest fill */

struct slirp_timer {
	struct slirp_timer *next;
	SlirpTimerCb cb;
	void *cb_opaque;
	int64_t expire_ms;      /* -1 = not armed */
};

struct net_slirp {
	struct net_backend be;
	Slirp *slirp;
	int timerfd;
	struct pollfd *pfd;     /* filled by slirp_pollfds_fill */
	int npfd, pfd_cap;
	uint32_t *reg;          /* per fd: epoll events | REG_ON | REG_SEEN */
	int reg_cap;
	struct slirp_timer *timers;
	uint32_t timeout_ms;    /* slirp's wish from the last fill */
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- slirp callbacks ------------------------------------------------------ */

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct net_slirp *s = opaque;
	net_backend_deliver(&s->be, buf, len);
	return (ssize_t)len;
}

static void cb_guest_error(const char *msg, void *opaque)
{
	fprintf(stderr, "tern: net user: guest error: %s\n", msg);
}

static int64_t cb_clock_get_ns(void *opaque)
{
	return now_ns();
}

static void *cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	struct net_slirp *s = opaque;
	struct slirp_timer *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->cb = cb;
	t->cb_opaque = cb_opaque;
	t->expire_ms = -1;
	t->next = s->timers;
	s->timers = t;
	return t;
}

static void arm_timerfd(struct net_slirp *s);

static void cb_timer_free(void *timer, void *opaque)
{
	struct net_slirp *s = opaque;
	for (struct slirp_timer **pp = &s->timers; *pp; pp = &(*pp)->next) {
		if (*pp == timer) {
			*pp = ((struct slirp_timer *)timer)->next;
			free(timer);
			return;
		}
	}
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	((struct slirp_timer *)timer)->expire_ms = expire_ms;
	arm_timerfd(opaque);
}

static void cb_register_poll_fd(int fd, void *opaque) { }
static void cb_unregister_poll_fd(int fd, void *opaque) { }
/* Every pass ends with a fill and a re-sync, so a wakeup is never needed. */
static void cb_notify(void *opaque) { }

static const SlirpCb slirp_callbacks = {
	.send_packet = cb_send_packet,
	.guest_error = cb_guest_error,
	.clock_get_ns = cb_clock_get_ns,
	.timer_new = cb_timer_new,
	.timer_free = cb_timer_free,
	.timer_mod = cb_timer_mod,
	.register_poll_fd = cb_register_poll_fd,
	.unregister_poll_fd = cb_unregister_poll_fd,
	.notify = cb_notify,
};

/* ---- polling --------------------------------------------------------------- */

static int add_poll(int fd, int events, void *opaque)
{
	struct net_slirp *s = opaque;
	if (s->npfd == s->pfd_cap) {
		int cap = s->pfd_cap ? 2 * s->pfd_cap : 16;
		struct pollfd *p = realloc(s->pfd, (size_t)cap * sizeof(*p));
		if (!p)
			return -1;
		s->pfd = p;
		s->pfd_cap = cap;
	}
	short ev = 0;
	if (events & SLIRP_POLL_IN) ev |= POLLIN;
	if (events & SLIRP_POLL_OUT) ev |= POLLOUT;
	if (events & SLIRP_POLL_PRI) ev |= POLLPRI;
	s->pfd[s->npfd] = (struct pollfd){ .fd = fd, .events = ev };
	return s->npfd++;
}

static int get_revents(int idx, void *opaque)
{
	struct net_slirp *s = opaque;
	if (idx < 0 || idx >= s->npfd)
		return 0;
	short r = s->pfd[idx].revents;
	int ev = 0;
	if (r & POLLIN) ev |= SLIRP_POLL_IN;
	if (r & POLLOUT) ev |= SLIRP_POLL_OUT;
	if (r & POLLPRI) ev |= SLIRP_POLL_PRI;
	if (r & POLLERR) ev |= SLIRP_POLL_ERR;
	if (r & POLLHUP) ev |= SLIRP_POLL_HUP;
	return ev;
}

static void fd_ready(void *opaque, uint32_t events);

static int reg_room(struct net_slirp *s, int fd)
{
	if (fd < s->reg_cap)
		return 0;
	int cap = s->reg_cap ? s->reg_cap : 64;
	while (cap <= fd)
		cap *= 2;
	uint32_t *r = realloc(s->reg, (size_t)cap * sizeof(*r));
	if (!r)
		return -1;
	memset(r + s->reg_cap, 0, (size_t)(cap - s->reg_cap) * sizeof(*r));
	s->reg = r;
	s->reg_cap = cap;
	return 0;
}

/* Make the loop watch exactly the fds (and events) of the latest fill. A
 * socket slirp closed drops out of epoll by itself and its number may come
 * back as a new socket, so a wanted fd is always re-MODded (re-ADDed when
 * epoll no longer knows it). */
static void sync_fds(struct net_slirp *s)
{
	for (int i = 0; i < s->npfd; i++) {
		int fd = s->pfd[i].fd;
		uint32_t want = 0;
		if (s->pfd[i].events & POLLIN) want |= EPOLLIN;
		if (s->pfd[i].events & POLLOUT) want |= EPOLLOUT;
		if (s->pfd[i].events & POLLPRI) want |= EPOLLPRI;
		if (!want || fd < 0 || reg_room(s, fd))
			continue;   /* nothing to wait for: HUP alone must not spin */
		if (!(s->reg[fd] & REG_ON) || evloop_mod_fd(s->be.loop, fd, want) < 0) {
			evloop_del_fd(s->be.loop, fd);
			if (evloop_add_fd(s->be.loop, fd, want, fd_ready, s) < 0) {
				s->reg[fd] = 0;
				continue;
			}
		}
		s->reg[fd] = want | REG_ON | REG_SEEN;
	}
	for (int fd = 0; fd < s->reg_cap; fd++) {
		if (!(s->reg[fd] & REG_ON))
			continue;
		if (s->reg[fd] & REG_SEEN) {
			s->reg[fd] &= ~REG_SEEN;
		} else {
			evloop_del_fd(s->be.loop, fd);
			s->reg[fd] = 0;
		}
	}
}

/* One timerfd: the earliest slirp timer, or slirp's poll timeout. */
static void arm_timerfd(struct net_slirp *s)
{
	int64_t next = INT64_MAX;
	for (struct slirp_timer *t = s->timers; t; t = t->next)
		if (t->expire_ms >= 0 && t->expire_ms * 1000000 < next)
			next = t->expire_ms * 1000000;
	if (s->timeout_ms != UINT32_MAX) {
		int64_t d = now_ns() + (int64_t)s->timeout_ms * 1000000;
		if (d < next)
			next = d;
	}
	struct itimerspec its = { { 0, 0 }, { 0, 0 } };
	if (next != INT64_MAX) {
		if (next <= 0)
			next = 1;       /* 0 would disarm */
		its.it_value.tv_sec = next / 1000000000;
		its.it_value.tv_nsec = next % 1000000000;
	}
	timerfd_settime(s->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* One pass: let slirp see which sockets are ready (without waiting), then
 * re-mirror what it wants next into the loop and re-arm the timer. */
static void serve(struct net_slirp *s)
{
	uint32_t timeout = UINT32_MAX;
	s->npfd = 0;
	slirp_pollfds_fill(s->slirp, &timeout, add_poll, s);
	int n = poll(s->pfd, (nfds_t)s->npfd, 0);
	slirp_pollfds_poll(s->slirp, n < 0, get_revents, s);

	timeout = UINT32_MAX;
	s->npfd = 0;
	slirp_pollfds_fill(s->slirp, &timeout, add_poll, s);
	s->timeout_ms = timeout;
	sync_fds(s);
	arm_timerfd(s);
}

static void fd_ready(void *opaque, uint32_t events)
{
	serve(opaque);
}

static void timer_ready(void *opaque, uint32_t events)
{
	struct net_slirp *s = opaque;
	uint64_t ticks;
	if (read(s->timerfd, &ticks, sizeof(ticks)) < 0 && errno == EAGAIN)
		return;
	int64_t now_ms = now_ns() / 1000000;
	/* A callback may free or re-arm timers: restart the scan after each. */
	for (;;) {
		struct slirp_timer *t = s->timers;
		while (t && !(t->expire_ms >= 0 && t->expire_ms <= now_ms))
			t = t->next;
		if (!t)
			break;
		t->expire_ms = -1;
		t->cb(t->cb_opaque);
	}
	serve(s);
}

/* ---- backend ops ------------------------------------------------------------- */

static int slirp_send(struct net_backend *be, const void *frame, size_t len)
{
	struct net_slirp *s = (struct net_slirp *)be;
	slirp_input(s->slirp, frame, (int)len);
	return 0;
}

static void slirp_flush(struct net_backend *be)
{
	serve((struct net_slirp *)be);
}

static void slirp_close(struct net_backend *be)
{
	struct net_slirp *s = (struct net_slirp *)be;
	for (int fd = 0; fd < s->reg_cap; fd++)
		if (s->reg[fd] & REG_ON)
			evloop_del_fd(be->loop, fd);
	if (s->timerfd >= 0) {
		evloop_del_fd(be->loop, s->timerfd);
		close(s->timerfd);
	}
	if (s->slirp)
		slirp_cleanup(s->slirp);
	while (s->timers)
		cb_timer_free(s->timers, s);
	free(s->pfd);
	free(s->reg);
	free(s);
}

static const struct net_backend_ops slirp_ops = {
	.kind = "user",
	.send = slirp_send,
	.flush = slirp_flush,
	.close = slirp_close,
};

struct net_backend *net_slirp_open(const struct net_spec *spec, struct evloop *loop,
				   char *err, size_t errlen)
{
	struct net_slirp *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "--net user: out of memory");
		return NULL;
	}
	net_backend_init(&s->be, &slirp_ops, loop);
	s->timeout_ms = UINT32_MAX;
	s->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->timerfd < 0 || evloop_add_fd(loop, s->timerfd, EPOLLIN, timer_ready, s) < 0) {
		snprintf(err, errlen, "--net user: cannot create a timer: %s", strerror(errno));
		goto fail;
	}
	/* As QEMU's -netdev user: 10.0.2.0/24, and IPv6 on fec0::/64 (router
	 * advertisements; the host is fec0::2, DNS fec0::3). */
	SlirpConfig cfg = {
		.version = 4,
		.in_enabled = true,
		.in6_enabled = true,
		.vprefix_len = 64,
		.vhostname = spec->hostname[0] ? spec->hostname : "tern",
		.if_mtu = 1500,
		.if_mru = 1500,
	};
	inet_pton(AF_INET6, "fec0::", &cfg.vprefix_addr6);
	inet_pton(AF_INET6, "fec0::2", &cfg.vhost6);
	inet_pton(AF_INET6, "fec0::3", &cfg.vnameserver6);
	inet_pton(AF_INET, "10.0.2.0", &cfg.vnetwork);
	inet_pton(AF_INET, "255.255.255.0", &cfg.vnetmask);
	inet_pton(AF_INET, "10.0.2.2", &cfg.vhost);
	inet_pton(AF_INET, "10.0.2.15", &cfg.vdhcp_start);
	inet_pton(AF_INET, "10.0.2.3", &cfg.vnameserver);
	s->slirp = slirp_new(&cfg, &slirp_callbacks, s);
	if (!s->slirp) {
		snprintf(err, errlen, "--net user: libslirp would not start");
		goto fail;
	}
	for (int i = 0; i < spec->nfwd; i++) {
		const struct net_hostfwd *f = &spec->fwd[i];
		struct in_addr guest = f->guest_addr;
		if (!guest.s_addr)
			guest = cfg.vdhcp_start;
		errno = 0;
		if (slirp_add_hostfwd(s->slirp, f->udp, f->host_addr, f->host_port, guest,
				      f->guest_port) < 0) {
			char host[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &f->host_addr, host, sizeof(host));
			snprintf(err, errlen, "--net user: cannot forward host %s %s:%u: %s",
				 f->udp ? "udp" : "tcp", host, f->host_port,
				 errno ? strerror(errno) : "port in use?");
			goto fail;
		}
	}
	serve(s);
	return &s->be;
fail:
	slirp_close(&s->be);
	return NULL;
}
