/* Blocking QMP client: reads newline-ended JSON messages with a deadline,
 * answers the greeting with qmp_capabilities and matches replies by id. */
#define _GNU_SOURCE   /* struct ucred */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "ctl/ctl_path.h"
#include "ctl/qmp_client.h"

#define CLIENT_MAX_LINE (8u << 20)

struct qmp_client_conn {
	int fd;
	int timeout_ms;
	char *buf;
	size_t len, cap;
	int next_id;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Next message, or NULL (timeout, EOF, garbage). */
static json_t *read_msg(struct qmp_client_conn *c, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;   /* buf is NULL at first */
		if (nl) {
			size_t n = (size_t)(nl - c->buf) + 1;
			json_t *m = json_loadb(c->buf, n, 0, NULL);
			memmove(c->buf, c->buf + n, c->len - n);
			c->len -= n;
			if (m)
				return m;
			continue;
		}
		int left = (int)(deadline - now_ms());
		if (left <= 0)
			return NULL;
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		int r = poll(&p, 1, left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return NULL;
		if (c->len + 65536 > c->cap) {
			if (c->cap >= CLIENT_MAX_LINE)
				return NULL;
			size_t cap = c->cap ? c->cap * 2 : 65536 * 2;
			char *b = realloc(c->buf, cap);
			if (!b)
				return NULL;
			c->buf = b;
			c->cap = cap;
		}
		ssize_t n = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		c->len += (size_t)n;
	}
}

static int send_msg(struct qmp_client_conn *c, json_t *msg)
{
	char *s = json_dumps(msg, JSON_COMPACT);
	if (!s)
		return -1;
	size_t n = strlen(s);
	s[n] = '\n';   /* json_dumps' NUL becomes the newline */
	size_t off = 0;
	int r = 0;
	while (off < n + 1) {
		ssize_t w = send(c->fd, s + off, n + 1 - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			r = -1;
			break;
		}
		off += (size_t)w;
	}
	free(s);
	return r;
}

json_t *qmp_client_execute(struct qmp_client_conn *c, const char *cmd, json_t *args,
			   char *err, size_t errlen)
{
	int id = ++c->next_id;
	json_t *req = json_pack("{s:s,s:i}", "execute", cmd, "id", id);
	if (args)
		json_object_set(req, "arguments", args);
	int r = send_msg(c, req);
	json_decref(req);
	if (r) {
		snprintf(err, errlen, "the VM closed its control socket");
		return NULL;
	}
	for (;;) {
		json_t *m = read_msg(c, c->timeout_ms);
		if (!m) {
			snprintf(err, errlen, "no answer to '%s' from the VM", cmd);
			return NULL;
		}
		json_t *mid = json_object_get(m, "id");
		if (!mid || json_integer_value(mid) != id) {
			json_decref(m);   /* an event */
			continue;
		}
		json_t *ret = json_object_get(m, "return");
		if (ret) {
			json_incref(ret);
			json_decref(m);
			return ret;
		}
		const char *desc = json_string_value(json_object_get(json_object_get(m, "error"), "desc"));
		snprintf(err, errlen, "%s", desc ? desc : "malformed reply");
		json_decref(m);
		return NULL;
	}
}

int qmp_client_wait_event(struct qmp_client_conn *c, const char *event, int timeout_ms)
{
	return qmp_client_wait_event_data(c, event, timeout_ms, NULL);
}

int qmp_client_wait_event_data(struct qmp_client_conn *c, const char *event, int timeout_ms,
			       json_t **data)
{
	int64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		int left = (int)(deadline - now_ms());
		if (left <= 0)
			return -1;
		json_t *m = read_msg(c, left);
		if (!m)
			return -1;
		const char *ev = json_string_value(json_object_get(m, "event"));
		int hit = ev && !strcmp(ev, event);
		if (hit && data) {
			*data = json_object_get(m, "data");
			json_incref(*data);
		}
		json_decref(m);
		if (hit)
			return 0;
	}
}

struct qmp_client_conn *qmp_client_open(const char *path, int timeout_ms, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", path);
		return NULL;
	}
	strcpy(sa.sun_path, path);
	struct qmp_client_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->timeout_ms = timeout_ms;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		snprintf(err, errlen, "cannot connect to %s: %s", path, strerror(errno));
		qmp_client_close(c);
		return NULL;
	}
	json_t *greeting = read_msg(c, timeout_ms);
	int ok = greeting && json_object_get(greeting, "QMP");
	json_decref(greeting);
	if (!ok) {
		snprintf(err, errlen, "%s does not speak QMP", path);
		qmp_client_close(c);
		return NULL;
	}
	json_t *r = qmp_client_execute(c, "qmp_capabilities", NULL, err, errlen);
	if (!r) {
		qmp_client_close(c);
		return NULL;
	}
	json_decref(r);
	return c;
}

void qmp_client_close(struct qmp_client_conn *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	free(c);
}

pid_t qmp_client_peer_pid(const struct qmp_client_conn *c)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cr, &len))
		return -1;
	return cr.pid;
}

int qmp_client_resolve(const char *name, char *path, size_t len, char *err, size_t errlen)
{
	if (strchr(name, '/')) {
		if (snprintf(path, len, "%s", name) >= (int)len) {
			snprintf(err, errlen, "path too long: %s", name);
			return -1;
		}
		return 0;
	}
	if (ctl_default_path(name, 0, path, len, err, errlen))
		return -1;
	if (ctl_socket_live(path) <= 0) {
		snprintf(err, errlen, "no running VM named '%s' (no live socket %s)", name, path);
		return -1;
	}
	return 0;
}
