/* Console on a fresh pseudo-terminal; the user attaches to the slave (e.g.
 * screen /dev/pts/N). Output is dropped when nobody reads it. */
#define _GNU_SOURCE   /* accept4, ptsname_r */
#include "backend/chr_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int pty_start(struct chr *c)
{
	return chr_input_attach(c, c->out_fd);
}

static void pty_write(struct chr *c, const unsigned char *buf, size_t len)
{
	pthread_mutex_lock(&c->lock);
	chr_write_fd(c->out_fd, buf, len, 0, false);
	pthread_mutex_unlock(&c->lock);
}

static void pty_destroy(struct chr *c)
{
	if (c->out_fd >= 0)
		close(c->out_fd);
	if (c->pty_slave >= 0)
		close(c->pty_slave);
	c->out_fd = c->pty_slave = -1;
}

static const struct chr_ops pty_ops = {
	.name = "pty",
	.start = pty_start,
	.write = pty_write,
	.destroy = pty_destroy,
};

int chr_pty_open(struct chr *c, const char *arg, char *err, size_t errlen)
{
	c->ops = &pty_ops;
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		goto fail;
	c->out_fd = m;
	if (grantpt(m) < 0 || unlockpt(m) < 0)
		goto fail;
	if (ptsname_r(m, c->pty_name, sizeof(c->pty_name)) != 0)
		goto fail;
	/* Keep our own slave fd open: without it the master reports HUP
	 * (and read fails with EIO) whenever no user is attached. */
	c->pty_slave = open(c->pty_name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (c->pty_slave < 0)
		goto fail;
	struct termios t;
	if (tcgetattr(c->pty_slave, &t) < 0)
		goto fail;
	cfmakeraw(&t);
	if (tcsetattr(c->pty_slave, TCSANOW, &t) < 0)
		goto fail;
	int fl = fcntl(m, F_GETFL);
	if (fl < 0 || fcntl(m, F_SETFL, fl | O_NONBLOCK) < 0)
		goto fail;
	return 0;
fail:;
	int e = errno ? errno : EIO;
	snprintf(err, errlen, "cannot create console pty: %s", strerror(e));
	c->pty_name[0] = 0;
	return -e;
}
