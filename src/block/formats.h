/* The registry of image formats, the one place that lists the drivers, and
 * opening and probing images through it. The generic block layer
 * (block.h) names no format; the drivers (raw.h, qcow2_driver.h) know
 * neither the registry nor each other. */
#ifndef TERN_BLOCK_FORMATS_H
#define TERN_BLOCK_FORMATS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "block/block.h"

struct blk_dev;
struct blk_open_opts;

struct blk_format {
	const char *name;
	/* Whether a file starting with head[0..n) is of this format; NULL
	 * for the fallback (raw), which takes any file. */
	bool (*probe)(const uint8_t *head, size_t n);
	/* Open path as the depth-th image of a chain (0 for the top). */
	struct blk_dev *(*open)(const char *path, const struct blk_open_opts *o, int depth,
				char *err, size_t errlen);
};

/* The format called name, or NULL. */
const struct blk_format *blk_format_find(const char *name);
/* The format of a file whose first bytes are head[0..n) (never NULL). */
const struct blk_format *blk_format_probe(const uint8_t *head, size_t n);
/* How many first bytes blk_format_probe wants. */
#define BLK_PROBE_BYTES 4

/* Open an image and its backing chain (backing files read-only). Returns
 * NULL with a one-line reason in err; a refused image is never modified. */
struct blk_dev *blk_open(const char *path, const struct blk_open_opts *o, char *err, size_t errlen);
/* The same, as the depth-th image of a chain (0 for the top one). */
struct blk_dev *blk_open_depth(const char *path, const struct blk_open_opts *o, int depth,
			       char *err, size_t errlen);
/* The format of a file by its first bytes ("qcow2" or "raw"), or NULL with
 * a reason in err when it cannot be read. */
const char *blk_probe(const char *path, char *err, size_t errlen);

#endif
