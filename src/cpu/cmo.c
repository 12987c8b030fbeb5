/* Zicbom/Zicboz (see cmo.h). There are no caches to manage: clean, flush
 * and inval only check that the block may be accessed; zero writes 64
 * zero bytes. Only RAM takes them (as LR/SC and AMOs). Whether a mode may use them is set by menvcfg (the VMM)
 * and, for U-mode, senvcfg. */
#include <string.h>
#include "cpu/cmo.h"
#include "cpu/hart.h"
#include "cpu/mmu.h"
#include "cpu/trap.h"
#include "cpu/hart_group.h"

/* The envcfg field `bits` enabled for the current privilege? */
static int cmo_enabled(const struct hart *h, uint64_t bits)
{
	if (!(h->menvcfg & bits))
		return 0;
	return h->priv != PRV_U || (h->senvcfg & bits);
}

int cmo_exec(struct hart *h, uint32_t insn)
{
	unsigned fn = insn >> 20;
	uint64_t va = h->x[(insn >> 15) & 31];
	uint64_t base = va & ~(uint64_t)(CBO_BLOCK_SIZE - 1);
	uint64_t need = fn == 4 ? ENVCFG_CBZE : fn == 0 ? ENVCFG_CBIE : ENVCFG_CBCFE;
	if (!cmo_enabled(h, need)) {
		hart_trap(h, EXC_ILLEGAL, insn);
		return 1;
	}
	if (fn == 4) {                                   /* cbo.zero: a store */
		struct tlb_entry *e = &h->tlb_w[(base >> PAGE_SHIFT) & (TLB_SIZE - 1)];
		if (tlb_hit(h, e, base)) {
			memset((void *)(uintptr_t)(base + e->addend), 0, CBO_BLOCK_SIZE);
			return 0;
		}
		uint64_t pa;
		void *p = mmu_atomic_ptr(h, base, CBO_BLOCK_SIZE, ACC_STORE, &pa);
		if (!p)
			return 1;
		memset(p, 0, CBO_BLOCK_SIZE);
		return 0;
	}
	/* clean/flush/inval: allowed when a load or a store would be; if
	 * neither is, the fault is reported as a store fault. Only RAM takes
	 * cache-block operations (as cbo.zero): elsewhere, an access fault. */
	uint64_t pa;
	int cause = mmu_translate(h, base, ACC_LOAD, &pa);
	if (!cause && !guest_ram_ptr(h->group->ram, pa, CBO_BLOCK_SIZE))
		cause = EXC_STORE_ACCESS;
	if (cause) {
		if (cause == EXC_LOAD_PAGE)
			cause = EXC_STORE_PAGE;
		else if (cause == EXC_LOAD_ACCESS)
			cause = EXC_STORE_ACCESS;
		hart_trap(h, (uint64_t)cause, base);
		return 1;
	}
	return 0;
}
