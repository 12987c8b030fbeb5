/* The raw format driver: an image file is the disk, byte for byte. Open
 * it through the registry (blk_open, block/formats.h). */
#ifndef TERN_BLOCK_RAW_H
#define TERN_BLOCK_RAW_H
#include <stddef.h>
#include "block/block.h"

struct blk_dev *blk_raw_open(const char *path, const struct blk_open_opts *o, char *err,
			     size_t errlen);
#endif
