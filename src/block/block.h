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
};

/* Open an image and its backing chain (backing files read-only). Returns
 * NULL with a one-line reason in err; a refused image is never modified. */
struct blk_dev *blk_open(const char *path, const struct blk_open_opts *o, char *err, size_t errlen);
/* The same, as the depth-th image of a chain (0 for the top one). */
struct blk_dev *blk_open_depth(const char *path, const struct blk_open_opts *o, int depth,
			       char *err, size_t errlen);
/* Close an image and its backing chain. NULL is fine. */
void blk_close(struct blk_dev *d);
/* The format of a file by its first bytes ("qcow2" or "raw"), or NULL with
 * a reason in err when it cannot be read. */
const char *blk_probe(const char *path, char *err, size_t errlen);

/* Reads of [off, off+len) where the part past d->size reads as zeroes (for
 * backing files smaller than the overlay). */
int blk_read_clipped(struct blk_dev *d, const struct iovec *iov, int cnt, uint64_t off, size_t len);

/* Migration hands a disk over to another process on the same storage: the
 * source drops its image lock at switch-over (the destination then opens
 * the image) and takes it back if the migration fails. 0 or -errno. */
int blk_unlock(struct blk_dev *d);
int blk_relock(struct blk_dev *d);

/* Shared by the drivers: fill in the common fields (path is copied). */
int blk_dev_init(struct blk_dev *d, const struct blk_ops *ops, const char *path, uint64_t size,
		 bool readonly);
void blk_dev_fini(struct blk_dev *d);

/* Drivers, also usable directly. */
struct blk_dev *blk_raw_open(const char *path, const struct blk_open_opts *o, char *err,
			     size_t errlen);
/* A raw device over an open descriptor (buffered), which it then owns. */
struct blk_dev *blk_raw_from_fd(int fd, uint64_t size, bool readonly);
/* Free a blk_raw_from_fd device without closing its descriptor. */
void blk_raw_release_fd(struct blk_dev *d);
struct blk_dev *blk_qcow2_open(const char *path, const struct blk_open_opts *o, int depth,
			       char *err, size_t errlen);
#endif
