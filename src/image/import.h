/* Imports a root file system from another hypervisor or a build tool (a
 * directory, a tar archive, or an ext2/3/4 image) into a new raw ext4 image
 * that boots as a tern virtio guest (image/fixup.c rewrites it on the way). */
#ifndef TERN_IMAGE_IMPORT_H
#define TERN_IMAGE_IMPORT_H
#include <stddef.h>
#include <stdint.h>
#include "image/inventory.h"

struct import_opts {
	const char *src;        /* directory, tar (plain, gz, xz, zst, bz2) or ext image */
	const char *out;        /* the raw ext4 image to create (must not exist) */
	uint64_t size;          /* its size; 0 picks one from the content */
	int progress;           /* progress lines on stderr */
};

struct import_stats {
	const char *kind;       /* "directory", "tar archive" or "ext image" */
	uint64_t entries, bytes, size;
};

/* The kind of SRC ("directory", "tar archive", "ext image"), or NULL with a
 * reason in err. */
const char *import_source_kind(const char *src, char *err, size_t errlen);
/* The whole import; the changes made go to log. 0 or -errno, with a
 * message naming the file (and archive entry) in err. OUT is removed on failure. */
int import_rootfs(const struct import_opts *o, struct inventory *log, struct import_stats *st,
		  char *err, size_t errlen);
/* An archive entry's path made relative and safe: leading "/" and "./"
 * dropped, "." components removed; NULL (with errno EINVAL) for a ".."
 * component or an empty result. The caller frees it. */
char *import_clean_path(const char *path);
#endif
