/* Storage migration, source side (blkmig_src.c; see blkmig.h). Not for
 * use outside src/migration/. */
#ifndef TERN_MIG_BLKMIG_SRC_H
#define TERN_MIG_BLKMIG_SRC_H
#include <stdint.h>

struct migration;

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
#endif
