/* Trap entry into S-mode, and interrupts: pending, deliverable, raised. */
#ifndef TERN_TRAP_H
#define TERN_TRAP_H
#include <stdint.h>
#include "cpu/hart.h"

/* sip as the guest reads it: SSIP and SEIP as raised, STIP from the Sstc
 * timer (stimecmp against guest time). */
uint64_t hart_read_sip(const struct hart *h);
/* Raise (level=1) or clear an interrupt-pending bit from any thread. */
void hart_set_pending(struct hart *h, uint64_t mask, int level);
/* Take an exception or interrupt (cause bit 63) into S-mode. */
void hart_trap(struct hart *h, uint64_t cause, uint64_t tval);
/* The interrupt that would be taken now (IRQ_*), or 0. */
uint64_t hart_pending_irq(const struct hart *h);
/* Take a pending interrupt if one is deliverable; returns 1 if taken. */
int hart_check_interrupts(struct hart *h);

#endif
