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
#include <stdint.h>

/* The wire format's limits, shared by both sides (blkmig_src.h,
 * blkmig_dst.h). */
#define BLKMIG_BATCH_MAX 16         /* chunks per BLOCK_BATCH section */
#define BLKMIG_HDR 8                /* u32 disk, u32 count */
#define BLKMIG_ENC_MAX (BLKMIG_HDR + BLKMIG_BATCH_MAX * (8 + 65536))
#define BLKMIG_NAME_MAX 4095
#define BLKMIG_REPLY_MAX 1024       /* the destination's refusal message */

#endif
