/* Unit tests for the I/O thread (evloop) and the console backends (chr):
 * loop threading, fd callbacks, unix/file/pty/stdio backends, escapes. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <poll.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "core/evloop.h"
#include "backend/chr.h"
#include "backend/chr_priv.h"

/* ---- helpers ---- */

struct sink {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned char buf[65536];
	size_t len;
	size_t limit;       /* recv takes at most this many per call; 0 = all */
	int calls;
	int quits;
	bool on_loop;       /* every recv ran on the loop thread */
	struct evloop *loop;
};

static void sink_init(struct sink *s, struct evloop *l)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->on_loop = true;
	s->loop = l;
}

static size_t sink_recv(void *opaque, const unsigned char *buf, size_t len)
{
	struct sink *s = opaque;
	pthread_mutex_lock(&s->lock);
	if (s->loop && !evloop_in_loop_thread(s->loop))
		s->on_loop = false;
	size_t n = len;
	if (s->limit && n > s->limit)
		n = s->limit;
	if (n > sizeof(s->buf) - s->len)
		n = sizeof(s->buf) - s->len;
	memcpy(s->buf + s->len, buf, n);
	s->len += n;
	s->calls++;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return n;
}

static void sink_quit(void *opaque)
{
	struct sink *s = opaque;
	pthread_mutex_lock(&s->lock);
	s->quits++;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void deadline_in(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/* Waits until the sink holds at least n bytes; returns what it holds. */
static size_t sink_wait(struct sink *s, size_t n, int ms)
{
	struct timespec ts;
	deadline_in(&ts, ms);
	pthread_mutex_lock(&s->lock);
	while (s->len < n && pthread_cond_timedwait(&s->cond, &s->lock, &ts) == 0)
		;
	size_t r = s->len;
	pthread_mutex_unlock(&s->lock);
	return r;
}

static int sink_wait_quit(struct sink *s, int ms)
{
	struct timespec ts;
	deadline_in(&ts, ms);
	pthread_mutex_lock(&s->lock);
	while (!s->quits && pthread_cond_timedwait(&s->cond, &s->lock, &ts) == 0)
		;
	int r = s->quits;
	pthread_mutex_unlock(&s->lock);
	return r;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/* Reads until n bytes arrived or ms passed. */
static size_t read_until(int fd, unsigned char *buf, size_t n, int ms)
{
	size_t got = 0;
	while (got < n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, ms) <= 0)
			break;
		ssize_t r = read(fd, buf + got, n - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

static int unix_connect(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void write_all(int fd, const void *buf, size_t len)
{
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
}

struct tmp {
	char dir[64];
	char path[128];
};

static void tmp_make(struct tmp *t, const char *name)
{
	strcpy(t->dir, "/tmp/tern-chr-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/%s", t->dir, name);
}

static void tmp_clean(struct tmp *t)
{
	unlink(t->path);
	rmdir(t->dir);
}

/* ---- evloop ---- */

struct flag {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int count;
	bool on_loop;
	pthread_t thread;
	struct evloop *loop;
	int fd;
};

static void flag_init(struct flag *f, struct evloop *l)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	f->loop = l;
	f->fd = -1;
}

static void flag_raise(struct flag *f)
{
	pthread_mutex_lock(&f->lock);
	f->count++;
	f->thread = pthread_self();
	f->on_loop = evloop_in_loop_thread(f->loop);
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

static int flag_wait(struct flag *f, int n, int ms)
{
	struct timespec ts;
	deadline_in(&ts, ms);
	pthread_mutex_lock(&f->lock);
	while (f->count < n && pthread_cond_timedwait(&f->cond, &f->lock, &ts) == 0)
		;
	int r = f->count;
	pthread_mutex_unlock(&f->lock);
	return r;
}

static void call_raise(void *opaque)
{
	flag_raise(opaque);
}

static void test_call_runs_on_loop(void **state)
{
	struct evloop *l = evloop_new();
	assert_non_null(l);
	struct flag f;
	flag_init(&f, l);
	assert_false(evloop_in_loop_thread(l));
	/* Queued before start: runs once the loop runs. */
	assert_int_equal(evloop_call(l, call_raise, &f), 0);
	assert_int_equal(evloop_start(l), 0);
	assert_int_equal(flag_wait(&f, 1, 2000), 1);
	assert_true(f.on_loop);
	assert_false(pthread_equal(f.thread, pthread_self()));
	for (int i = 0; i < 100; i++)
		assert_int_equal(evloop_call(l, call_raise, &f), 0);
	assert_int_equal(flag_wait(&f, 101, 2000), 101);
	/* Synchronous call: done when it returns. */
	assert_int_equal(evloop_call_sync(l, call_raise, &f), 0);
	assert_int_equal(f.count, 102);
	assert_true(f.on_loop);
	evloop_free(l);
}

static void pipe_cb(void *opaque, uint32_t events)
{
	struct flag *f = opaque;
	char b[64];
	if (events & EPOLLIN)
		while (read(f->fd, b, sizeof(b)) == sizeof(b))
			;
	flag_raise(f);
}

static void test_fd_callbacks(void **state)
{
	struct evloop *l = evloop_new();
	struct flag f;
	flag_init(&f, l);
	int p[2];
	assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	f.fd = p[0];
	assert_int_equal(evloop_add_fd(l, p[0], EPOLLIN, pipe_cb, &f), 0);
	assert_int_equal(evloop_add_fd(l, p[0], EPOLLIN, pipe_cb, &f), -EEXIST);
	assert_int_equal(evloop_start(l), 0);
	write_all(p[1], "x", 1);
	assert_true(flag_wait(&f, 1, 2000) >= 1);
	assert_true(f.on_loop);
	/* Disabled: no callbacks. */
	assert_int_equal(evloop_mod_fd(l, p[0], 0), 0);
	int before = flag_wait(&f, 0, 0);
	write_all(p[1], "y", 1);
	sleep_ms(50);
	assert_int_equal(flag_wait(&f, 0, 0), before);
	assert_int_equal(evloop_mod_fd(l, p[0], EPOLLIN), 0);
	assert_true(flag_wait(&f, before + 1, 2000) > before);
	/* Removed: no callbacks. */
	evloop_del_fd(l, p[0]);
	before = flag_wait(&f, 0, 0);
	write_all(p[1], "z", 1);
	sleep_ms(50);
	assert_int_equal(flag_wait(&f, 0, 0), before);
	assert_int_equal(evloop_mod_fd(l, p[0], EPOLLIN), -ENOENT);
	evloop_free(l);
	close(p[0]);
	close(p[1]);
}

static void call_stop(void *opaque)
{
	struct flag *f = opaque;
	evloop_stop(f->loop);   /* from the loop thread: must not self-join */
	flag_raise(f);
}

static void test_start_stop(void **state)
{
	struct evloop *l = evloop_new();
	struct flag f;
	flag_init(&f, l);
	evloop_stop(l);                      /* never started: no-op */
	assert_int_equal(evloop_start(l), 0);
	assert_int_equal(evloop_start(l), 0);  /* already running */
	evloop_stop(l);
	evloop_stop(l);                      /* twice */
	/* Not running: sync calls run inline. */
	assert_int_equal(evloop_call_sync(l, call_raise, &f), 0);
	assert_int_equal(f.count, 1);
	assert_false(f.on_loop);
	/* Queued while stopped, runs after restart. */
	assert_int_equal(evloop_call(l, call_raise, &f), 0);
	sleep_ms(20);
	assert_int_equal(f.count, 1);
	assert_int_equal(evloop_start(l), 0);
	assert_int_equal(flag_wait(&f, 2, 2000), 2);
	/* Stop from inside a callback. */
	assert_int_equal(evloop_call(l, call_stop, &f), 0);
	assert_int_equal(flag_wait(&f, 3, 2000), 3);
	evloop_stop(l);                      /* joins the exited thread */
	/* And again: restart after an in-loop stop, without an explicit join. */
	assert_int_equal(evloop_start(l), 0);
	assert_int_equal(evloop_call(l, call_stop, &f), 0);
	assert_int_equal(flag_wait(&f, 4, 2000), 4);
	assert_int_equal(evloop_start(l), 0);
	assert_int_equal(evloop_call_sync(l, call_raise, &f), 0);
	assert_int_equal(f.count, 5);
	assert_true(f.on_loop);
	evloop_free(l);                      /* stops a running loop */
}

static void on_sigusr1(int sig)
{
}

static void test_eintr(void **state)
{
	struct sigaction sa = { .sa_handler = on_sigusr1 }, old;
	sigemptyset(&sa.sa_mask);   /* no SA_RESTART: epoll_wait gets EINTR */
	sigaction(SIGUSR1, &sa, &old);
	struct evloop *l = evloop_new();
	struct flag f;
	flag_init(&f, l);
	assert_int_equal(evloop_start(l), 0);
	assert_int_equal(evloop_call_sync(l, call_raise, &f), 0);
	pthread_t t = f.thread;
	for (int i = 0; i < 5; i++) {
		pthread_kill(t, SIGUSR1);
		sleep_ms(5);
	}
	assert_int_equal(evloop_call_sync(l, call_raise, &f), 0);
	assert_int_equal(f.count, 2);
	evloop_free(l);
	sigaction(SIGUSR1, &old, NULL);
}

static void test_cancel(void **state)
{
	struct evloop *l = evloop_new();
	struct flag f, g;
	flag_init(&f, l);
	flag_init(&g, l);
	evloop_call(l, call_raise, &f);
	evloop_call(l, call_raise, &g);
	evloop_call(l, call_raise, &f);
	evloop_cancel(l, &f);
	evloop_start(l);
	assert_int_equal(evloop_call_sync(l, call_raise, &g), 0);
	assert_int_equal(g.count, 2);
	assert_int_equal(f.count, 0);
	evloop_free(l);
}

/* ---- escape filter ---- */

static void test_escape_filter(void **state)
{
	unsigned char out[64];
	unsigned act;
	bool pend = false;
	size_t n;

	n = chr_escape_filter(&pend, (const unsigned char *)"hello", 5, out, &act);
	assert_int_equal(n, 5);
	assert_memory_equal(out, "hello", 5);
	assert_int_equal(act, 0);

	/* C-a a and C-a C-a send a literal C-a; unknown escapes vanish. */
	n = chr_escape_filter(&pend, (const unsigned char *)"a\001ab\001\001c\001zd", 10, out, &act);
	assert_int_equal(n, 6);
	assert_memory_equal(out, "a\001b\001cd", 6);
	assert_int_equal(act, 0);
	assert_false(pend);

	/* Help. */
	n = chr_escape_filter(&pend, (const unsigned char *)"1\001h2", 4, out, &act);
	assert_int_equal(n, 2);
	assert_memory_equal(out, "12", 2);
	assert_int_equal(act, CHR_ESC_HELP);

	/* Quit stops filtering. */
	n = chr_escape_filter(&pend, (const unsigned char *)"ab\001xcd", 6, out, &act);
	assert_int_equal(n, 2);
	assert_memory_equal(out, "ab", 2);
	assert_int_equal(act, CHR_ESC_QUIT);

	/* An escape split across reads. */
	n = chr_escape_filter(&pend, (const unsigned char *)"q\001", 2, out, &act);
	assert_int_equal(n, 1);
	assert_true(pend);
	assert_int_equal(act, 0);
	n = chr_escape_filter(&pend, (const unsigned char *)"x", 1, out, &act);
	assert_int_equal(n, 0);
	assert_int_equal(act, CHR_ESC_QUIT);
	assert_false(pend);
	n = chr_escape_filter(&pend, (const unsigned char *)"\001", 1, out, &act);
	assert_int_equal(n, 0);
	n = chr_escape_filter(&pend, (const unsigned char *)"\001", 1, out, &act);
	assert_int_equal(n, 1);
	assert_int_equal(out[0], 1);
	assert_non_null(strstr(chr_escape_help, "C-a x    exit tern\r\n"));
}

/* ---- chr: specs and errors ---- */

static void test_bad_specs(void **state)
{
	struct evloop *l = evloop_new();
	char err[256];
	assert_null(chr_open("foo", l, err, sizeof(err)));
	assert_string_equal(err, "unknown console backend 'foo' (use stdio, pty, unix:PATH or file:PATH)");
	assert_null(chr_open("stdiox", l, err, sizeof(err)));
	assert_non_null(strstr(err, "unknown console backend 'stdiox'"));
	assert_null(chr_open("", l, err, sizeof(err)));
	assert_non_null(strstr(err, "unknown console backend"));
	assert_null(chr_open("unix:", l, err, sizeof(err)));
	assert_non_null(strstr(err, "needs a path"));
	assert_null(chr_open("file:", l, err, sizeof(err)));
	assert_non_null(strstr(err, "needs a path"));
	assert_null(chr_open("file:/nonexistent-tern/x/y", l, err, sizeof(err)));
	assert_string_equal(err, "cannot open console file /nonexistent-tern/x/y: No such file or directory");
	assert_null(chr_open("unix:/nonexistent-tern/x/sock", l, err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent-tern/x/sock: No such file or directory"));
	char longp[200];
	memset(longp, 'a', sizeof(longp));
	memcpy(longp, "unix:/", 6);
	longp[sizeof(longp) - 1] = 0;
	assert_null(chr_open(longp, l, err, sizeof(err)));
	assert_non_null(strstr(err, "too long"));
	/* A tiny err buffer is fine too. */
	assert_null(chr_open("foo", l, err, 4));
	assert_string_equal(err, "unk");
	assert_null(chr_open("foo", l, NULL, 0));
	evloop_free(l);
}

static void test_unix_refuses_regular_file(void **state)
{
	struct tmp t;
	tmp_make(&t, "notasocket");
	int fd = open(t.path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	write_all(fd, "keep", 4);
	close(fd);
	struct evloop *l = evloop_new();
	char spec[160], err[256];
	snprintf(spec, sizeof(spec), "unix:%s", t.path);
	assert_null(chr_open(spec, l, err, sizeof(err)));
	assert_non_null(strstr(err, t.path));
	assert_non_null(strstr(err, "not a socket"));
	struct stat st;
	assert_int_equal(stat(t.path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 4);
	evloop_free(l);
	tmp_clean(&t);
}

static void test_file_backend(void **state)
{
	struct tmp t;
	tmp_make(&t, "console.log");
	int fd = open(t.path, O_WRONLY | O_CREAT, 0644);
	write_all(fd, "old contents that must go", 25);
	close(fd);
	struct evloop *l = evloop_new();
	evloop_start(l);
	char spec[160], err[256];
	snprintf(spec, sizeof(spec), "file:%s", t.path);
	struct chr *c = chr_open(spec, l, err, sizeof(err));
	assert_non_null(c);
	struct sink s;
	sink_init(&s, l);
	chr_set_handlers(c, sink_recv, sink_quit, &s);
	assert_int_equal(chr_start(c), 0);
	assert_null(chr_describe(c));
	chr_write(c, (const unsigned char *)"hello ", 6);
	chr_write(c, (const unsigned char *)"world\r\n", 7);
	chr_accept_input(c);     /* harmless without input */
	chr_close(c);
	char buf[64] = { 0 };
	fd = open(t.path, O_RDONLY);
	assert_int_equal(read(fd, buf, sizeof(buf)), 13);
	close(fd);
	assert_string_equal(buf, "hello world\r\n");
	evloop_free(l);
	tmp_clean(&t);
}

/* ---- chr: unix ---- */

static void test_unix_backend(void **state)
{
	struct tmp t;
	tmp_make(&t, "console.sock");
	struct evloop *l = evloop_new();
	assert_int_equal(evloop_start(l), 0);
	char spec[160], err[256];
	snprintf(spec, sizeof(spec), "unix:%s", t.path);
	struct chr *c = chr_open(spec, l, err, sizeof(err));
	assert_non_null(c);
	struct sink s;
	sink_init(&s, l);
	chr_set_handlers(c, sink_recv, sink_quit, &s);
	assert_int_equal(chr_start(c), 0);

	/* Nobody connected: output is dropped, not blocking. */
	chr_write(c, (const unsigned char *)"lost", 4);

	int cl = unix_connect(t.path);
	assert_true(cl >= 0);
	write_all(cl, "abc", 3);
	assert_int_equal(sink_wait(&s, 3, 2000), 3);
	assert_memory_equal(s.buf, "abc", 3);
	assert_true(s.on_loop);

	unsigned char buf[64];
	chr_write(c, (const unsigned char *)"out!", 4);
	assert_int_equal(read_until(cl, buf, 4, 2000), 4);
	assert_memory_equal(buf, "out!", 4);

	/* A second client waits in the backlog while the first is there. */
	int cl2 = unix_connect(t.path);
	assert_true(cl2 >= 0);
	write_all(cl2, "zz", 2);
	sleep_ms(50);
	assert_int_equal(sink_wait(&s, 3, 0), 3);

	/* First client leaves: the second is accepted. */
	close(cl);
	assert_int_equal(sink_wait(&s, 5, 2000), 5);
	assert_memory_equal(s.buf + 3, "zz", 2);
	chr_write(c, (const unsigned char *)"two", 3);
	assert_int_equal(read_until(cl2, buf, 3, 2000), 3);
	assert_memory_equal(buf, "two", 3);
	close(cl2);

	/* And after that, a fresh client works again. */
	int cl3 = -1;
	for (int i = 0; i < 100 && cl3 < 0; i++)
		cl3 = unix_connect(t.path);
	assert_true(cl3 >= 0);
	write_all(cl3, "3", 1);
	assert_int_equal(sink_wait(&s, 6, 2000), 6);
	close(cl3);

	chr_close(c);
	struct stat st;
	assert_int_equal(stat(t.path, &st), -1);   /* unlinked */
	assert_int_equal(s.quits, 0);
	evloop_free(l);
	tmp_clean(&t);
}

static void test_unix_flow_control(void **state)
{
	struct tmp t;
	tmp_make(&t, "fc.sock");
	struct evloop *l = evloop_new();
	assert_int_equal(evloop_start(l), 0);
	char spec[160], err[256];
	snprintf(spec, sizeof(spec), "unix:%s", t.path);
	struct chr *c = chr_open(spec, l, err, sizeof(err));
	assert_non_null(c);
	struct sink s;
	sink_init(&s, l);
	s.limit = 4;
	chr_set_handlers(c, sink_recv, sink_quit, &s);
	assert_int_equal(chr_start(c), 0);
	int cl = unix_connect(t.path);
	assert_true(cl >= 0);

	write_all(cl, "0123456789", 10);
	assert_int_equal(sink_wait(&s, 4, 2000), 4);
	sleep_ms(50);
	/* Took 4, the rest is held back until the frontend has room. */
	assert_int_equal(sink_wait(&s, 0, 0), 4);
	assert_int_equal(s.calls, 1);
	/* More input meanwhile is not read either. */
	write_all(cl, "ABCDEF", 6);
	sleep_ms(50);
	assert_int_equal(sink_wait(&s, 0, 0), 4);

	chr_accept_input(c);
	assert_int_equal(sink_wait(&s, 8, 2000), 8);
	sleep_ms(20);
	assert_int_equal(sink_wait(&s, 0, 0), 8);
	/* Buffer drained: reading resumes by itself ("ABCD" gets taken). */
	pthread_mutex_lock(&s.lock);
	s.limit = 0;
	pthread_mutex_unlock(&s.lock);
	chr_accept_input(c);
	assert_int_equal(sink_wait(&s, 16, 2000), 16);
	assert_memory_equal(s.buf, "0123456789ABCDEF", 16);

	/* Many accept_input calls from another thread are harmless. */
	for (int i = 0; i < 1000; i++)
		chr_accept_input(c);
	write_all(cl, "!", 1);
	assert_int_equal(sink_wait(&s, 17, 2000), 17);

	/* Close while paused with a kick pending. */
	pthread_mutex_lock(&s.lock);
	s.limit = 1;
	pthread_mutex_unlock(&s.lock);
	write_all(cl, "xyz", 3);
	assert_int_equal(sink_wait(&s, 18, 2000), 18);
	chr_accept_input(c);
	chr_close(c);
	close(cl);
	evloop_free(l);
	tmp_clean(&t);
}

static void test_unix_stale_socket(void **state)
{
	struct tmp t;
	tmp_make(&t, "stale.sock");
	/* Leave a socket file behind, as a crashed run would. */
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, t.path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	struct evloop *l = evloop_new();
	char spec[160], err[256];
	snprintf(spec, sizeof(spec), "unix:%s", t.path);
	struct chr *c = chr_open(spec, l, err, sizeof(err));
	assert_non_null(c);
	chr_close(c);   /* never started, loop never run: still fine */
	evloop_free(l);
	tmp_clean(&t);
}

/* A slow client costs one short wait, then output is dropped. */
static void test_unix_slow_client(void **state)
{
	struct tmp t;
	tmp_make(&t, "slow.sock");
	struct evloop *l = evloop_new();
	evloop_start(l);
	char spec[160], err[256];
	snprintf(spec, sizeof(spec), "unix:%s", t.path);
	struct chr *c = chr_open(spec, l, err, sizeof(err));
	struct sink s;
	sink_init(&s, l);
	chr_set_handlers(c, sink_recv, sink_quit, &s);
	chr_start(c);
	int cl = unix_connect(t.path);
	write_all(cl, "h", 1);
	assert_int_equal(sink_wait(&s, 1, 2000), 1);   /* accepted */
	static unsigned char big[1 << 16];
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < 200; i++)
		chr_write(c, big, sizeof(big));
	clock_gettime(CLOCK_MONOTONIC, &b);
	double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	assert_true(secs < 2.0);
	chr_close(c);
	close(cl);
	evloop_free(l);
	tmp_clean(&t);
}

/* ---- chr: pty ---- */

static void test_pty_backend(void **state)
{
	struct evloop *l = evloop_new();
	evloop_start(l);
	char err[256];
	struct chr *c = chr_open("pty", l, err, sizeof(err));
	assert_non_null(c);
	struct sink s;
	sink_init(&s, l);
	chr_set_handlers(c, sink_recv, sink_quit, &s);
	assert_int_equal(chr_start(c), 0);
	const char *name = chr_describe(c);
	assert_non_null(name);
	assert_memory_equal(name, "/dev/pts/", 9);

	/* Nobody attached: writes never block. */
	static unsigned char big[1 << 16];
	memset(big, 'q', sizeof(big));
	for (int i = 0; i < 32; i++)
		chr_write(c, big, sizeof(big));

	int sl = open(name, O_RDWR | O_NOCTTY);
	assert_true(sl >= 0);
	struct termios tio;
	assert_int_equal(tcgetattr(sl, &tio), 0);
	assert_int_equal(tio.c_lflag & (ECHO | ICANON), 0);   /* raw */
	tcflush(sl, TCIFLUSH);   /* drop what piled up unread */
	write_all(sl, "in\r\x03", 4);
	assert_int_equal(sink_wait(&s, 4, 2000), 4);
	assert_memory_equal(s.buf, "in\r\x03", 4);   /* raw: no translation, no signal */
	chr_write(c, (const unsigned char *)"out\n", 4);
	unsigned char buf[8];
	assert_int_equal(read_until(sl, buf, 4, 2000), 4);
	assert_memory_equal(buf, "out\n", 4);
	close(sl);
	/* Detached again: the loop must not spin or fail; reattach works. */
	sleep_ms(20);
	sl = open(name, O_RDWR | O_NOCTTY);
	assert_true(sl >= 0);
	write_all(sl, "2", 1);
	assert_int_equal(sink_wait(&s, 5, 2000), 5);
	close(sl);
	chr_close(c);
	evloop_free(l);
}

/* ---- chr: stdio (fd 0/1 swapped for a pty or pipe during the test) ---- */

struct saved_stdio {
	int in, out;
};

static void stdio_swap(struct saved_stdio *sv, int in, int out)
{
	fflush(stdout);
	sv->in = dup(0);
	sv->out = dup(1);
	dup2(in, 0);
	dup2(out, 1);
}

static void stdio_restore(struct saved_stdio *sv)
{
	dup2(sv->in, 0);
	dup2(sv->out, 1);
	close(sv->in);
	close(sv->out);
}

static void test_stdio_tty_escapes(void **state)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	assert_true(m >= 0);
	assert_int_equal(grantpt(m), 0);
	assert_int_equal(unlockpt(m), 0);
	int sl = open(ptsname(m), O_RDWR | O_NOCTTY);
	assert_true(sl >= 0);
	struct termios orig;
	tcgetattr(sl, &orig);
	assert_true(orig.c_lflag & ICANON);
	int out[2];
	assert_int_equal(pipe(out), 0);

	struct saved_stdio sv;
	stdio_swap(&sv, sl, out[1]);
	struct evloop *l = evloop_new();
	evloop_start(l);
	char err[256];
	struct chr *c = chr_open("stdio", l, err, sizeof(err));
	struct sink s;
	sink_init(&s, l);
	chr_set_handlers(c, sink_recv, sink_quit, &s);
	int started = c ? chr_start(c) : -1;
	struct termios raw;
	tcgetattr(0, &raw);

	write_all(m, "ab\001a\001\001\001zc\001h", 11);
	size_t got = sink_wait(&s, 5, 2000);
	unsigned char help[256];
	size_t hn = read_until(out[0], help, strlen(chr_escape_help), 2000);
	chr_write(c, (const unsigned char *)"guest\r\n", 7);
	unsigned char gout[8];
	size_t gn = read_until(out[0], gout, 7, 2000);
	write_all(m, "d\001xe", 4);
	int quits = sink_wait_quit(&s, 2000);
	sleep_ms(20);
	size_t got2 = sink_wait(&s, 0, 0);
	chr_close(c);
	struct termios after;
	tcgetattr(0, &after);
	evloop_free(l);
	stdio_restore(&sv);

	assert_non_null(c);
	assert_int_equal(started, 0);
	assert_int_equal(raw.c_lflag & (ICANON | ECHO | ISIG), 0);
	assert_int_equal(got, 5);
	assert_memory_equal(s.buf, "ab\001\001c", 5);
	assert_int_equal(hn, strlen(chr_escape_help));
	assert_memory_equal(help, chr_escape_help, hn);
	assert_int_equal(gn, 7);
	assert_memory_equal(gout, "guest\r\n", 7);
	assert_int_equal(quits, 1);
	assert_int_equal(got2, 6);
	assert_int_equal(s.buf[5], 'd');
	/* termios restored. */
	assert_int_equal(after.c_lflag, orig.c_lflag);
	assert_int_equal(after.c_iflag, orig.c_iflag);
	assert_int_equal(after.c_oflag, orig.c_oflag);
	close(m);
	close(sl);
	close(out[0]);
	close(out[1]);
}

static void test_stdio_pipe_passthrough(void **state)
{
	int in[2], out[2];
	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	struct saved_stdio sv;
	stdio_swap(&sv, in[0], out[1]);
	struct evloop *l = evloop_new();
	evloop_start(l);
	char err[256];
	struct chr *c = chr_open("stdio", l, err, sizeof(err));
	struct sink s;
	sink_init(&s, l);
	chr_set_handlers(c, sink_recv, sink_quit, &s);
	int started = c ? chr_start(c) : -1;
	write_all(in[1], "x\001xy", 4);
	size_t got = sink_wait(&s, 4, 2000);
	close(in[1]);          /* EOF: stop reading, no quit */
	sleep_ms(50);
	int quits = sink_wait_quit(&s, 0);
	chr_write(c, (const unsigned char *)"still", 5);
	unsigned char buf[8];
	size_t on = read_until(out[0], buf, 5, 2000);
	chr_close(c);
	evloop_free(l);
	stdio_restore(&sv);
	assert_non_null(c);
	assert_int_equal(started, 0);
	assert_int_equal(got, 4);
	assert_memory_equal(s.buf, "x\001xy", 4);
	assert_int_equal(quits, 0);
	assert_int_equal(on, 5);
	assert_memory_equal(buf, "still", 5);
	close(in[0]);
	close(out[0]);
	close(out[1]);
}

/* stdin from a regular file (epoll refuses it) and from /dev/null. */
static void test_stdio_regular_file(void **state)
{
	struct tmp t;
	tmp_make(&t, "input.txt");
	int fd = open(t.path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	static unsigned char data[10000];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 7);
	write_all(fd, data, sizeof(data));
	lseek(fd, 0, SEEK_SET);
	int nul = open("/dev/null", O_RDWR);
	int out[2];
	assert_int_equal(pipe(out), 0);

	struct saved_stdio sv;
	stdio_swap(&sv, fd, out[1]);
	struct evloop *l = evloop_new();
	evloop_start(l);
	char err[256];
	struct chr *c = chr_open("stdio", l, err, sizeof(err));
	struct sink s;
	sink_init(&s, l);
	s.limit = 1000;     /* exercises pause/resume on the no-epoll path */
	chr_set_handlers(c, sink_recv, sink_quit, &s);
	int started = c ? chr_start(c) : -1;
	size_t got = 0;
	for (int i = 0; i < 200 && got < sizeof(data); i++) {
		got = sink_wait(&s, got + 1, 2000);
		chr_accept_input(c);
	}
	chr_close(c);

	dup2(nul, 0);
	struct sink s2;
	sink_init(&s2, l);
	c = chr_open("stdio", l, err, sizeof(err));
	chr_set_handlers(c, sink_recv, sink_quit, &s2);
	int started2 = chr_start(c);
	sleep_ms(30);
	chr_close(c);
	evloop_free(l);
	stdio_restore(&sv);

	assert_int_equal(started, 0);
	assert_int_equal(started2, 0);
	assert_int_equal(got, sizeof(data));
	assert_memory_equal(s.buf, data, sizeof(data));
	assert_int_equal(s2.len, 0);
	assert_int_equal(s2.quits, 0);
	close(fd);
	close(nul);
	close(out[0]);
	close(out[1]);
	tmp_clean(&t);
}

/* chr_close from the quit handler on the loop thread. */
struct quit_close {
	struct chr *c;
	struct flag f;
};

static size_t qc_recv(void *opaque, const unsigned char *buf, size_t len)
{
	return len;
}

static void qc_quit(void *opaque)
{
	struct quit_close *q = opaque;
	chr_close(q->c);
	q->c = NULL;
	flag_raise(&q->f);
}

static void test_close_from_quit(void **state)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	grantpt(m);
	unlockpt(m);
	int sl = open(ptsname(m), O_RDWR | O_NOCTTY);
	int out[2];
	assert_int_equal(pipe(out), 0);
	struct saved_stdio sv;
	stdio_swap(&sv, sl, out[1]);
	struct evloop *l = evloop_new();
	evloop_start(l);
	struct quit_close q;
	flag_init(&q.f, l);
	char err[256];
	q.c = chr_open("stdio", l, err, sizeof(err));
	chr_set_handlers(q.c, qc_recv, qc_quit, &q);
	chr_start(q.c);
	write_all(m, "\001x", 2);
	int n = flag_wait(&q.f, 1, 2000);
	evloop_free(l);
	stdio_restore(&sv);
	assert_int_equal(n, 1);
	assert_null(q.c);
	close(m);
	close(sl);
	close(out[0]);
	close(out[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_call_runs_on_loop),
		cmocka_unit_test(test_fd_callbacks),
		cmocka_unit_test(test_start_stop),
		cmocka_unit_test(test_eintr),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_escape_filter),
		cmocka_unit_test(test_bad_specs),
		cmocka_unit_test(test_unix_refuses_regular_file),
		cmocka_unit_test(test_file_backend),
		cmocka_unit_test(test_unix_backend),
		cmocka_unit_test(test_unix_flow_control),
		cmocka_unit_test(test_unix_stale_socket),
		cmocka_unit_test(test_unix_slow_client),
		cmocka_unit_test(test_pty_backend),
		cmocka_unit_test(test_stdio_tty_escapes),
		cmocka_unit_test(test_stdio_pipe_passthrough),
		cmocka_unit_test(test_stdio_regular_file),
		cmocka_unit_test(test_close_from_quit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
