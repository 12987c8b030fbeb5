/* Console backends, common part: spec parsing, the input path with flow
 * control (buffer + pause until chr_accept_input), Ctrl-A escapes, teardown. */
#include "backend/chr_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/evloop.h"

const char chr_escape_help[] =
	"\r\n"
	"C-a h    print this help\r\n"
	"C-a x    exit tern\r\n"
	"C-a a    send C-a\r\n"
	"C-a C-a  send C-a\r\n";

size_t chr_escape_filter(bool *pending, const unsigned char *in, size_t len,
                         unsigned char *out, unsigned *actions)
{
	size_t o = 0;
	*actions = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = in[i];
		if (!*pending) {
			if (ch == CHR_ESC_CHAR)
				*pending = true;
			else
				out[o++] = ch;
			continue;
		}
		*pending = false;
		switch (ch) {
		case 'x':
			*actions |= CHR_ESC_QUIT;
			return o;   /* nothing after a quit matters */
		case 'h':
			*actions |= CHR_ESC_HELP;
			break;
		case 'a':
		case CHR_ESC_CHAR:
			out[o++] = CHR_ESC_CHAR;
			break;
		default:
			break;      /* unknown escape: dropped */
		}
	}
	return o;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int chr_write_fd(int fd, const unsigned char *buf, size_t len, int wait_ms, bool sock)
{
	int64_t deadline = wait_ms > 0 ? now_ms() + wait_ms : 0;
	while (len) {
		ssize_t n = sock ? send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT)
		                 : write(fd, buf, len);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		if (n == 0)
			return -EIO;
		/* Would block. */
		int timeout = -1;
		if (wait_ms == 0)
			return -EAGAIN;
		if (wait_ms > 0) {
			int64_t left = deadline - now_ms();
			if (left <= 0)
				return -EAGAIN;
			timeout = (int)left;
		}
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int r = poll(&p, 1, timeout);
		if (r == 0)
			return -EAGAIN;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r > 0 && (p.revents & (POLLERR | POLLNVAL)) && !(p.revents & POLLOUT))
			return -EIO;
	}
	return 0;
}

/* ---- input path (all on the loop thread) ---- */

static void nopoll_read(void *opaque);
static void on_input(void *opaque, uint32_t events);

static void watch(struct chr *c)
{
	if (c->in_watched || c->in_fd < 0 || c->in_eof)
		return;
	if (!c->in_nopoll) {
		int r = evloop_add_fd(c->loop, c->in_fd, EPOLLIN, on_input, c);
		if (r == 0) {
			c->in_watched = true;
			return;
		}
		if (r != -EPERM)
			return;
		/* Regular file or /dev/null: always "readable", epoll refuses
		 * it. Read it by queued calls instead, one chunk per turn. */
		c->in_nopoll = true;
	}
	c->in_watched = true;
	if (!c->nopoll_queued && evloop_call(c->loop, nopoll_read, c) == 0)
		c->nopoll_queued = true;
}

static void unwatch(struct chr *c)
{
	if (!c->in_watched)
		return;
	if (!c->in_nopoll)
		evloop_del_fd(c->loop, c->in_fd);
	c->in_watched = false;   /* a queued nopoll_read sees this and stops */
}

int chr_input_attach(struct chr *c, int fd)
{
	unwatch(c);
	c->in_fd = fd;
	c->in_eof = false;
	c->in_nopoll = false;
	if (!atomic_load(&c->paused))
		watch(c);
	return 0;
}

int chr_input_detach(struct chr *c)
{
	int fd = c->in_fd;
	unwatch(c);
	c->in_fd = -1;
	return fd;
}

/* Hands buffered input to the frontend; pauses reading if it took less. */
static void deliver(struct chr *c)
{
	/* Set before recv so a chr_accept_input racing with it queues a kick. */
	atomic_store(&c->paused, true);
	if (c->in_off < c->in_len) {
		size_t left = c->in_len - c->in_off;
		size_t n = c->recv ? c->recv(c->opaque, c->inbuf + c->in_off, left) : left;
		c->in_off += n < left ? n : left;
	}
	if (c->in_off < c->in_len) {
		unwatch(c);
		return;
	}
	c->in_off = c->in_len = 0;
	atomic_store(&c->paused, false);
	watch(c);
}

static void input_closed(struct chr *c)
{
	if (c->ops->input_closed) {
		c->ops->input_closed(c);
	} else {
		/* EOF on stdin etc.: stop reading, keep the VM running. */
		unwatch(c);
		c->in_eof = true;
	}
}

/* Reads one chunk. Returns true when the quit handler ran (c may be gone). */
static bool read_input(struct chr *c)
{
	if (c->in_fd < 0 || c->in_eof || atomic_load(&c->paused))
		return false;
	unsigned char raw[CHR_INBUF];
	ssize_t n = read(c->in_fd, raw, sizeof(raw));
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			return false;
		input_closed(c);
		return false;
	}
	if (n == 0) {
		input_closed(c);
		return false;
	}
	unsigned actions = 0;
	size_t len = (size_t)n;
	if (c->escapes)
		len = chr_escape_filter(&c->esc_pending, raw, len, c->inbuf, &actions);
	else
		memcpy(c->inbuf, raw, len);
	c->in_off = 0;
	c->in_len = len;
	if (actions & CHR_ESC_HELP)
		c->ops->write(c, (const unsigned char *)chr_escape_help,
		              sizeof(chr_escape_help) - 1);
	deliver(c);
	if ((actions & CHR_ESC_QUIT) && c->quit) {
		c->quit(c->opaque);  /* may chr_close(c): touch nothing after */
		return true;
	}
	return false;
}

static void on_input(void *opaque, uint32_t events)
{
	read_input(opaque);
}

static void nopoll_read(void *opaque)
{
	struct chr *c = opaque;
	c->nopoll_queued = false;
	if (!c->in_watched || !c->in_nopoll)
		return;
	if (read_input(c))
		return;
	if (c->in_watched && c->in_nopoll && !c->nopoll_queued &&
	    evloop_call(c->loop, nopoll_read, c) == 0)
		c->nopoll_queued = true;
}

/* Queued by chr_accept_input: retry delivery, resume reading when drained. */
static void kick(void *opaque)
{
	struct chr *c = opaque;
	atomic_store(&c->kick_queued, false);
	if (atomic_load(&c->paused))
		deliver(c);
}

/* ---- public API ---- */

static const struct {
	const char *prefix;     /* "name" alone, or "name:" taking an argument */
	int (*open)(struct chr *c, const char *arg, char *err, size_t errlen);
} backends[] = {
	{ "stdio", chr_stdio_open },
	{ "pty", chr_pty_open },
	{ "unix:", chr_unix_open },
	{ "file:", chr_file_open },
};

static struct chr *chr_open_backend(const char *spec, struct evloop *loop, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		const char *p = backends[i].prefix;
		size_t n = strlen(p);
		bool takes_arg = p[n - 1] == ':';
		if (takes_arg ? strncmp(spec, p, n) != 0 : strcmp(spec, p) != 0)
			continue;
		const char *arg = spec + n;
		if (takes_arg && !*arg) {
			snprintf(err, errlen, "console backend '%s' needs a path (%sPATH)", spec, p);
			return NULL;
		}
		struct chr *c = calloc(1, sizeof(*c));
		if (!c) {
			snprintf(err, errlen, "out of memory");
			return NULL;
		}
		c->loop = loop;
		c->in_fd = c->out_fd = c->listen_fd = c->pty_slave = c->log_fd = -1;
		pthread_mutex_init(&c->lock, NULL);
		if (backends[i].open(c, arg, err, errlen) < 0) {
			if (c->ops && c->ops->destroy)
				c->ops->destroy(c);
			pthread_mutex_destroy(&c->lock);
			free(c->path);
			free(c);
			return NULL;
		}
		return c;
	}
	snprintf(err, errlen, "unknown console backend '%s' (use stdio, pty, unix:PATH or file:PATH)",
	         spec);
	return NULL;
}

struct chr *chr_open(const char *spec, struct evloop *loop, char *err, size_t errlen)
{
	char dummy[1];
	if (!err || !errlen) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = 0;
	if (!spec)
		spec = "";
	/* ",log=FILE" splits off first: the backend sees the rest. */
	const char *log = strstr(spec, ",log=");
	char *base = NULL;
	if (log) {
		base = strndup(spec, (size_t)(log - spec));
		if (!base) {
			snprintf(err, errlen, "out of memory");
			return NULL;
		}
		log += 5;
		spec = base;
	}
	int log_fd = -1;
	if (log && (log_fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644)) < 0) {
		snprintf(err, errlen, "cannot open console log %s: %s", log, strerror(errno));
		free(base);
		return NULL;
	}
	struct chr *c = chr_open_backend(spec, loop, err, errlen);
	free(base);
	if (c)
		c->log_fd = log_fd;
	else if (log_fd >= 0)
		close(log_fd);
	return c;
}


void chr_set_handlers(struct chr *c, chr_recv_fn recv, chr_quit_fn quit, void *opaque)
{
	c->recv = recv;
	c->quit = quit;
	c->opaque = opaque;
}

struct start_req {
	struct chr *c;
	int ret;
};

static void start_on_loop(void *opaque)
{
	struct start_req *r = opaque;
	if (r->c->started)
		return;
	r->ret = r->c->ops->start ? r->c->ops->start(r->c) : 0;
	r->c->started = r->ret == 0;
}

int chr_start(struct chr *c)
{
	struct start_req r = { .c = c };
	int ret = evloop_call_sync(c->loop, start_on_loop, &r);
	return ret < 0 ? ret : r.ret;
}

void chr_write(struct chr *c, const unsigned char *buf, size_t len)
{
	if (!c || !len)
		return;
	if (c->log_fd >= 0)
		chr_write_fd(c->log_fd, buf, len, -1, false);   /* O_APPEND: whole writes */
	c->ops->write(c, buf, len);
}

void chr_accept_input(struct chr *c)
{
	if (!c || !atomic_load(&c->paused))
		return;
	if (atomic_exchange(&c->kick_queued, true))
		return;
	if (evloop_call(c->loop, kick, c) < 0)
		atomic_store(&c->kick_queued, false);
}

const char *chr_describe(struct chr *c)
{
	return c && c->pty_name[0] ? c->pty_name : NULL;
}

static void close_on_loop(void *opaque)
{
	struct chr *c = opaque;
	if (c->ops->stop)
		c->ops->stop(c);
	chr_input_detach(c);
	evloop_cancel(c->loop, c);   /* queued kicks and reads */
}

void chr_close(struct chr *c)
{
	if (!c)
		return;
	/* On the loop thread so no callback of ours is running meanwhile. */
	if (evloop_call_sync(c->loop, close_on_loop, c) < 0)
		close_on_loop(c);   /* out of memory: better racy than leaking */
	if (c->ops->destroy)
		c->ops->destroy(c);
	if (c->log_fd >= 0)
		close(c->log_fd);
	pthread_mutex_destroy(&c->lock);
	free(c->path);
	free(c);
}
