/* Storage migration, destination side (blkmig_dst.c; see blkmig.h). Not
 * for use outside src/migration/. */
#ifndef TERN_MIG_BLKMIG_DST_H
#define TERN_MIG_BLKMIG_DST_H
#include <stdbool.h>
#include <stddef.h>

struct mig_incoming;
struct vms_section;

/* Destination (blkmig_dst.c). setup takes the DISKS section: each disk's
 * target is the --disk path the destination names (created when missing:
 * a qcow2 overlay over the same base, or a sparse raw file), checked to be
 * empty, of the same size and over an identical base chain; the verdict
 * goes back to the source. batch writes one BLOCK_BATCH through the
 * target's driver after checking all of it. close flushes and closes the
 * targets (before the VM opens them: -1 when a flush failed); free also
 * removes the files it created unless keep (the migration completed). */
int blkmig_dst_setup(struct mig_incoming *in, const struct vms_section *s, char *err, size_t errlen);
int blkmig_dst_batch(struct mig_incoming *in, const struct vms_section *s, char *err, size_t errlen);
int blkmig_dst_close(struct mig_incoming *in);
void blkmig_dst_free(struct mig_incoming *in, bool keep);
#endif
