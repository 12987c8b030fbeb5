/* Character backends for consoles: stdio (raw mode, Ctrl-A escapes), pty,
 * unix:PATH (listening socket), file:PATH (output only). */
#ifndef TERN_CHR_H
#define TERN_CHR_H
#include <stddef.h>
#include <sys/types.h>

struct chr;
struct evloop;

/* Called on the I/O thread with input bytes; returns how many it took.
 * When it takes fewer than len, the backend keeps the rest and stops reading
 * until chr_accept_input() is called. */
typedef size_t (*chr_recv_fn)(void *opaque, const unsigned char *buf, size_t len);
/* Ctrl-A x on stdio: the user asked to quit. */
typedef void (*chr_quit_fn)(void *opaque);

/* spec: "stdio" | "pty" | "unix:PATH" | "file:PATH", optionally followed by
 * ",log=FILE": every output byte is also appended to FILE (truncated on
 * open), so a unix: console can be both logged and attached. On error returns NULL
 * and writes a one-line reason into err. */
struct chr *chr_open(const char *spec, struct evloop *loop, char *err, size_t errlen);
void chr_set_handlers(struct chr *c, chr_recv_fn recv, chr_quit_fn quit, void *opaque);
/* Start delivering input (after handlers are set and the loop runs). */
int chr_start(struct chr *c);
/* Output; never blocks the vCPU for long, drops output if nobody listens. */
void chr_write(struct chr *c, const unsigned char *buf, size_t len);
/* The frontend has room again: deliver buffered input (thread-safe). */
void chr_accept_input(struct chr *c);
/* For pty: the slave path, to print for the user; else NULL. */
const char *chr_describe(struct chr *c);
/* Restores the terminal. */
void chr_close(struct chr *c);
#endif
