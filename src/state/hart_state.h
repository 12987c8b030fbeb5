/* Saving and restoring one hart: every architectural register, the CSRs,
 * FP state, privilege, pending interrupts, stimecmp, the LR reservation
 * and the SBI HSM state. Caches (TLB, decoded code) are rebuilt. */
#ifndef TERN_HART_STATE_H
#define TERN_HART_STATE_H
struct hart;
struct vm;
struct vmbuf;
struct vmrd;

#define HART_STATE_VERSION 1
void hart_state_save(const struct hart *h, struct vmbuf *b);
/* Resets h, then fills it; -1 on a bad version or payload. */
int hart_state_load(struct hart *h, struct vm *vm, int id, struct vmrd *r, unsigned version);
#endif
