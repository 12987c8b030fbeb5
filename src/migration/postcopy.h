/* Post-copy's entry points, called by the pre-copy code of each side
 * (migrate_src.c, migrate_dst.c); post-copy itself uses only the side's
 * shared header (mig_src_priv.h, mig_dst_priv.h), never the pre-copy file
 * that calls it. Not for use outside src/migration/. */
#ifndef TERN_MIG_POSTCOPY_H
#define TERN_MIG_POSTCOPY_H
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct migration;
struct mig_incoming;
struct vm;
struct vms_section;

/* The message a post-copy destination sends once every page is in place
 * (otherwise its messages are page indices it needs: 8 bytes, LE). */
#define MIG_POSTCOPY_DONE UINT64_MAX

/* Post-copy, source side (postcopy_src.c): the switch-over (pinned pages,
 * devices, the bitmap of pages still to come, the destination's ACK), and
 * then serving the destination's requests while pushing the rest. */
int postcopy_switch_over(struct migration *m);
int postcopy_push(struct migration *m);

/* Post-copy, destination side (postcopy_dst.c). start takes the
 * POSTCOPY section (the bitmap of pages still on the source), installs the
 * fetch path in vm, acknowledges the switch-over and starts the thread
 * that receives pages. stop ends it (the VM is done) and frees it. */
int postcopy_dst_start(struct mig_incoming *in, struct vm *vm, const struct vms_section *s,
		       char *err, size_t errlen);
void postcopy_dst_stop(struct mig_incoming *in);
void postcopy_dst_info(struct mig_incoming *in, struct mig_incoming_info *out);
#endif
