/* The hart's software TLBs (one per access type: fetch, load, store; an
 * entry maps a virtual page to host memory by an addend) and what hangs
 * off them: the compiled load sites' memos and the jump cache. Their tags
 * carry the privilege bits (tlb_want, tlb_mask), which change with the
 * mode. Filling them is the MMU's (cpu/mmu.h). */
#ifndef TERN_TLB_H
#define TERN_TLB_H
#include <stdint.h>
#include "cpu/hart.h"

#define PAGE_SHIFT 12
#define PAGE_SIZE  4096ull
#define PAGE_MASK  (~(PAGE_SIZE - 1))

/* Recompute tlb_mask/tlb_want after a change of privilege or SUM. */
void tlb_update_mode(struct hart *h);
/* Empty the hart's fetch, load and store TLBs, its load memos and its
 * jump cache. */
void tlb_flush_all(struct hart *h);
/* Drop every entry but those of global mappings (a satp write: entries
 * carry no ASID, and global mappings are the same in every address space).
 * The jump cache goes whole. */
void tlb_flush_non_global(struct hart *h);
/* A translation of va came from a superpage leaf of 1 << shift bytes:
 * widen the range that tlb_flush_va must flush whole for. */
void tlb_note_superpage(struct hart *h, uint64_t va, unsigned shift);
/* Drop the entries for the page holding va (sfence.vma with an address);
 * everything when va lies in a superpage some entry came from. */
void tlb_flush_va(struct hart *h, uint64_t va);

static inline uint64_t tlb_key(const struct hart *h, uint64_t va)
{
	return (va & PAGE_MASK) | h->tlb_want;
}

static inline int tlb_hit(const struct hart *h, const struct tlb_entry *e, uint64_t va)
{
	return (e->tag & h->tlb_mask) == tlb_key(h, va);
}
#endif
