/* Read-only access to an ext2/3/4 file system inside a disk image (raw or
 * qcow2) through libext2fs: look up paths, read files and walk trees. */
#ifndef TERN_IMAGE_EXTFS_H
#define TERN_IMAGE_EXTFS_H
#include <stddef.h>
#include <stdint.h>
#include <ext2fs/ext2fs.h>

struct extfs {
	ext2_filsys fs;
	char *path;
};

/* Open PATH's file system read-only. NULL with a reason in err ("not an
 * ext2/3/4 file system" for anything else). */
struct extfs *extfs_open(const char *path, char *err, size_t errlen);
void extfs_close(struct extfs *x);
/* Whether the first bytes of PATH (raw or qcow2) hold an ext superblock. */
int extfs_probe(const char *path);
/* The inode of an absolute PATH, symlinks followed (within the image) when
 * follow is set. 0 or -ENOENT/-EIO. */
int extfs_lookup(struct extfs *x, const char *path, int follow, ext2_ino_t *ino);
/* A whole regular file (symlinks followed), NUL-terminated, at most max
 * bytes (-EFBIG beyond). The caller frees *data. */
int extfs_read_file(struct extfs *x, const char *path, size_t max, char **data, size_t *len);
/* A symlink's target into buf (NUL-terminated). */
int extfs_readlink(struct extfs *x, ext2_ino_t ino, char *buf, size_t len);
/* Bytes (sum of regular file sizes) and entries below directory ino. */
int extfs_tree_usage(struct extfs *x, ext2_ino_t ino, uint64_t *bytes, uint64_t *entries);
/* Calls fn for each entry of directory ino except . and .. (stops on a
 * non-zero return, which it passes on). */
int extfs_list(struct extfs *x, ext2_ino_t dir,
	       int (*fn)(const char *name, ext2_ino_t ino, int ftype, void *ctx), void *ctx);
#endif
