/* A libext2fs I/O manager over tern's block layer, so that ext2/3/4 file
 * systems inside raw and qcow2 images are read without mounts or root. */
#ifndef TERN_IMAGE_BLKIO_H
#define TERN_IMAGE_BLKIO_H
#include <ext2fs/ext2fs.h>
/* The manager to pass to ext2fs_open(); the name given there is an image path. */
io_manager image_blkio_manager(void);
#endif
