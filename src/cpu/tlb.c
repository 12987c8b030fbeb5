/* The hart's software TLBs and what hangs off them (the compiled load
 * sites' memos, the jump cache): the privilege bits in their keys, and
 * flushes. See tlb.h. */
#include <string.h>
#include "cpu/tlb.h"

void tlb_update_mode(struct hart *h)
{
	if (h->priv == PRV_U) {
		h->tlb_mask = ~0ull;
		h->tlb_want = 3;
	} else {
		h->tlb_mask = (h->sstatus & SSTATUS_SUM) ? ~2ull : ~0ull;
		h->tlb_want = 1;
	}
}

void tlb_flush_all(struct hart *h)
{
	memset(h->tlb_x, 0, sizeof(h->tlb_x));
	memset(h->tlb_r, 0, sizeof(h->tlb_r));
	memset(h->tlb_w, 0, sizeof(h->tlb_w));
	memset(h->load_memo, 0, sizeof(h->load_memo));
	hart_jump_cache_flush(h);
	h->tlb_super = false;
}

void tlb_flush_va(struct hart *h, uint64_t va)
{
	if (h->tlb_super) {
		/* Entries are per 4 KiB page, so the other pieces of a superpage
		 * holding va could be anywhere in the TLB. */
		tlb_flush_all(h);
		return;
	}
	unsigned i = (va >> PAGE_SHIFT) & (TLB_SIZE - 1);
	uint64_t page = va & PAGE_MASK;
	for (unsigned k = 0; k < JIT_LOAD_SITES; k++)
		if ((h->load_memo[k].tag & PAGE_MASK) == page)
			h->load_memo[k].tag = 0;
	hart_jump_cache_flush(h);
	if ((h->tlb_x[i].tag & PAGE_MASK) == page) h->tlb_x[i].tag = 0;
	if ((h->tlb_r[i].tag & PAGE_MASK) == page) h->tlb_r[i].tag = 0;
	if ((h->tlb_w[i].tag & PAGE_MASK) == page) h->tlb_w[i].tag = 0;
}
