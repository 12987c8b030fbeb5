/* Rewrites a root file system tree (a staging folder) for a tern virtio
 * guest: the fstab root becomes /dev/vda, the old hypervisor's disks and
 * consoles (UML ubd/tty0, Xen xvd/hvc0) give way to ttyS0. */
#ifndef TERN_IMAGE_FIXUP_H
#define TERN_IMAGE_FIXUP_H
#include <stddef.h>
#include "image/inventory.h"

/* Edits files below ROOT without following any symlink out of it; each
 * change is recorded with inventory_add_change(log). 0 or -errno. */
int fixup_rootfs(const char *root, struct inventory *log, char *err, size_t errlen);
/* The pure text rewrites, for the tests. Each returns a new string (the
 * caller frees it) and adds its changes to log; NULL when out of memory. */
char *fixup_fstab_text(const char *fstab, struct inventory *log);
char *fixup_inittab_text(const char *inittab, struct inventory *log);
#endif
