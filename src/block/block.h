/* The block layer: a disk image behind a small driver interface (raw and
 * qcow2), read and written at byte offsets with iovecs that point straight
 * into guest RAM. Devices (virtio-blk) and the `tern image` commands use it. */
#ifndef TERN_BLOCK_H
#define TERN_BLOCK_H
#include <stdbool.h>
#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define BLK_MAX_CHAIN 16        /* backing files, the image itself included */

struct blk_dev;

/* A format driver. Offsets and lengths are in bytes and are checked by the
 * caller to lie inside the virtual size. All return 0 or -errno. */
struct blk_ops {
	const char *format;
	int (*preadv)(struct blk_dev *d, const struct iovec *iov, int cnt, uint64_t off);
	int (*pwritev)(struct blk_dev *d, const struct iovec *iov, int cnt, uint64_t off);
	int (*flush)(struct blk_dev *d);
	/* A hint: the range may read as anything afterwards. */
	int (*discard)(struct blk_dev *d, uint64_t off, uint64_t len);
	/* The range reads as zeroes afterwards; unmap allows freeing space. */
	int (*write_zeroes)(struct blk_dev *d, uint64_t off, uint64_t len, bool unmap);
	/* *held: whether this image itself (not a backing file) holds any of
	 * [off, off+len): data or a zero cluster; a hole or an unallocated
	 * cluster is not held. May err on the side of true. */
	int (*allocated)(struct blk_dev *d, uint64_t off, uint64_t len, bool *held);
	void (*close)(struct blk_dev *d);
};

struct blk_dev {
	const struct blk_ops *ops;
	uint64_t size;              /* virtual size in bytes */
	bool readonly;
	char *path;
	struct blk_dev *backing;    /* next in the chain, or NULL */
	char *backing_name;         /* as stored in the image, or NULL */
	int lock_fd;                /* the image file holding its flock, or -1 */
	/* The dirty log (block/dirty.c): one bit per BLK_CHUNK of the virtual
	 * size, set by blk_write/blk_zeroes/blk_discard; NULL when off. */
	uint64_t *dirty;
};

/* The images opened so far in a chain, top first via up (loop detection). */
struct blk_chain {
	dev_t dev;
	ino_t ino;
	const char *path;
	const struct blk_chain *up;
};

struct blk_open_opts {
	const char *format;         /* "raw", "qcow2", or NULL to probe */
	bool readonly;
	bool direct;                /* cache=none: O_DIRECT */
	bool no_backing;            /* refuse an image that names a backing file */
	unsigned l2_cache_tables;   /* qcow2: 0 for the default */
	const struct blk_chain *chain;  /* set by the qcow2 driver for backing files */
	/* How a driver opens the next image of its chain: the format registry
	 * (blk_open_depth, block/formats.h) sets it before it calls the driver,
	 * so that no driver depends on the registry that lists it. */
	struct blk_dev *(*open_backing)(const char *path, const struct blk_open_opts *o,
					int depth, char *err, size_t errlen);
};

/* Close an image and its backing chain. NULL is fine. */
void blk_close(struct blk_dev *d);
/* Reads of [off, off+len) where the part past d->size reads as zeroes (for
 * backing files smaller than the overlay). */
int blk_read_clipped(struct blk_dev *d, const struct iovec *iov, int cnt, uint64_t off, size_t len);

/* Migration hands a disk over to another process on the same storage: the
 * source drops its image lock at switch-over (the destination then opens
 * the image) and takes it back if the migration fails. 0 or -errno. */
int blk_unlock(struct blk_dev *d);
int blk_relock(struct blk_dev *d);

/* The dirty log and the writes that feed it (block/dirty.c). Storage
 * migration copies a disk in chunks of BLK_CHUNK bytes, re-sending those
 * the guest wrote meanwhile. The caller serializes every call on one disk
 * (tern: the VM lock, which virtio-blk holds for its requests). */
#define BLK_CHUNK_BITS 16
#define BLK_CHUNK (1u << BLK_CHUNK_BITS)
static inline uint64_t blk_chunks(const struct blk_dev *d)
{
	return (d->size + BLK_CHUNK - 1) >> BLK_CHUNK_BITS;
}
/* Start (0 or -ENOMEM; already on is fine) and stop the log. */
int blk_dirty_start(struct blk_dev *d);
void blk_dirty_stop(struct blk_dev *d);
/* ORs the chunks written since the last call into out (blk_chunks bits,
 * u64 words) and clears the log; returns how many were set. */
uint64_t blk_dirty_take(struct blk_dev *d, uint64_t *out);
/* Writes through the driver, noting the range in the dirty log first. */
int blk_write(struct blk_dev *d, const struct iovec *iov, int cnt, uint64_t off);
int blk_zeroes(struct blk_dev *d, uint64_t off, uint64_t len, bool unmap);
int blk_discard(struct blk_dev *d, uint64_t off, uint64_t len);
/* Whether the image itself holds any of [off, off+len) (see blk_ops). */
int blk_allocated(struct blk_dev *d, uint64_t off, uint64_t len, bool *held);

/* Shared by the drivers: fill in the common fields (path is copied). */
int blk_dev_init(struct blk_dev *d, const struct blk_ops *ops, const char *path, uint64_t size,
		 bool readonly);
void blk_dev_fini(struct blk_dev *d);

/* Opening by path goes through the format registry (block/formats.h).
 * A raw device over an open descriptor (buffered), which it then owns. */
struct blk_dev *blk_raw_from_fd(int fd, uint64_t size, bool readonly);
/* Free a blk_raw_from_fd device without closing its descriptor. */
void blk_raw_release_fd(struct blk_dev *d);
#endif
