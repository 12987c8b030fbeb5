/* Hart lifecycle: reset, trap entry into S-mode, interrupt delivery. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cpu/hart.h"
#include "cpu/mmu.h"
#include "cpu/csr.h"
#include "core/vm.h"

void hart_reset(struct hart *h, struct vm *vm, int id)
{
	memset(h, 0, sizeof(*h));
	h->vm = vm;
	h->id = id;
	h->priv = PRV_S;
	h->stimecmp = ~0ull;
	/* As OpenSBI does for a hart with Sstc, Zicbom and Zicboz. */
	h->menvcfg = MENVCFG_STCE | ENVCFG_CBZE | ENVCFG_CBCFE | ENVCFG_CBIE_INVAL;
	/* As firmware (OpenSBI) does: let U-mode read cycle, time, instret
	 * until the kernel decides otherwise. */
	h->scounteren = 7;
	h->hsm_state = HSM_STOPPED;
	mmu_update_mode(h);
	hart_tlb_flush(h);
}

void hart_destroy(struct hart *h)
{
	if (!h)
		return;
	if (getenv("TERN_CPU_STATS"))
		fprintf(stderr, "cpu: hart %d: %llu instructions, %llu SBI calls (%llu set_timer), "
			"%llu stimecmp writes\n", h->id, (unsigned long long)h->instret,
			(unsigned long long)h->n_sbi_calls, (unsigned long long)h->n_sbi_set_timer,
			(unsigned long long)h->n_stimecmp_writes);
	free(h);
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
	mmu_update_mode(h);
}

void hart_set_pending(struct hart *h, uint64_t mask, int level)
{
	if (level) {
		atomic_fetch_or(&h->mip, mask);
		vm_kick(h->vm);
	} else {
		atomic_fetch_and(&h->mip, ~mask);
	}
}

/* Highest-priority pending and enabled interrupt (SEI > SSI > STI), or 0. */
uint64_t hart_pending_irq(const struct hart *h)
{
	uint64_t p = csr_read_sip(h) & h->sie;
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
