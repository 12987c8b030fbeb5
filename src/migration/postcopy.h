/* Post-copy's wire constant, shared by both sides (postcopy_src.h,
 * postcopy_dst.h). Not for use outside src/migration/. */
#ifndef TERN_MIG_POSTCOPY_H
#define TERN_MIG_POSTCOPY_H
#include <stdint.h>

/* The message a post-copy destination sends once every page is in place
 * (otherwise its messages are page indices it needs: 8 bytes, LE). */
#define MIG_POSTCOPY_DONE UINT64_MAX
#endif
