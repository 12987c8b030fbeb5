/* The registry of image formats (see formats.h), probed in this order,
 * the fallback last, and blk_probe/blk_open (block.h), which go through
 * it. Adding a format is one line here. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "block/block.h"
#include "block/formats.h"
#include "block/qcow2_driver.h"
#include "block/raw.h"

static struct blk_dev *raw_open(const char *path, const struct blk_open_opts *o, int depth,
				char *err, size_t errlen)
{
	(void)depth;                /* raw images have no backing file */
	return blk_raw_open(path, o, err, errlen);
}

static const struct blk_format blk_formats[] = {
	{ "qcow2", blk_qcow2_probe, blk_qcow2_open },
	{ "raw", NULL, raw_open },
};
#define N_FORMATS (sizeof(blk_formats) / sizeof(blk_formats[0]))

const struct blk_format *blk_format_find(const char *name)
{
	for (size_t i = 0; i < N_FORMATS; i++)
		if (!strcmp(blk_formats[i].name, name))
			return &blk_formats[i];
	return NULL;
}

const struct blk_format *blk_format_probe(const uint8_t *head, size_t n)
{
	for (size_t i = 0; i < N_FORMATS; i++)
		if (!blk_formats[i].probe || blk_formats[i].probe(head, n))
			return &blk_formats[i];
	return &blk_formats[N_FORMATS - 1];
}

const char *blk_probe(const char *path, char *err, size_t errlen)
{
	uint8_t magic[BLK_PROBE_BYTES];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);     /* a FIFO must not hang */
	if (fd < 0) {
		snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "'%s' is not a regular file", path);
		close(fd);
		return NULL;
	}
	ssize_t n = pread(fd, magic, sizeof(magic), 0);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
		return NULL;
	}
	return blk_format_probe(magic, (size_t)n)->name;
}

struct blk_dev *blk_open_depth(const char *path, const struct blk_open_opts *o, int depth,
			       char *err, size_t errlen)
{
	const char *fmt = o->format;
	if (depth >= BLK_MAX_CHAIN) {
		snprintf(err, errlen, "backing chain longer than %d images (a loop?) at '%s'",
			 BLK_MAX_CHAIN, path);
		return NULL;
	}
	if (!fmt && !(fmt = blk_probe(path, err, errlen)))
		return NULL;
	const struct blk_format *f = blk_format_find(fmt);
	if (f) {
		struct blk_open_opts with_opener = *o;
		with_opener.open_backing = blk_open_depth;
		return f->open(path, &with_opener, depth, err, errlen);
	}
	snprintf(err, errlen, "unknown image format '%s' (raw or qcow2)", fmt);
	return NULL;
}

struct blk_dev *blk_open(const char *path, const struct blk_open_opts *o, char *err, size_t errlen)
{
	return blk_open_depth(path, o, 0, err, errlen);
}
