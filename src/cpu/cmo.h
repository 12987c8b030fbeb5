/* Zicbom and Zicboz: the cache-block management and zero instructions
 * (cbo.clean, cbo.flush, cbo.inval, cbo.zero), for the interpreter and
 * the block compiler alike. */
#ifndef TERN_CMO_H
#define TERN_CMO_H
#include <stdint.h>

struct hart;

/* Execute the cbo.* instruction `insn` (decoded as OP_CBO) at h->pc.
 * Returns 0, or 1 after raising the exception on h. */
int cmo_exec(struct hart *h, uint32_t insn);
#endif
