/* Guest virtual memory: Sv39/Sv48 page walks with A/D updates, the
 * per-access-type addend TLB, and the load/store slow paths. */
#ifndef TERN_MMU_H
#define TERN_MMU_H
#include <stdint.h>
#include <string.h>
#include "cpu/hart.h"

enum mmu_access { ACC_FETCH = 0, ACC_LOAD = 1, ACC_STORE = 2 };

#define PAGE_SHIFT 12
#define PAGE_SIZE  4096ull
#define PAGE_MASK  (~(PAGE_SIZE - 1))

/* Translate va for the given access. On success stores the physical address
 * and returns 0; on failure returns the exception cause (> 0) to raise. */
int mmu_translate(struct hart *h, uint64_t va, enum mmu_access acc, uint64_t *pa);

/* Slow paths: translate, fill the TLB, do the access (RAM or MMIO, any
 * alignment). Return 0, or raise the exception on h and return 1. */
int mmu_load_slow(struct hart *h, uint64_t va, unsigned size, uint64_t *val);
int mmu_store_slow(struct hart *h, uint64_t va, unsigned size, uint64_t val);
/* Host pointer to an aligned, RAM-backed location for LR/SC/AMO; raises
 * the exception and returns NULL on failure. acc is ACC_LOAD for LR. */
void *mmu_atomic_ptr(struct hart *h, uint64_t va, unsigned size, enum mmu_access acc, uint64_t *pa);
/* Host address of the (RAM) code page holding pc, through the fetch TLB;
 * raises the fault and returns NULL when it cannot be fetched. */
uint8_t *mmu_fetch_page(struct hart *h, uint64_t pc);
/* Fetch a 16-bit parcel from anywhere (page-crossing instructions). */
int mmu_fetch16(struct hart *h, uint64_t va, uint16_t *out);
/* Recompute tlb_mask/tlb_want after a change of privilege or SUM. */
void mmu_update_mode(struct hart *h);
/* Empty the hart's fetch, load and store TLBs. */
void hart_tlb_flush(struct hart *h);
void mmu_flush_va(struct hart *h, uint64_t va);

static inline uint64_t tlb_key(const struct hart *h, uint64_t va)
{
	return (va & PAGE_MASK) | h->tlb_want;
}

static inline int tlb_hit(const struct hart *h, const struct tlb_entry *e, uint64_t va)
{
	return (e->tag & h->tlb_mask) == tlb_key(h, va);
}
#endif
