/* The I/O thread: an epoll loop that serves backends (console, later disk,
 * network, control socket, migration). Callbacks run on the loop thread. */
#ifndef TERN_EVLOOP_H
#define TERN_EVLOOP_H
#include <stdbool.h>
#include <stdint.h>

struct evloop;
typedef void (*evloop_fd_cb)(void *opaque, uint32_t events);

struct evloop *evloop_new(void);
void evloop_free(struct evloop *l);
/* events are EPOLLIN/EPOLLOUT/... Returns 0 or -errno. */
int evloop_add_fd(struct evloop *l, int fd, uint32_t events, evloop_fd_cb cb, void *opaque);
int evloop_mod_fd(struct evloop *l, int fd, uint32_t events);
void evloop_del_fd(struct evloop *l, int fd);
/* Run fn(opaque) on the loop thread soon (thread-safe). */
int evloop_call(struct evloop *l, void (*fn)(void *), void *opaque);
/* Run fn(opaque) on the loop thread and wait for it. Runs it directly when
 * called on the loop thread or when the loop is not running. */
int evloop_call_sync(struct evloop *l, void (*fn)(void *), void *opaque);
/* Drop queued (not yet started) evloop_call()s whose opaque matches. */
void evloop_cancel(struct evloop *l, void *opaque);
/* True when called from inside a callback on the loop thread. */
bool evloop_in_loop_thread(struct evloop *l);
/* Start/stop the loop on its own thread. */
int evloop_start(struct evloop *l);
void evloop_stop(struct evloop *l);
#endif
