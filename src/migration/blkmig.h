/* Storage migration (`--copy-storage`, QMP migrate "blk"): the disks a VM
 * writes travel in the migration stream, as QEMU's drive-mirror does it: a
 * background copy of what each disk's own image holds (a qcow2 overlay's
 * clusters; the data of a raw file), a dirty-chunk log that re-sends what
 * the guest writes meanwhile, and the last dirty chunks while the guest is
 * stopped at the switch-over. The base images below an overlay are not
 * sent: the destination must have identical ones (size and SHA-256 are
 * checked before any RAM moves). Format: docs/MIGRATION.md ("Storage"). */
#ifndef TERN_MIG_BLKMIG_H
#define TERN_MIG_BLKMIG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct migration;
struct mig_incoming;
struct vms_section;

#define BLKMIG_BATCH_MAX 16         /* chunks per BLOCK_BATCH section */
#define BLKMIG_HDR 8                /* u32 disk, u32 count */
#define BLKMIG_ENC_MAX (BLKMIG_HDR + BLKMIG_BATCH_MAX * (8 + 65536))
#define BLKMIG_NAME_MAX 4095
#define BLKMIG_REPLY_MAX 1024       /* the destination's refusal message */

/* Source (blkmig_src.c), all on the migration thread. start: describe the
 * writable disks (format, size, base chain with sums) in a DISKS section,
 * wait for the destination to accept them, start each disk's dirty log and
 * mark what the disk's own image holds; bulk: send that while the guest
 * runs, then dirty rounds until little is left; send: send what is marked
 * (bytes sent, or -1); harvest: mark what the guest wrote since (chunks now
 * pending); final: the guest is parked, send the rest; stop: logs off,
 * freed. -1 with m->err. */
int blkmig_src_start(struct migration *m);
int blkmig_src_bulk(struct migration *m);
int64_t blkmig_src_send(struct migration *m);
uint64_t blkmig_src_harvest(struct migration *m);
int blkmig_src_final(struct migration *m);
void blkmig_src_stop(struct migration *m);

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
