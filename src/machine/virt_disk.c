/* --disk to block device: opens the image with the format and cache mode
 * asked for. Without format=, a disk is raw, but a file that starts like a
 * qcow2 image is refused rather than silently given to the guest raw. */
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include "block/block.h"
#include "block/formats.h"
#include "block/qcow2_format.h"
#include "machine/virt.h"

struct blk_dev *virt_open_disk(const struct virt_disk *d, char *err, size_t errlen)
{
	struct blk_open_opts o = {
		.format = d->format ? d->format : "raw",
		.readonly = d->readonly,
		.direct = d->direct,
		.no_backing = d->no_backing,
	};
	struct blk_dev *disk = blk_open(d->path, &o, err, errlen);
	if (!disk || d->format)
		return disk;
	char magic[4] = "";
	struct iovec v = { magic, sizeof(magic) };
	if (disk->size >= sizeof(magic) && !disk->ops->preadv(disk, &v, 1, 0) &&
	    !memcmp(magic, QCOW2_MAGIC, 4)) {
		snprintf(err, errlen, "the file is a qcow2 image: give format=qcow2 (or format=raw "
			 "to use it raw)");
		blk_close(disk);
		return NULL;
	}
	return disk;
}
