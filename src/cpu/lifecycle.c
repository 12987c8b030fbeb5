/* A hart's life: reset, the requests other threads leave it, and its end.
 * See lifecycle.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include "cpu/lifecycle.h"
#include "cpu/tlb.h"
#include "cpu/dcache.h"
#include "cpu/jit.h"

void hart_reset(struct hart *h, struct hart_group *g, int id)
{
	/* Not a whole memset: another thread may be looking at hsm_state (0
	 * is HSM_STARTED), and requests already asked stay asked. */
	memset(h, 0, offsetof(struct hart, dcache));
	if (h->group != g) {          /* a new hart (from calloc) */
		h->dcache = NULL;
		h->jit = NULL;
		h->host_tid = 0;
		atomic_store(&h->req, 0);
	}
	atomic_store(&h->in_guest, 0);
	h->group = g;
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
	tlb_update_mode(h);
	tlb_flush_all(h);
}

void hart_serve_requests(struct hart *h)
{
	unsigned r = atomic_exchange(&h->req, 0);
	if (r & HART_REQ_TLB)
		tlb_flush_all(h);
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
			"%llu stimecmp writes, %llu page walks, %llu whole TLB flushes, %llu satp flushes, "
			"%llu sfence.vma with an address (%llu of them whole)\n", h->id,
			(unsigned long long)h->instret, (unsigned long long)h->n_sbi_calls,
			(unsigned long long)h->n_sbi_set_timer, (unsigned long long)h->n_stimecmp_writes,
			(unsigned long long)h->n_walks, (unsigned long long)h->n_tlb_flush_all,
			(unsigned long long)h->n_tlb_flush_non_global,
			(unsigned long long)h->n_tlb_flush_va, (unsigned long long)h->n_tlb_flush_va_all);
	free(h);
}
