/* Post-copy, destination side (postcopy_dst.c), called by migrate_dst.c;
 * post-copy itself uses only mig_dst_priv.h, never the file that calls it.
 * Not for use outside src/migration/. */
#ifndef TERN_MIG_POSTCOPY_DST_H
#define TERN_MIG_POSTCOPY_DST_H
#include <stddef.h>

struct mig_incoming;
struct mig_incoming_info;
struct vm;
struct vms_section;

/* start takes the POSTCOPY section (the bitmap of pages still on the
 * source), installs the fetch path in vm, acknowledges the switch-over and
 * starts the thread that receives pages. stop ends it (the VM is done) and
 * frees it. */
int postcopy_dst_start(struct mig_incoming *in, struct vm *vm, const struct vms_section *s,
		       char *err, size_t errlen);
void postcopy_dst_stop(struct mig_incoming *in);
void postcopy_dst_info(struct mig_incoming *in, struct mig_incoming_info *out);
#endif
