/* Hart lifecycle: reset, trap entry into S-mode, interrupt delivery. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include "cpu/hart.h"
#include "cpu/mmu.h"
#include "cpu/csr.h"
#include "cpu/dcache.h"
#include "cpu/jit.h"
#include "core/vm.h"

void hart_reset(struct hart *h, struct vm *vm, int id)
{
	/* Not a whole memset: another thread may be looking at hsm_state (0
	 * is HSM_STARTED), and requests already asked stay asked. */
	memset(h, 0, offsetof(struct hart, dcache));
	if (h->vm != vm) {          /* a new hart (from calloc) */
		h->dcache = NULL;
		h->jit = NULL;
		h->host_tid = 0;
		atomic_store(&h->req, 0);
	}
	atomic_store(&h->in_guest, 0);
	h->vm = vm;
	h->id = id;
	h->wfi = false;
	h->exit = HART_EXIT_NONE;
	h->start_addr = h->start_opaque = 0;
	h->id = id;
	h->priv = PRV_S;
	h->stimecmp = ~0ull;
	/* As OpenSBI does for a hart with Sstc, Zicbom and Zicboz. */
	h->menvcfg = MENVCFG_STCE | ENVCFG_CBZE | ENVCFG_CBCFE | ENVCFG_CBIE_INVAL;
	/* As firmware (OpenSBI) does: let U-mode read cycle, time, instret
	 * until the kernel decides otherwise. */
	h->scounteren = 7;
	if (atomic_load(&h->hsm_state) != HSM_START_PENDING)   /* SBI hart_start's */
		atomic_store(&h->hsm_state, HSM_STOPPED);
	mmu_update_mode(h);
	hart_tlb_flush(h);
}

void hart_serve_requests(struct hart *h)
{
	unsigned r = atomic_exchange(&h->req, 0);
	if (r & HART_REQ_TLB)
		hart_tlb_flush(h);
	else if (r & HART_REQ_TLB_W)
		memset(h->tlb_w, 0, sizeof(h->tlb_w));
	if ((r & HART_REQ_CODE) && h->dcache)
		dcache_drop_stale(h);
}

void hart_destroy(struct hart *h)
{
	if (!h)
		return;
	dcache_free(h->dcache);
	jit_free(h->jit);
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
		hart_kick(h);
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
