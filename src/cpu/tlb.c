/* The hart's software TLBs and what hangs off them (the compiled load
 * sites' memos, the jump cache): the privilege bits in their keys, and
 * flushes. See tlb.h. */
#include <string.h>
#include "cpu/tlb.h"

void tlb_update_mode(struct hart *h)
{
	/* U-mode matches only U pages, S-mode only S pages unless SUM lets
	 * it match both; neither looks at the global bit. */
	if (h->priv == PRV_U) {
		h->tlb_mask = ~(uint64_t)TLB_TAG_GLOBAL;
		h->tlb_want = TLB_TAG_VALID | TLB_TAG_USER;
	} else {
		h->tlb_mask = ~(uint64_t)(TLB_TAG_GLOBAL |
					  ((h->sstatus & SSTATUS_SUM) ? TLB_TAG_USER : 0));
		h->tlb_want = TLB_TAG_VALID;
	}
}

void tlb_flush_all(struct hart *h)
{
	h->n_tlb_flush_all++;
	memset(h->tlb_x, 0, sizeof(h->tlb_x));
	memset(h->tlb_r, 0, sizeof(h->tlb_r));
	memset(h->tlb_w, 0, sizeof(h->tlb_w));
	memset(h->load_memo, 0, sizeof(h->load_memo));
	hart_jump_cache_flush(h);
	h->super_lo = ~0ull;
	h->super_hi = 0;
}

static void drop_non_global(struct tlb_entry *e, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (!(e[i].tag & TLB_TAG_GLOBAL))
			e[i].tag = 0;
}

void tlb_flush_non_global(struct hart *h)
{
	h->n_tlb_flush_non_global++;
	drop_non_global(h->tlb_x, TLB_SIZE);
	drop_non_global(h->tlb_r, TLB_SIZE);
	drop_non_global(h->tlb_w, TLB_SIZE);
	drop_non_global(h->load_memo, JIT_LOAD_SITES);
	/* the jump cache does not know which mappings its entries came from */
	hart_jump_cache_flush(h);
}

void tlb_flush_va(struct hart *h, uint64_t va)
{
	h->n_tlb_flush_va++;
	if (va >= h->super_lo && va <= h->super_hi) {
		h->n_tlb_flush_va_all++;
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

void tlb_note_superpage(struct hart *h, uint64_t va, unsigned shift)
{
	uint64_t lo = va & ~((1ull << shift) - 1), hi = lo | ((1ull << shift) - 1);
	if (lo < h->super_lo)
		h->super_lo = lo;
	if (hi > h->super_hi)
		h->super_hi = hi;
}
