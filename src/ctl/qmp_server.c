/* QMP server: accepts clients on a Unix socket, splits their input into JSON
 * values, answers through qmp_proto, and broadcasts events. Everything runs
 * on the I/O thread; a client that floods, stalls or speaks garbage gets an
 * error or is dropped, and never holds up the VM. */
#define _GNU_SOURCE   /* accept4 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "core/evloop.h"
#include "core/vm.h"
#include "ctl/ctl_path.h"
#include "ctl/json_stream.h"
#include "ctl/qmp_proto.h"
#include "ctl/qmp_cmds.h"
#include "ctl/qmp_server.h"

#define QMP_MAX_CLIENTS 16
#define QMP_MAX_MESSAGE (1u << 20)     /* longest request accepted */
#define QMP_MAX_BACKLOG (4u << 20)     /* unsent output before a client is dropped */
#define QMP_READ_CHUNK 65536
#define QMP_NEGOTIATE_MS 10000         /* to send qmp_capabilities after connecting */

struct qmp_client {
	struct qmp_server *srv;
	struct qmp_client *next;
	int fd;
	bool negotiated;
	bool want_out;              /* EPOLLOUT registered */
	bool dead;                  /* an event could not be queued while serving it */
	int passed_fd;              /* the last descriptor sent with SCM_RIGHTS, for getfd */
	int64_t connected_ms, active_ms;    /* monotonic: accepted, last input */
	struct json_stream in;
	char *out;
	size_t out_len, out_cap;
};

struct qmp_server {
	struct vm *vm;
	struct evloop *loop;
	int listen_fd;
	char *path;
	struct qmp_client *clients;
	int nclients;
	struct qmp_client *serving;     /* whose command runs now (not dropped under it) */
	int timer_fd;               /* drops clients that never negotiate */
	struct qmp_ctx ctx;
};

struct qmp_event_call {
	struct qmp_server *srv;
	char *line;
	size_t len;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void client_drop(struct qmp_client *c)
{
	struct qmp_server *s = c->srv;
	for (struct qmp_client **pp = &s->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	s->nclients--;
	evloop_del_fd(s->loop, c->fd);
	close(c->fd);
	if (c->passed_fd >= 0)
		close(c->passed_fd);
	json_stream_free(&c->in);
	free(c->out);
	free(c);
}

/* Writes what the socket takes; returns -1 when the client must go. */
static int client_flush(struct qmp_client *c)
{
	size_t done = 0;
	while (done < c->out_len) {
		ssize_t n = send(c->fd, c->out + done, c->out_len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		return -1;
	}
	memmove(c->out, c->out + done, c->out_len - done);
	c->out_len -= done;
	bool want = c->out_len > 0;
	if (want != c->want_out) {
		c->want_out = want;
		evloop_mod_fd(c->srv->loop, c->fd, EPOLLIN | (want ? EPOLLOUT : 0));
	}
	return 0;
}

/* Queues a line; returns -1 when the client must go (it stopped reading). */
static int client_send(struct qmp_client *c, const char *line, size_t len)
{
	if (c->out_len + len > QMP_MAX_BACKLOG)
		return -1;
	if (c->out_len + len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		while (cap < c->out_len + len)
			cap *= 2;
		char *n = realloc(c->out, cap);
		if (!n)
			return -1;
		c->out = n;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, line, len);
	c->out_len += len;
	return client_flush(c);
}

static int client_send_json(struct qmp_client *c, json_t *msg)
{
	size_t len;
	char *line = msg ? qmp_dump(msg, &len) : NULL;
	json_decref(msg);
	if (!line)
		return -1;
	int r = client_send(c, line, len);
	free(line);
	return r;
}

/* Handles the input buffered so far; returns -1 when the client must go. */
static int client_input(struct qmp_client *c, const char *data, size_t len)
{
	size_t off = 0;
	while (off < len) {
		switch (json_stream_feed(&c->in, data, len, &off)) {
		case JSON_STREAM_MORE:
			break;
		case JSON_STREAM_VALUE: {
			/* Events the command causes go out before its reply, as
			 * in QEMU (STOP before the return of stop). */
			c->srv->serving = c;
			c->srv->ctx.passed_fd = &c->passed_fd;
			json_t *reply = qmp_handle_text(&c->srv->ctx, &c->negotiated, c->in.buf, c->in.len);
			c->srv->serving = NULL;
			c->srv->ctx.passed_fd = NULL;
			json_stream_reset(&c->in);
			if (c->dead || client_send_json(c, reply))
				return -1;
			break;
		}
		case JSON_STREAM_JUNK:
			if (client_send_json(c, qmp_error_reply("GenericError",
					"JSON parse error, invalid input outside a JSON object", NULL)))
				return -1;
			break;
		case JSON_STREAM_TOO_BIG:
		case JSON_STREAM_TOO_DEEP:
			/* No way to resynchronise inside a value: say why, then hang up. */
			client_send_json(c, qmp_error_reply("GenericError",
					"JSON message too large or too deeply nested; closing", NULL));
			return -1;
		}
	}
	return 0;
}

/* recv that also takes descriptors passed with SCM_RIGHTS (QEMU's getfd):
 * the last one is kept for the next getfd, any others are closed. */
static ssize_t client_recv(struct qmp_client *c, char *buf, size_t len)
{
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(4 * sizeof(int))];
	} ctl;
	struct iovec iov = { buf, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = &ctl, .msg_controllen = sizeof(ctl) };
	ssize_t n = recvmsg(c->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return n;
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&msg); h; h = CMSG_NXTHDR(&msg, h)) {
		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		size_t nfd = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfd; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
			if (c->passed_fd >= 0)
				close(c->passed_fd);
			c->passed_fd = fd;
		}
	}
	return n;
}

static void client_ready(void *opaque, uint32_t events)
{
	struct qmp_client *c = opaque;
	if (events & EPOLLOUT) {
		if (client_flush(c)) {
			client_drop(c);
			return;
		}
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	char buf[QMP_READ_CHUNK];
	ssize_t n = client_recv(c, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	c->active_ms = mono_ms();
	if (n <= 0 || client_input(c, buf, (size_t)n))
		client_drop(c);
}

/* Arms the timer for the oldest client still to negotiate (or disarms). */
static void arm_negotiate_timer(struct qmp_server *s)
{
	int64_t first = 0;
	for (struct qmp_client *c = s->clients; c; c = c->next)
		if (!c->negotiated && (!first || c->connected_ms < first))
			first = c->connected_ms;
	struct itimerspec its = { { 0, 0 }, { 0, 0 } };
	if (first) {
		int64_t left = first + QMP_NEGOTIATE_MS - mono_ms();
		if (left < 1)
			left = 1;
		its.it_value.tv_sec = left / 1000;
		its.it_value.tv_nsec = left % 1000 * 1000000;
	}
	timerfd_settime(s->timer_fd, 0, &its, NULL);
}

static void negotiate_timeout(void *opaque, uint32_t events)
{
	struct qmp_server *s = opaque;
	uint64_t ticks;
	if (read(s->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return;
	int64_t now = mono_ms();
	for (struct qmp_client *c = s->clients, *next; c; c = next) {
		next = c->next;
		if (!c->negotiated && now - c->connected_ms >= QMP_NEGOTIATE_MS) {
			client_send_json(c, qmp_error_reply("GenericError",
					"no qmp_capabilities within 10 s; closing", NULL));
			client_drop(c);
		}
	}
	arm_negotiate_timer(s);
}

/* All slots taken: the newcomer is most likely the owner (`tern list`,
 * `tern stop`), so the client that has been quiet longest makes room,
 * one that never negotiated first. Stale clients cannot lock anyone out. */
static void evict_one(struct qmp_server *s)
{
	struct qmp_client *victim = NULL;
	for (struct qmp_client *c = s->clients; c; c = c->next) {
		if (!victim || (victim->negotiated && !c->negotiated) ||
		    (victim->negotiated == c->negotiated && c->active_ms < victim->active_ms))
			victim = c;
	}
	if (victim) {
		client_send_json(victim, qmp_error_reply("GenericError",
				"too many clients; closing the longest idle one", NULL));
		client_drop(victim);
	}
}

static void on_accept(void *opaque, uint32_t events)
{
	struct qmp_server *s = opaque;
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	if (s->nclients >= QMP_MAX_CLIENTS)
		evict_one(s);
	struct qmp_client *c = calloc(1, sizeof(*c));
	if (!c || json_stream_init(&c->in, QMP_MAX_MESSAGE)) {
		free(c);
		close(fd);
		return;
	}
	c->srv = s;
	c->fd = fd;
	c->passed_fd = -1;
	c->connected_ms = c->active_ms = mono_ms();
	if (evloop_add_fd(s->loop, fd, EPOLLIN, client_ready, c)) {
		json_stream_free(&c->in);
		free(c);
		close(fd);
		return;
	}
	c->next = s->clients;
	s->clients = c;
	s->nclients++;
	if (client_send_json(c, qmp_greeting()))
		client_drop(c);
	arm_negotiate_timer(s);
}

static void broadcast(void *opaque)
{
	struct qmp_event_call *e = opaque;
	struct qmp_client *c = e->srv->clients;
	while (c) {
		struct qmp_client *next = c->next;
		if (c->negotiated && client_send(c, e->line, e->len)) {
			if (c == e->srv->serving)
				c->dead = true;     /* client_input drops it */
			else
				client_drop(c);
		}
		c = next;
	}
	free(e->line);
	free(e);
}

/* vm->event_fn: any thread; the send happens on the loop thread. */
static void event_hook(void *opaque, const char *event, const char *data_json)
{
	struct qmp_server *s = opaque;
	struct qmp_event_call *e = calloc(1, sizeof(*e));
	json_t *msg = qmp_event_message(event, data_json);
	if (e && msg)
		e->line = qmp_dump(msg, &e->len);
	json_decref(msg);
	if (!e || !e->line) {
		free(e);
		return;
	}
	e->srv = s;
	/* From a command handler (the loop thread): at once, before its reply. */
	if (evloop_in_loop_thread(s->loop)) {
		broadcast(e);
		return;
	}
	if (evloop_call(s->loop, broadcast, e)) {
		free(e->line);
		free(e);
	}
}

static int64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct qmp_server *qmp_server_new(struct vm *vm, struct evloop *loop, const char *path,
				  char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "control socket path too long: %s", path);
		return NULL;
	}
	strcpy(sa.sun_path, path);
	int live = ctl_socket_live(path);
	if (live > 0) {
		snprintf(err, errlen, "control socket %s is in use by another running VM "
			 "(choose another --name or --qmp)", path);
		return NULL;
	}
	if (live < 0) {
		snprintf(err, errlen, "cannot use %s as control socket: it exists and is not a socket", path);
		return NULL;
	}
	unlink(path);   /* a stale socket from a VM that died */
	struct qmp_server *s = calloc(1, sizeof(*s));
	if (!s || !(s->path = strdup(path))) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->vm = vm;
	s->loop = loop;
	s->ctx.vm = vm;
	s->ctx.started_realtime_ns = realtime_ns();
	s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (s->timer_fd < 0 || evloop_add_fd(s->loop, s->timer_fd, EPOLLIN, negotiate_timeout, s)) {
		snprintf(err, errlen, "cannot create the control socket's timer: %s", strerror(errno));
		if (s->timer_fd >= 0)
			close(s->timer_fd);
		free(s->path);
		free(s);
		return NULL;
	}
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	/* The socket is the VM's master key: 0600 whatever the umask (bind
	 * takes its mode from the umask; a file another thread creates
	 * meanwhile only gets a stricter mode). */
	mode_t old_mask = umask(0177);
	int bound = s->listen_fd >= 0 ? bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) : -1;
	umask(old_mask);
	if (bound || chmod(path, 0600) ||
	    listen(s->listen_fd, 8) || evloop_add_fd(s->loop, s->listen_fd, EPOLLIN, on_accept, s)) {
		snprintf(err, errlen, "cannot listen on control socket %s: %s", path, strerror(errno));
		if (s->listen_fd >= 0) {
			close(s->listen_fd);
			unlink(path);
		}
		evloop_del_fd(s->loop, s->timer_fd);
		close(s->timer_fd);
		free(s->path);
		free(s);
		return NULL;
	}
	vm->event_opaque = s;
	vm->event_fn = event_hook;
	return s;
}

static void close_all(void *opaque)
{
	struct qmp_server *s = opaque;
	while (s->clients) {
		client_flush(s->clients);   /* last events, best effort */
		client_drop(s->clients);
	}
	evloop_del_fd(s->loop, s->listen_fd);
	evloop_del_fd(s->loop, s->timer_fd);
}

void qmp_server_free(struct qmp_server *s)
{
	if (!s)
		return;
	s->vm->event_fn = NULL;
	/* Queued after any pending broadcast, so the last events go out. */
	evloop_call_sync(s->loop, close_all, s);
	close(s->listen_fd);
	close(s->timer_fd);
	unlink(s->path);
	free(s->path);
	qmp_ctx_release(&s->ctx);
	free(s->ctx.mig);
	free(s->ctx.live_params);
	free(s);
}
