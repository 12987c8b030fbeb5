/* Post-copy, source side (postcopy_src.c), called by migrate_src.c; it uses
 * only mig_src_priv.h and mig_switch.h, never its caller. Not for use
 * outside src/migration/. */
#ifndef TERN_MIG_POSTCOPY_SRC_H
#define TERN_MIG_POSTCOPY_SRC_H

struct migration;

/* The switch-over (pinned pages, devices, the bitmap of pages still to
 * come, the destination's ACK), and then serving the destination's
 * requests while pushing the rest. */
int postcopy_switch_over(struct migration *m);
int postcopy_push(struct migration *m);
#endif
