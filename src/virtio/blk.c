/* virtio-blk device model: requests go straight between guest RAM segments
 * and the block layer (src/block/: raw or qcow2), as iovecs into guest RAM.
 * Malformed requests put the device in NEEDS_RESET; bad sectors and image
 * errors are the guest's I/O error. */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include "block/block.h"
#include "core/vm.h"
#include "virtio/blk.h"
#include "virtio/mmio.h"
#include "virtio/virtqueue.h"
#include "state/vmbuf.h"

#define SECTOR 512u
#define HDR_LEN 16u
#define SEG_LEN 16u                 /* discard / write-zeroes segment */

struct virtio_blk {
	struct blk_dev *disk;
	uint64_t capacity;          /* sectors */
	bool readonly;
	char serial[VIRTIO_BLK_ID_BYTES];
	struct virtq_chain chain;   /* scratch, too large for the stack */
	struct iovec iov[VIRTQ_MAX_SEGS];
};

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static void blk_get_config(void *dev, uint8_t *buf)
{
	struct virtio_blk *b = dev;
	uint64_t cap = htole64(b->capacity);

	memset(buf, 0, VIRTIO_BLK_CFG_LEN);
	memcpy(buf + VIRTIO_BLK_CFG_CAPACITY, &cap, 8);
	put32(buf + VIRTIO_BLK_CFG_SEG_MAX, VIRTIO_BLK_QUEUE_MAX - 2);
	put32(buf + VIRTIO_BLK_CFG_BLK_SIZE, SECTOR);
	put32(buf + VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS, VIRTIO_BLK_DISCARD_SECTORS_MAX);
	put32(buf + VIRTIO_BLK_CFG_MAX_DISCARD_SEG, VIRTIO_BLK_DISCARD_SEG_MAX);
	put32(buf + VIRTIO_BLK_CFG_DISCARD_ALIGN, 4096 / SECTOR);
	put32(buf + VIRTIO_BLK_CFG_MAX_WZ_SECTORS, VIRTIO_BLK_DISCARD_SECTORS_MAX);
	put32(buf + VIRTIO_BLK_CFG_MAX_WZ_SEG, VIRTIO_BLK_DISCARD_SEG_MAX);
	buf[VIRTIO_BLK_CFG_WZ_MAY_UNMAP] = 1;
}

/* True when [sector, sector + bytes/512) lies on the disk. */
static bool in_range(const struct virtio_blk *b, uint64_t sector, uint64_t bytes)
{
	uint64_t n = (bytes + SECTOR - 1) / SECTOR;
	return sector <= b->capacity && n <= b->capacity - sector;
}

/* iovecs over [skip, skip+len) of the readable or writable part of c. */
static int build_iov(struct virtio_blk *b, const struct virtq_chain *c, bool writable,
		     uint64_t skip, uint64_t len)
{
	unsigned first = writable ? c->nread : 0, end = writable ? c->nseg : c->nread;
	int n = 0;

	for (unsigned i = first; i < end && len; i++) {
		const struct virtq_seg *s = &c->seg[i];
		if (skip >= s->len) {
			skip -= s->len;
			continue;
		}
		uint64_t l = s->len - skip;
		if (l > len)
			l = len;
		b->iov[n].iov_base = s->ptr + skip;
		b->iov[n].iov_len = l;
		n++;
		len -= l;
		skip = 0;
	}
	return n;
}

/* One discard or write-zeroes segment. */
static uint8_t blk_zero_seg(struct virtio_blk *b, uint32_t type, const uint8_t *seg)
{
	uint64_t sector;
	uint32_t num, flags;

	memcpy(&sector, seg, 8);
	memcpy(&num, seg + 8, 4);
	memcpy(&flags, seg + 12, 4);
	sector = le64toh(sector);
	num = le32toh(num);
	flags = le32toh(flags);
	if (type == VIRTIO_BLK_T_DISCARD ? flags != 0 : (flags & ~VIRTIO_BLK_WZ_F_UNMAP))
		return VIRTIO_BLK_S_UNSUPP;
	if (num > VIRTIO_BLK_DISCARD_SECTORS_MAX || !in_range(b, sector, (uint64_t)num * SECTOR))
		return VIRTIO_BLK_S_IOERR;
	uint64_t off = sector * SECTOR, len = (uint64_t)num * SECTOR;
	int r;
	if (!len)
		return VIRTIO_BLK_S_OK;
	if (type == VIRTIO_BLK_T_DISCARD)
		r = blk_discard(b->disk, off, len);
	else
		r = blk_zeroes(b->disk, off, len, flags & VIRTIO_BLK_WZ_F_UNMAP);
	return r ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
}

static uint8_t blk_zero(struct virtio_blk *b, uint32_t type, const struct virtq_chain *c)
{
	uint64_t len = c->read_len - HDR_LEN;
	uint8_t seg[SEG_LEN];

	if (b->readonly)
		return VIRTIO_BLK_S_IOERR;
	if (len == 0 || len % SEG_LEN || len / SEG_LEN > VIRTIO_BLK_DISCARD_SEG_MAX)
		return VIRTIO_BLK_S_IOERR;
	for (uint64_t off = HDR_LEN; off < c->read_len; off += SEG_LEN) {
		virtq_chain_read(c, off, seg, SEG_LEN);
		uint8_t st = blk_zero_seg(b, type, seg);
		if (st != VIRTIO_BLK_S_OK)
			return st;
	}
	return VIRTIO_BLK_S_OK;
}

/* Serve one chain. Returns -EINVAL for a malformed request (no header, no
 * status byte, data in the wrong direction), else 0 with *used set to the bytes written to the guest. */
static int blk_request(struct virtio_blk *b, struct virtq *vq, const struct virtq_chain *c,
		       uint32_t *used)
{
	uint8_t hdr[HDR_LEN];
	uint32_t type;
	uint64_t sector;

	if (c->read_len < HDR_LEN || c->write_len < 1)
		return -EINVAL;
	virtq_chain_read(c, 0, hdr, HDR_LEN);
	memcpy(&type, hdr, 4);
	memcpy(&sector, hdr + 8, 8);
	type = le32toh(type);
	sector = le64toh(sector);

	uint64_t in_len = c->write_len - 1;        /* device-writable data */
	uint64_t out_len = c->read_len - HDR_LEN;  /* device-readable data */
	uint8_t st = VIRTIO_BLK_S_OK;
	*used = 1;

	/* Data flows one way per request type; the other way is a driver bug. */
	if ((type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID) ? out_len != 0
	    : (type == VIRTIO_BLK_T_OUT || type == VIRTIO_BLK_T_FLUSH ||
	       type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES) && in_len != 0)
		return -EINVAL;

	switch (type) {
	case VIRTIO_BLK_T_IN:
		if (in_len % SECTOR || !in_range(b, sector, in_len)) {
			st = VIRTIO_BLK_S_IOERR;
			break;
		}
		if (b->disk->ops->preadv(b->disk, b->iov, build_iov(b, c, true, 0, in_len),
					 sector * SECTOR))
			st = VIRTIO_BLK_S_IOERR;
		virtq_chain_written(vq, c, in_len);
		*used = (uint32_t)(in_len + 1);
		break;
	case VIRTIO_BLK_T_OUT:
		if (b->readonly || out_len % SECTOR || !in_range(b, sector, out_len)) {
			st = VIRTIO_BLK_S_IOERR;
			break;
		}
		if (blk_write(b->disk, b->iov, build_iov(b, c, false, HDR_LEN, out_len),
					  sector * SECTOR))
			st = VIRTIO_BLK_S_IOERR;
		break;
	case VIRTIO_BLK_T_FLUSH:
		if (!b->readonly && b->disk->ops->flush(b->disk))
			st = VIRTIO_BLK_S_IOERR;
		break;
	case VIRTIO_BLK_T_GET_ID: {
		size_t n = in_len < VIRTIO_BLK_ID_BYTES ? in_len : VIRTIO_BLK_ID_BYTES;
		virtq_chain_write(vq, c, 0, b->serial, n);
		*used = (uint32_t)(n + 1);
		break;
	}
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		st = blk_zero(b, type, c);
		break;
	default:
		st = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	virtq_chain_write(vq, c, c->write_len - 1, &st, 1);
	return 0;
}

static void blk_notify(void *dev, struct virtio_mmio *t, unsigned q)
{
	struct virtio_blk *b = dev;
	struct virtq *vq = virtio_mmio_queue(t, q);
	int r;

	if (!vq)
		return;
	while ((r = virtq_pop(vq, &b->chain)) > 0) {
		uint32_t used;
		if (blk_request(b, vq, &b->chain, &used)) {
			r = -EINVAL;
			break;
		}
		virtq_push(vq, b->chain.head, used);
	}
	virtio_mmio_used(t, q);
	if (r < 0)
		virtio_mmio_needs_reset(t, "virtio-blk: malformed descriptor chain or request");
}

static void blk_destroy(void *dev)
{
	struct virtio_blk *b = dev;

	if (!b)
		return;
	blk_close(b->disk);
	free(b);
}

/* A snapshot flushes the image, so the file on disk matches the saved
 * guest; the capacity checks that a restore got the same disk size. */
static int blk_save(void *dev, struct vmbuf *b)
{
	struct virtio_blk *bd = dev;
	if (!bd->readonly && bd->disk->ops->flush(bd->disk))
		return -1;
	vmbuf_put_u64(b, bd->capacity);
	return 0;
}

static int blk_load(void *dev, struct vmrd *r)
{
	struct virtio_blk *bd = dev;
	return vmrd_u64(r) == bd->capacity ? 0 : -1;
}

static const struct virtio_dev_ops blk_ops;

struct blk_dev *virtio_blk_disk(struct virtio_mmio *t)
{
	if (virtio_mmio_dev_ops(t) != &blk_ops)
		return NULL;
	return ((struct virtio_blk *)virtio_mmio_dev(t))->disk;
}

int virtio_blk_flush(void *t)
{
	struct blk_dev *d = virtio_blk_disk(t);
	if (!d)
		return 0;
	if (!d->readonly && d->ops->flush(d))
		return -1;
	return blk_unlock(d);
}

int virtio_blk_reclaim(void *t)
{
	struct blk_dev *d = virtio_blk_disk(t);
	return d ? blk_relock(d) : 0;
}

static const struct virtio_dev_ops blk_ops = {
	.save = blk_save,
	.load = blk_load,
	.name = "virtio-blk",
	.device_id = VIRTIO_ID_BLOCK,
	.nqueues = 1,
	.queue_max = VIRTIO_BLK_QUEUE_MAX,
	.config_len = VIRTIO_BLK_CFG_LEN,
	.get_config = blk_get_config,
	.notify = blk_notify,
	.destroy = blk_destroy,
};

struct virtio_mmio *virtio_blk_new_disk(struct vm *vm, struct irq_line irq, struct blk_dev *disk,
					const char *serial, char *err, size_t errlen)
{
	if (!disk) {
		snprintf(err, errlen, "virtio-blk: no disk");
		return NULL;
	}
	if (disk->size < SECTOR) {
		snprintf(err, errlen, "virtio-blk: image of %llu bytes is smaller than one "
			 "512-byte sector", (unsigned long long)disk->size);
		return NULL;
	}
	struct virtio_blk *b = calloc(1, sizeof(*b));
	if (!b) {
		snprintf(err, errlen, "virtio-blk: out of memory");
		return NULL;
	}
	bool readonly = disk->readonly;
	b->disk = disk;
	b->capacity = disk->size / SECTOR;
	b->readonly = readonly;
	if (serial)
		memcpy(b->serial, serial, strnlen(serial, sizeof(b->serial)));
	uint64_t f = (1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_BLK_SIZE) |
		     (1ull << VIRTIO_BLK_F_FLUSH);
	f |= readonly ? 1ull << VIRTIO_BLK_F_RO
		      : (1ull << VIRTIO_BLK_F_DISCARD) | (1ull << VIRTIO_BLK_F_WRITE_ZEROES);
	struct virtio_mmio *t = virtio_mmio_new(vm, &blk_ops, b, f, irq);
	if (!t) {
		free(b);
		snprintf(err, errlen, "virtio-blk: out of memory");
		return NULL;
	}
	return t;
}

struct virtio_mmio *virtio_blk_new(struct vm *vm, struct irq_line irq, int fd,
				   uint64_t size_bytes, bool readonly, const char *serial,
				   char *err, size_t errlen)
{
	if (fd < 0) {
		snprintf(err, errlen, "virtio-blk: no image file descriptor");
		return NULL;
	}
	if (size_bytes < SECTOR) {
		snprintf(err, errlen, "virtio-blk: image of %llu bytes is smaller than one "
			 "512-byte sector", (unsigned long long)size_bytes);
		return NULL;
	}
	struct blk_dev *disk = blk_raw_from_fd(fd, size_bytes, readonly);
	if (!disk) {
		snprintf(err, errlen, "virtio-blk: out of memory");
		return NULL;
	}
	struct virtio_mmio *t = virtio_blk_new_disk(vm, irq, disk, serial, err, errlen);
	if (!t) {
		/* The caller keeps fd on failure: detach it before freeing. */
		blk_raw_release_fd(disk);
	}
	return t;
}
