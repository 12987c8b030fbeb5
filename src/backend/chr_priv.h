/* Private to the chr backends: struct chr, the per-backend ops table and the
 * shared input path (buffering, flow control, Ctrl-A escapes). */
#ifndef TERN_CHR_PRIV_H
#define TERN_CHR_PRIV_H
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#include "backend/chr.h"

#define CHR_INBUF 4096

struct chr_ops {
	const char *name;
	/* Begin watching fds (any thread; loop may already run). */
	int (*start)(struct chr *c);
	/* Output; may run on any thread. */
	void (*write)(struct chr *c, const unsigned char *buf, size_t len);
	/* EOF or error on the input fd (loop thread). Default: stop reading. */
	void (*input_closed)(struct chr *c);
	/* Stop watching backend-private fds (loop thread, or loop stopped). */
	void (*stop)(struct chr *c);
	/* Close fds, restore state; after stop, no callbacks pending. */
	void (*destroy)(struct chr *c);
};

struct chr {
	const struct chr_ops *ops;
	struct evloop *loop;
	chr_recv_fn recv;
	chr_quit_fn quit;
	void *opaque;
	bool started;

	/* Input side, owned by the loop thread. */
	int in_fd;              /* current input fd, -1 if none */
	bool in_watched;        /* in_fd is registered with the loop */
	bool in_nopoll;         /* epoll refuses in_fd (regular file): poll by calls */
	bool in_eof;
	bool nopoll_queued;     /* in_nopoll: a read call is queued */
	unsigned char inbuf[CHR_INBUF];
	size_t in_off, in_len;  /* undelivered bytes: inbuf[in_off, in_len) */
	atomic_bool paused;     /* the frontend has not taken everything */
	atomic_bool kick_queued;

	/* Ctrl-A escapes (stdio on a terminal). */
	bool escapes;
	bool esc_pending;

	/* Output side: lock guards out_fd changes and serialises writes. */
	pthread_mutex_t lock;
	int out_fd;

	/* ",log=FILE" on any backend: a copy of all output (cluster consoles). */
	int log_fd;

	/* Backend specifics. */
	int listen_fd;          /* unix */
	bool congested;         /* unix: last write timed out; drop until it drains */
	char *path;             /* unix socket path / file path */
	int pty_slave;          /* pty: kept open so the master never sees HUP */
	char pty_name[PATH_MAX];
	bool termios_saved;     /* stdio */
	struct termios saved_termios;
};

int chr_stdio_open(struct chr *c, const char *arg, char *err, size_t errlen);
int chr_pty_open(struct chr *c, const char *arg, char *err, size_t errlen);
int chr_unix_open(struct chr *c, const char *arg, char *err, size_t errlen);
int chr_file_open(struct chr *c, const char *arg, char *err, size_t errlen);

/* Shared helpers (chr.c). */
/* Make fd the input source and start reading it (loop thread or not yet
 * started). Registers with the loop unless paused. */
int chr_input_attach(struct chr *c, int fd);
/* Stop reading the input fd (does not close it); returns the old fd. */
int chr_input_detach(struct chr *c);
/* Write all of buf to fd, waiting up to wait_ms in total when it would block
 * (0: drop the rest on EAGAIN, <0: wait as long as it takes). sock: use
 * send(MSG_NOSIGNAL). Returns 0, -EAGAIN if bytes were dropped, or -errno. */
int chr_write_fd(int fd, const unsigned char *buf, size_t len, int wait_ms, bool sock);

/* The Ctrl-A escape filter, a pure function. Copies in[] to out[] (room for
 * len bytes) minus escapes; *pending carries a trailing Ctrl-A between calls.
 * Sets CHR_ESC_HELP/CHR_ESC_QUIT in *actions; stops at Ctrl-A x.
 * Returns the number of bytes written to out. */
#define CHR_ESC_CHAR 0x01
#define CHR_ESC_HELP 1u
#define CHR_ESC_QUIT 2u
size_t chr_escape_filter(bool *pending, const unsigned char *in, size_t len,
                         unsigned char *out, unsigned *actions);
extern const char chr_escape_help[];
#endif
