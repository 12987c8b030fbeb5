/* Guest virtual memory: Sv39/Sv48 page walks with A/D updates, the
 * per-access-type addend TLB, and the load/store slow paths. */
#ifndef TERN_MMU_H
#define TERN_MMU_H
#include <stdint.h>
#include "cpu/hart.h"
#include "cpu/tlb.h"

enum mmu_access { ACC_FETCH = 0, ACC_LOAD = 1, ACC_STORE = 2 };

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
#endif
