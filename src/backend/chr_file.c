/* Console output to a file (truncated on open, like QEMU's file chardev);
 * there is no input. */
#include "backend/chr_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void file_write(struct chr *c, const unsigned char *buf, size_t len)
{
	pthread_mutex_lock(&c->lock);
	if (c->out_fd >= 0)
		chr_write_fd(c->out_fd, buf, len, -1, false);
	pthread_mutex_unlock(&c->lock);
}

static void file_destroy(struct chr *c)
{
	if (c->out_fd >= 0)
		close(c->out_fd);
	c->out_fd = -1;
}

static const struct chr_ops file_ops = {
	.name = "file",
	.write = file_write,
	.destroy = file_destroy,
};

int chr_file_open(struct chr *c, const char *arg, char *err, size_t errlen)
{
	c->ops = &file_ops;
	c->out_fd = open(arg, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (c->out_fd < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot open console file %s: %s", arg, strerror(e));
		return -e;
	}
	return 0;
}
