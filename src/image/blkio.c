/* A libext2fs I/O manager over tern's block layer: ext2fs_open(PATH) opens
 * PATH with blk_open() (raw or qcow2, backing chains included). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "block/block.h"
#include "block/formats.h"
#include "image/blkio.h"

static struct blk_dev *dev_of(io_channel ch)
{
	return ch->private_data;
}

static errcode_t bio_close(io_channel ch)
{
	if (--ch->refcount > 0)
		return 0;
	blk_close(dev_of(ch));
	free(ch->name);
	free(ch);
	return 0;
}

static errcode_t bio_set_blksize(io_channel ch, int blksize)
{
	if (blksize <= 0)
		return EXT2_ET_INVALID_ARGUMENT;
	ch->block_size = blksize;
	return 0;
}

/* count > 0 is blocks, count < 0 is bytes (libext2fs's convention). */
static errcode_t span(io_channel ch, unsigned long long block, int count, uint64_t *off,
		      size_t *len)
{
	*len = count < 0 ? (size_t)-(long long)count : (size_t)count * (size_t)ch->block_size;
	*off = block * (unsigned long long)ch->block_size;
	if (*off / (unsigned long long)ch->block_size != block)
		return EXT2_ET_LLSEEK_FAILED;
	return 0;
}

static errcode_t bio_read64(io_channel ch, unsigned long long block, int count, void *data)
{
	struct blk_dev *d = dev_of(ch);
	uint64_t off;
	size_t len;
	if (span(ch, block, count, &off, &len))
		return EXT2_ET_LLSEEK_FAILED;
	if (off >= d->size) {
		memset(data, 0, len);
		return EXT2_ET_SHORT_READ;
	}
	struct iovec v = { data, len };
	int r = blk_read_clipped(d, &v, 1, off, len);
	return r ? (errcode_t)-r : 0;
}

static errcode_t bio_write64(io_channel ch, unsigned long long block, int count, const void *data)
{
	struct blk_dev *d = dev_of(ch);
	uint64_t off;
	size_t len;
	if (d->readonly)
		return EROFS;
	if (span(ch, block, count, &off, &len) || off + len > d->size)
		return EXT2_ET_SHORT_WRITE;
	struct iovec v = { (void *)data, len };
	int r = d->ops->pwritev(d, &v, 1, off);
	return r ? (errcode_t)-r : 0;
}

static errcode_t bio_read(io_channel ch, unsigned long block, int count, void *data)
{
	return bio_read64(ch, block, count, data);
}

static errcode_t bio_write(io_channel ch, unsigned long block, int count, const void *data)
{
	return bio_write64(ch, block, count, data);
}

static errcode_t bio_flush(io_channel ch)
{
	struct blk_dev *d = dev_of(ch);
	return d->readonly ? 0 : (errcode_t)-d->ops->flush(d);
}

static errcode_t bio_set_option(io_channel ch, const char *option, const char *arg)
{
	return EXT2_ET_INVALID_ARGUMENT;
}

static errcode_t bio_open(const char *name, int flags, io_channel *out);

/* Never written: libext2fs takes a non-const pointer but only reads it. */
static const struct struct_io_manager blkio_ops = {
	.magic = EXT2_ET_MAGIC_IO_MANAGER,
	.name = "tern block layer",
	.open = bio_open,
	.close = bio_close,
	.set_blksize = bio_set_blksize,
	.read_blk = bio_read,
	.write_blk = bio_write,
	.flush = bio_flush,
	.set_option = bio_set_option,
	.read_blk64 = bio_read64,
	.write_blk64 = bio_write64,
};

static errcode_t bio_open(const char *name, int flags, io_channel *out)
{
	char err[256];
	struct blk_open_opts o = { .readonly = !(flags & IO_FLAG_RW) };
	if (!name)
		return EXT2_ET_BAD_DEVICE_NAME;
	struct blk_dev *d = blk_open(name, &o, err, sizeof(err));
	if (!d)
		return errno ? (errcode_t)errno : EXT2_ET_BAD_DEVICE_NAME;
	io_channel ch = calloc(1, sizeof(*ch));
	if (!ch || !(ch->name = strdup(name))) {
		free(ch);
		blk_close(d);
		return EXT2_ET_NO_MEMORY;
	}
	ch->magic = EXT2_ET_MAGIC_IO_CHANNEL;
	ch->manager = (io_manager)&blkio_ops;
	ch->block_size = 1024;
	ch->refcount = 1;
	ch->private_data = d;
	*out = ch;
	return 0;
}

io_manager image_blkio_manager(void)
{
	return (io_manager)&blkio_ops;
}
