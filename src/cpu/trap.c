/* Trap entry into S-mode and interrupts: what is pending (sip, with the
 * Sstc timer against guest time), what is deliverable, and raising a line
 * from any thread. See trap.h. */
#include "cpu/trap.h"
#include "cpu/tlb.h"
#include "cpu/hart_group.h"

uint64_t hart_read_sip(const struct hart *h)
{
	uint64_t ip = atomic_load_explicit(&h->mip, memory_order_relaxed) & (MIP_SSIP | MIP_SEIP);
	if (hart_group_time(h->group) >= h->stimecmp)
		ip |= MIP_STIP;
	return ip;
}

void hart_trap(struct hart *h, uint64_t cause, uint64_t tval)
{
	uint64_t s = h->sstatus;
	s = (s & ~SSTATUS_SPP) | (h->priv == PRV_S ? SSTATUS_SPP : 0);
	s = (s & ~SSTATUS_SPIE) | ((s & SSTATUS_SIE) ? SSTATUS_SPIE : 0);
	s &= ~SSTATUS_SIE;
	h->sstatus = s;
	h->scause = cause;
	h->sepc = h->pc;
	h->stval = tval;
	h->priv = PRV_S;
	uint64_t base = h->stvec & ~3ull;
	if ((h->stvec & 1) && (cause >> 63))
		h->pc = base + 4 * (cause & 63);
	else
		h->pc = base;
	tlb_update_mode(h);
}

void hart_set_pending(struct hart *h, uint64_t mask, int level)
{
	if (level) {
		atomic_fetch_or(&h->mip, mask);
		hart_kick(h);
		hart_group_kick(h->group);
	} else {
		atomic_fetch_and(&h->mip, ~mask);
	}
}

/* Highest-priority pending and enabled interrupt (SEI > SSI > STI), or 0. */
uint64_t hart_pending_irq(const struct hart *h)
{
	uint64_t p = hart_read_sip(h) & h->sie;
	if (!p)
		return 0;
	if (h->priv == PRV_S && !(h->sstatus & SSTATUS_SIE))
		return 0;
	if (p & MIP_SEIP) return IRQ_SEI;
	if (p & MIP_SSIP) return IRQ_SSI;
	return IRQ_STI;
}

int hart_check_interrupts(struct hart *h)
{
	uint64_t irq = hart_pending_irq(h);
	if (!irq)
		return 0;
	h->wfi = false;
	hart_trap(h, (1ull << 63) | irq, 0);
	return 1;
}
