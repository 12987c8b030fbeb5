/* Console on the process's stdin/stdout. On a terminal: raw mode (restored
 * by chr_close) and QEMU-style Ctrl-A escapes; otherwise bytes pass as is. */
#include "backend/chr_priv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int stdio_start(struct chr *c)
{
	if (c->escapes) {
		struct termios raw;
		if (tcgetattr(STDIN_FILENO, &c->saved_termios) == 0) {
			c->termios_saved = true;
			/* Full raw mode like QEMU: the guest sends \r\n itself and
			 * Ctrl-C must reach it. */
			raw = c->saved_termios;
			cfmakeraw(&raw);
			raw.c_cc[VMIN] = 1;
			raw.c_cc[VTIME] = 0;
			tcsetattr(STDIN_FILENO, TCSANOW, &raw);
		}
	}
	return chr_input_attach(c, STDIN_FILENO);
}

static void stdio_write(struct chr *c, const unsigned char *buf, size_t len)
{
	pthread_mutex_lock(&c->lock);
	/* stdout stays blocking: a reader that stops reading stalls the guest. */
	chr_write_fd(c->out_fd, buf, len, -1, false);
	pthread_mutex_unlock(&c->lock);
}

static void stdio_destroy(struct chr *c)
{
	if (c->termios_saved) {
		tcsetattr(STDIN_FILENO, TCSADRAIN, &c->saved_termios);
		c->termios_saved = false;
	}
	/* fd 0 and 1 belong to the process: not closed. */
}

static const struct chr_ops stdio_ops = {
	.name = "stdio",
	.start = stdio_start,
	.write = stdio_write,
	.destroy = stdio_destroy,
};

int chr_stdio_open(struct chr *c, const char *arg, char *err, size_t errlen)
{
	c->ops = &stdio_ops;
	c->out_fd = STDOUT_FILENO;
	c->escapes = isatty(STDIN_FILENO);
	return 0;
}
