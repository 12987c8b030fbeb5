/* The registry of image formats: the one place that lists the drivers.
 * The generic block layer (block.c) probes and opens through it and names
 * no format itself; each driver includes this file for its entry points. */
#ifndef TERN_BLOCK_FORMATS_H
#define TERN_BLOCK_FORMATS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* The drivers (raw.c, qcow2_open.c), also usable directly. */
struct blk_dev *blk_raw_open(const char *path, const struct blk_open_opts *o, char *err,
			     size_t errlen);
struct blk_dev *blk_qcow2_open(const char *path, const struct blk_open_opts *o, int depth,
			       char *err, size_t errlen);
bool blk_qcow2_probe(const uint8_t *head, size_t n);
#endif
