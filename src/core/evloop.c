/* The I/O thread: one epoll loop per VM. fds map to callbacks through a table
 * indexed by fd; cross-thread work arrives as queued calls plus an eventfd. */
#include "core/evloop.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* epoll_data for the wakeup eventfd; fd entries use (gen << 32 | fd). */
#define WAKE_TAG UINT64_MAX

struct fdent {
	evloop_fd_cb cb;
	void *opaque;
	uint32_t gen;   /* 0 = free; lets stale events of a reused fd be dropped */
};

struct call {
	struct call *next;
	void (*fn)(void *);
	void *opaque;
	bool *done;     /* evloop_call_sync waits on this */
};

struct evloop {
	int epfd, wakefd;
	pthread_mutex_t lock;
	pthread_cond_t sync_cond;   /* signalled when a synchronous call finishes */
	struct fdent *fds;
	int nfds;
	uint32_t gen;
	struct call *calls, **calls_tail;   /* queued by evloop_call */
	struct call *cur;                   /* taken by the loop, being run */
	pthread_t thread;
	bool have_thread;   /* thread created and not yet joined */
	bool joining;       /* some thread is in pthread_join on it */
	bool active;        /* loop thread will still run queued calls */
	bool stop_req;
};

struct evloop *evloop_new(void)
{
	struct evloop *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->epfd < 0 || l->wakefd < 0)
		goto fail;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = WAKE_TAG };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &ev) < 0)
		goto fail;
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->sync_cond, NULL);
	l->calls_tail = &l->calls;
	return l;
fail:
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->wakefd >= 0)
		close(l->wakefd);
	free(l);
	return NULL;
}

static void free_calls(struct call *c)
{
	while (c) {
		struct call *n = c->next;
		free(c);
		c = n;
	}
}

void evloop_free(struct evloop *l)
{
	if (!l)
		return;
	evloop_stop(l);
	free_calls(l->calls);
	free_calls(l->cur);
	close(l->epfd);
	close(l->wakefd);
	pthread_mutex_destroy(&l->lock);
	pthread_cond_destroy(&l->sync_cond);
	free(l->fds);
	free(l);
}

static void wake(struct evloop *l)
{
	uint64_t one = 1;
	/* EAGAIN means the counter is already non-zero: the loop will wake. */
	while (write(l->wakefd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

int evloop_add_fd(struct evloop *l, int fd, uint32_t events, evloop_fd_cb cb, void *opaque)
{
	if (fd < 0 || !cb)
		return -EINVAL;
	int ret = 0;
	pthread_mutex_lock(&l->lock);
	if (fd >= l->nfds) {
		int n = l->nfds ? l->nfds : 16;
		while (n <= fd)
			n *= 2;
		struct fdent *t = realloc(l->fds, (size_t)n * sizeof(*t));
		if (!t) {
			ret = -ENOMEM;
			goto out;
		}
		memset(t + l->nfds, 0, (size_t)(n - l->nfds) * sizeof(*t));
		l->fds = t;
		l->nfds = n;
	}
	if (l->fds[fd].gen) {
		ret = -EEXIST;
		goto out;
	}
	if (++l->gen == 0)
		l->gen = 1;
	struct epoll_event ev = {
		.events = events,
		.data.u64 = (uint64_t)l->gen << 32 | (uint32_t)fd,
	};
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		ret = -errno;
		goto out;
	}
	l->fds[fd] = (struct fdent){ .cb = cb, .opaque = opaque, .gen = l->gen };
out:
	pthread_mutex_unlock(&l->lock);
	return ret;
}

int evloop_mod_fd(struct evloop *l, int fd, uint32_t events)
{
	int ret = 0;
	pthread_mutex_lock(&l->lock);
	if (fd < 0 || fd >= l->nfds || !l->fds[fd].gen) {
		ret = -ENOENT;
	} else {
		struct epoll_event ev = {
			.events = events,
			.data.u64 = (uint64_t)l->fds[fd].gen << 32 | (uint32_t)fd,
		};
		if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
			ret = -errno;
	}
	pthread_mutex_unlock(&l->lock);
	return ret;
}

void evloop_del_fd(struct evloop *l, int fd)
{
	pthread_mutex_lock(&l->lock);
	if (fd >= 0 && fd < l->nfds && l->fds[fd].gen) {
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
		l->fds[fd] = (struct fdent){ 0 };
	}
	pthread_mutex_unlock(&l->lock);
}

static int queue_call(struct evloop *l, void (*fn)(void *), void *opaque, bool *done)
{
	struct call *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fn = fn;
	c->opaque = opaque;
	c->done = done;
	*l->calls_tail = c;
	l->calls_tail = &c->next;
	return 0;
}

int evloop_call(struct evloop *l, void (*fn)(void *), void *opaque)
{
	if (!fn)
		return -EINVAL;
	pthread_mutex_lock(&l->lock);
	int ret = queue_call(l, fn, opaque, NULL);
	pthread_mutex_unlock(&l->lock);
	if (ret == 0)
		wake(l);
	return ret;
}

bool evloop_in_loop_thread(struct evloop *l)
{
	pthread_mutex_lock(&l->lock);
	bool r = l->have_thread && pthread_equal(l->thread, pthread_self());
	pthread_mutex_unlock(&l->lock);
	return r;
}

int evloop_call_sync(struct evloop *l, void (*fn)(void *), void *opaque)
{
	if (!fn)
		return -EINVAL;
	pthread_mutex_lock(&l->lock);
	bool on_loop = l->have_thread && pthread_equal(l->thread, pthread_self());
	if (on_loop || !l->active) {
		/* Nobody else runs callbacks right now: run it here. */
		pthread_mutex_unlock(&l->lock);
		fn(opaque);
		return 0;
	}
	bool done = false;
	int ret = queue_call(l, fn, opaque, &done);
	if (ret == 0) {
		wake(l);
		while (!done)
			pthread_cond_wait(&l->sync_cond, &l->lock);
	}
	pthread_mutex_unlock(&l->lock);
	return ret;
}

static void fix_tail(struct evloop *l)
{
	l->calls_tail = &l->calls;
	while (*l->calls_tail)
		l->calls_tail = &(*l->calls_tail)->next;
}

static void cancel_in(struct call **pp, void *opaque)
{
	while (*pp) {
		struct call *c = *pp;
		if (c->opaque == opaque && !c->done) {
			*pp = c->next;
			free(c);
		} else {
			pp = &c->next;
		}
	}
}

void evloop_cancel(struct evloop *l, void *opaque)
{
	pthread_mutex_lock(&l->lock);
	cancel_in(&l->calls, opaque);
	cancel_in(&l->cur, opaque);
	fix_tail(l);
	pthread_mutex_unlock(&l->lock);
}

/* Runs the calls queued so far, one at a time, so evloop_cancel can still
 * remove those not yet started. Calls queued meanwhile wait for the next
 * wakeup, which keeps a self-requeueing call from starving the fds. */
static void run_calls(struct evloop *l)
{
	pthread_mutex_lock(&l->lock);
	struct call **tail = &l->cur;
	while (*tail)
		tail = &(*tail)->next;
	*tail = l->calls;
	l->calls = NULL;
	l->calls_tail = &l->calls;
	for (;;) {
		struct call *c = l->cur;
		if (!c)
			break;
		l->cur = c->next;
		pthread_mutex_unlock(&l->lock);
		c->fn(c->opaque);
		pthread_mutex_lock(&l->lock);
		if (c->done) {
			*c->done = true;
			pthread_cond_broadcast(&l->sync_cond);
		}
		free(c);
	}
	pthread_mutex_unlock(&l->lock);
}

static void dispatch(struct evloop *l, uint64_t data, uint32_t events)
{
	int fd = (int)(uint32_t)data;
	uint32_t gen = (uint32_t)(data >> 32);
	pthread_mutex_lock(&l->lock);
	if (fd >= l->nfds || l->fds[fd].gen != gen) {
		/* Removed (or removed and reused) earlier in this batch. */
		pthread_mutex_unlock(&l->lock);
		return;
	}
	evloop_fd_cb cb = l->fds[fd].cb;
	void *opaque = l->fds[fd].opaque;
	pthread_mutex_unlock(&l->lock);
	cb(opaque, events);
}

static bool stop_requested(struct evloop *l)
{
	pthread_mutex_lock(&l->lock);
	bool s = l->stop_req;
	pthread_mutex_unlock(&l->lock);
	return s;
}

/* Unlinks the first queued synchronous call; lock held. */
static struct call *take_sync_call(struct evloop *l)
{
	struct call **lists[2] = { &l->cur, &l->calls };
	for (int i = 0; i < 2; i++) {
		for (struct call **pp = lists[i]; *pp; pp = &(*pp)->next) {
			struct call *c = *pp;
			if (c->done) {
				*pp = c->next;
				fix_tail(l);
				return c;
			}
		}
	}
	return NULL;
}

static void *loop_main(void *arg)
{
	struct evloop *l = arg;
	struct epoll_event evs[32];
	while (!stop_requested(l)) {
		int n = epoll_wait(l->epfd, evs, 32, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;  /* EBADF/EINVAL: the loop is unusable */
		}
		for (int i = 0; i < n && !stop_requested(l); i++) {
			if (evs[i].data.u64 == WAKE_TAG) {
				uint64_t v;
				while (read(l->wakefd, &v, sizeof(v)) < 0 && errno == EINTR)
					;
				run_calls(l);
			} else {
				dispatch(l, evs[i].data.u64, evs[i].events);
			}
		}
	}
	/* Finish synchronous callers that queued before we stopped; plain
	 * calls stay queued for a later evloop_start. */
	pthread_mutex_lock(&l->lock);
	l->active = false;
	struct call *c;
	while ((c = take_sync_call(l))) {
		pthread_mutex_unlock(&l->lock);
		c->fn(c->opaque);
		pthread_mutex_lock(&l->lock);
		*c->done = true;
		pthread_cond_broadcast(&l->sync_cond);
		free(c);
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

int evloop_start(struct evloop *l)
{
	pthread_mutex_lock(&l->lock);
	if (l->have_thread) {
		bool self = pthread_equal(l->thread, pthread_self());
		if (!l->stop_req || self) {
			pthread_mutex_unlock(&l->lock);
			return l->stop_req ? -EBUSY : 0;
		}
		/* Stopped from inside a callback and never joined: reap it. */
		pthread_mutex_unlock(&l->lock);
		evloop_stop(l);
		pthread_mutex_lock(&l->lock);
		if (l->have_thread) {   /* someone else restarted it meanwhile */
			pthread_mutex_unlock(&l->lock);
			return 0;
		}
	}
	l->stop_req = false;
	l->active = true;
	int ret = -pthread_create(&l->thread, NULL, loop_main, l);
	if (ret == 0)
		l->have_thread = true;
	else
		l->active = false;
	bool pending = l->calls != NULL;
	pthread_mutex_unlock(&l->lock);
	if (pending)
		wake(l);
	return ret;
}

void evloop_stop(struct evloop *l)
{
	pthread_mutex_lock(&l->lock);
	if (!l->have_thread) {
		pthread_mutex_unlock(&l->lock);
		return;
	}
	l->stop_req = true;
	if (pthread_equal(l->thread, pthread_self())) {
		/* Called from a callback: the loop exits when it returns; a later
		 * evloop_stop/start/free from another thread joins it. */
		pthread_mutex_unlock(&l->lock);
		return;
	}
	if (l->joining) {
		/* Another thread is joining; wait for it to finish. */
		while (l->have_thread)
			pthread_cond_wait(&l->sync_cond, &l->lock);
		pthread_mutex_unlock(&l->lock);
		return;
	}
	l->joining = true;
	pthread_t t = l->thread;
	pthread_mutex_unlock(&l->lock);
	wake(l);
	pthread_join(t, NULL);
	pthread_mutex_lock(&l->lock);
	l->have_thread = false;
	l->joining = false;
	pthread_cond_broadcast(&l->sync_cond);
	pthread_mutex_unlock(&l->lock);
}
