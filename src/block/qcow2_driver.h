/* The qcow2 format driver's entry points, for the format registry
 * (block/formats.c). Open images through the registry (blk_open). */
#ifndef TERN_BLOCK_QCOW2_DRIVER_H
#define TERN_BLOCK_QCOW2_DRIVER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "block/block.h"


/* Open path as the depth-th image of a chain (0 for the top); its backing
 * file through o->open_backing. */
struct blk_dev *blk_qcow2_open(const char *path, const struct blk_open_opts *o, int depth,
			       char *err, size_t errlen);
/* Whether a file starting with head[0..n) is qcow2. */
bool blk_qcow2_probe(const uint8_t *head, size_t n);
#endif
