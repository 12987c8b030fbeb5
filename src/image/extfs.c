/* Read-only access to an ext2/3/4 file system inside a disk image through
 * libext2fs and the block-layer I/O manager (image/blkio.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "block/block.h"
#include "block/formats.h"
#include "image/blkio.h"
#include "image/extfs.h"

#define EXT_SB_OFFSET 1024
#define EXT_MAGIC_OFFSET (EXT_SB_OFFSET + 56)
#define MAX_DEPTH 128           /* a hostile image's directory loops end here */

int extfs_probe(const char *path)
{
	char err[256];
	struct blk_open_opts o = { .readonly = true };
	struct blk_dev *d = blk_open(path, &o, err, sizeof(err));
	if (!d)
		return 0;
	uint8_t m[2] = { 0, 0 };
	struct iovec v = { m, 2 };
	int ok = d->size > EXT_MAGIC_OFFSET + 2 &&
		 !d->ops->preadv(d, &v, 1, EXT_MAGIC_OFFSET) && m[0] == 0x53 && m[1] == 0xef;
	blk_close(d);
	return ok;
}

struct extfs *extfs_open(const char *path, char *err, size_t errlen)
{
	char berr[256];
	struct blk_open_opts o = { .readonly = true };
	struct blk_dev *d = blk_open(path, &o, berr, sizeof(berr));
	if (!d) {
		snprintf(err, errlen, "%s", berr);
		return NULL;
	}
	blk_close(d);
	if (!extfs_probe(path)) {
		snprintf(err, errlen, "%s: not an ext2/3/4 file system (no superblock magic)", path);
		return NULL;
	}
	struct extfs *x = calloc(1, sizeof(*x));
	if (!x || !(x->path = strdup(path))) {
		free(x);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	errcode_t e = ext2fs_open(path, EXT2_FLAG_64BITS | EXT2_FLAG_IGNORE_CSUM_ERRORS, 0, 0,
				  image_blkio_manager(), &x->fs);
	if (e) {
		snprintf(err, errlen, "%s: cannot open the ext file system: %s", path,
			 error_message(e));
		free(x->path);
		free(x);
		return NULL;
	}
	return x;
}

void extfs_close(struct extfs *x)
{
	if (!x)
		return;
	ext2fs_close_free(&x->fs);
	free(x->path);
	free(x);
}

int extfs_lookup(struct extfs *x, const char *path, int follow, ext2_ino_t *ino)
{
	if (!path || path[0] != '/')
		return -EINVAL;
	if (!path[1]) {
		*ino = EXT2_ROOT_INO;
		return 0;
	}
	errcode_t e = follow ? ext2fs_namei_follow(x->fs, EXT2_ROOT_INO, EXT2_ROOT_INO, path + 1, ino)
			     : ext2fs_namei(x->fs, EXT2_ROOT_INO, EXT2_ROOT_INO, path + 1, ino);
	if (e == EXT2_ET_FILE_NOT_FOUND || e == EXT2_ET_NO_DIRECTORY || e == EXT2_ET_SYMLINK_LOOP)
		return -ENOENT;
	return e ? -EIO : 0;
}

int extfs_read_file(struct extfs *x, const char *path, size_t max, char **data, size_t *len)
{
	ext2_ino_t ino;
	struct ext2_inode in;
	int r = extfs_lookup(x, path, 1, &ino);
	if (r)
		return r;
	if (ext2fs_read_inode(x->fs, ino, &in))
		return -EIO;
	if (!LINUX_S_ISREG(in.i_mode))
		return -EISDIR;
	uint64_t size = EXT2_I_SIZE(&in);
	if (size > max)
		return -EFBIG;
	char *buf = malloc(size + 1);
	if (!buf)
		return -ENOMEM;
	ext2_file_t f;
	if (ext2fs_file_open2(x->fs, ino, &in, 0, &f)) {
		free(buf);
		return -EIO;
	}
	size_t got = 0;
	while (got < size) {
		unsigned int n = 0;
		if (ext2fs_file_read(f, buf + got, (unsigned)(size - got), &n) || n == 0)
			break;
		got += n;
	}
	ext2fs_file_close(f);
	if (got != size) {
		free(buf);
		return -EIO;
	}
	buf[got] = 0;
	*data = buf;
	*len = got;
	return 0;
}

int extfs_readlink(struct extfs *x, ext2_ino_t ino, char *buf, size_t len)
{
	struct ext2_inode in;
	if (!len || ext2fs_read_inode(x->fs, ino, &in) || !LINUX_S_ISLNK(in.i_mode))
		return -EINVAL;
	uint64_t size = EXT2_I_SIZE(&in);
	if (size >= len)
		return -ENAMETOOLONG;
	if (in.i_flags & EXT4_INLINE_DATA_FL) {
		size_t n = size;
		if (ext2fs_inline_data_get(x->fs, ino, &in, buf, &n))
			return -EIO;
	} else if (ext2fs_is_fast_symlink(&in)) {
		memcpy(buf, (const char *)in.i_block, size);
	} else {
		ext2_file_t f;
		unsigned int n = 0;
		if (ext2fs_file_open2(x->fs, ino, &in, 0, &f))
			return -EIO;
		errcode_t e = ext2fs_file_read(f, buf, (unsigned)size, &n);
		ext2fs_file_close(f);
		if (e || n != size)
			return -EIO;
	}
	buf[size] = 0;
	return 0;
}

struct list_ctx {
	int (*fn)(const char *name, ext2_ino_t ino, int ftype, void *ctx);
	void *ctx;
	int rc;
};

static int list_one(ext2_ino_t dir, int entry, struct ext2_dir_entry *de, int offset,
		    int blocksize, char *buf, void *priv)
{
	struct list_ctx *l = priv;
	char name[EXT2_NAME_LEN + 1];
	int n = ext2fs_dirent_name_len(de);
	if (!de->inode || n <= 0)
		return 0;
	memcpy(name, de->name, (size_t)n);
	name[n] = 0;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return 0;
	l->rc = l->fn(name, de->inode, ext2fs_dirent_file_type(de), l->ctx);
	return l->rc ? DIRENT_ABORT : 0;
}

int extfs_list(struct extfs *x, ext2_ino_t dir,
	       int (*fn)(const char *name, ext2_ino_t ino, int ftype, void *ctx), void *ctx)
{
	struct list_ctx l = { fn, ctx, 0 };
	errcode_t e = ext2fs_dir_iterate2(x->fs, dir, 0, NULL, list_one, &l);
	if (l.rc)
		return l.rc;
	return e ? -EIO : 0;
}

struct usage_ctx {
	struct extfs *x;
	uint64_t bytes, entries;
	int depth;
};

static int usage_one(const char *name, ext2_ino_t ino, int ftype, void *priv)
{
	struct usage_ctx *u = priv;
	struct ext2_inode in;
	u->entries++;
	if (ext2fs_read_inode(u->x->fs, ino, &in))
		return -EIO;
	if (LINUX_S_ISREG(in.i_mode))
		u->bytes += EXT2_I_SIZE(&in);
	else if (LINUX_S_ISDIR(in.i_mode)) {
		if (u->depth >= MAX_DEPTH)
			return -ELOOP;
		u->depth++;
		int r = extfs_list(u->x, ino, usage_one, u);
		u->depth--;
		return r;
	}
	return 0;
}

int extfs_tree_usage(struct extfs *x, ext2_ino_t ino, uint64_t *bytes, uint64_t *entries)
{
	struct usage_ctx u = { .x = x };
	int r = extfs_list(x, ino, usage_one, &u);
	*bytes = u.bytes;
	*entries = u.entries;
	return r;
}
