/* Sv39/Sv48 translation with hardware A/D updates, TLB fills and the slow
 * paths for loads, stores, atomics and fetches (MMIO, page crossings). */
#include <errno.h>
#include <string.h>
#include "cpu/mmu.h"
#include "cpu/hart_group.h"
#include "cpu/dcache.h"
#include "cpu/trap.h"

#define PTE_V (1ull << 0)
#define PTE_R (1ull << 1)
#define PTE_W (1ull << 2)
#define PTE_X (1ull << 3)
#define PTE_U (1ull << 4)
#define PTE_G (1ull << 5)
#define PTE_A (1ull << 6)
#define PTE_D (1ull << 7)
#define PTE_PPN_SHIFT 10
#define PTE_RESERVED (0x3ffull << 54)   /* N, PBMT and reserved bits */

static const int fault_page[3] = { EXC_INSN_PAGE, EXC_LOAD_PAGE, EXC_STORE_PAGE };
static const int fault_access[3] = { EXC_INSN_ACCESS, EXC_LOAD_ACCESS, EXC_STORE_ACCESS };

/* Walk the page table. On success returns 0 and the physical address;
 * *tag_bits gets the leaf's TLB_TAG_USER and TLB_TAG_GLOBAL. */
static int walk(struct hart *h, uint64_t va, enum mmu_access acc, uint64_t *pa, unsigned *tag_bits)
{
	struct hart_group *g = h->group;
	int levels = h->vm_levels;
	h->n_walks++;
	int priv = h->priv;

	if (levels == 0) {
		*pa = va;
		*tag_bits = priv == PRV_U ? TLB_TAG_USER : 0;
		return 0;
	}
	int vabits = 12 + 9 * levels;
	int64_t sext = (int64_t)(va << (64 - vabits)) >> (64 - vabits);
	if ((uint64_t)sext != va)
		return fault_page[acc];

restart:;
	uint64_t table = h->pt_root;
	for (int lvl = levels - 1; lvl >= 0; lvl--) {
		uint64_t idx = (va >> (12 + 9 * lvl)) & 0x1ff;
		uint8_t *p = guest_ram_ptr(g->ram, table + idx * 8, 8);
		if (!p)
			return fault_access[acc];
		uint64_t pte = __atomic_load_n((uint64_t *)p, __ATOMIC_RELAXED);
		if (!(pte & PTE_V) || (!(pte & PTE_R) && (pte & PTE_W)) || (pte & PTE_RESERVED))
			return fault_page[acc];
		uint64_t ppn = (pte >> PTE_PPN_SHIFT) & ((1ull << 44) - 1);
		if (!(pte & (PTE_R | PTE_X))) {
			if (pte & (PTE_A | PTE_D | PTE_U))
				return fault_page[acc];   /* non-leaf must have these clear */
			table = ppn << PAGE_SHIFT;
			continue;
		}
		/* Leaf: permissions. */
		int is_user = !!(pte & PTE_U);
		if (acc == ACC_FETCH) {
			if (!(pte & PTE_X) || is_user != (priv == PRV_U))
				return fault_page[acc];
		} else {
			if (priv == PRV_U && !is_user)
				return fault_page[acc];
			if (priv == PRV_S && is_user && !(h->sstatus & SSTATUS_SUM))
				return fault_page[acc];
			if (acc == ACC_LOAD && !((pte & PTE_R) || ((h->sstatus & SSTATUS_MXR) && (pte & PTE_X))))
				return fault_page[acc];
			if (acc == ACC_STORE && !(pte & PTE_W))
				return fault_page[acc];
		}
		/* Superpage alignment. */
		uint64_t lowmask = (1ull << (9 * lvl)) - 1;
		if (ppn & lowmask)
			return fault_page[acc];
		/* Hardware A/D update (Svadu behaviour, as QEMU does). */
		uint64_t need = PTE_A | (acc == ACC_STORE ? PTE_D : 0);
		if ((pte & need) != need) {
			uint64_t expect = pte;
			if (!__atomic_compare_exchange_n((uint64_t *)p, &expect, pte | need, false,
							 __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
				goto restart;   /* the PTE changed under us: walk again */
			dcache_ram_written(g, h, (uint64_t)(p - g->ram->host), 8);
		}
		if (lvl > 0)
			tlb_note_superpage(h, va, 12 + 9 * lvl);
		uint64_t page = (ppn | ((va >> 12) & lowmask)) << PAGE_SHIFT;
		*pa = page | (va & (PAGE_SIZE - 1));
		*tag_bits = (is_user ? TLB_TAG_USER : 0) | ((pte & PTE_G) ? TLB_TAG_GLOBAL : 0);
		return 0;
	}
	return fault_page[acc];
}

int mmu_translate(struct hart *h, uint64_t va, enum mmu_access acc, uint64_t *pa)
{
	unsigned tag_bits;
	return walk(h, va, acc, pa, &tag_bits);
}

static void tlb_fill(struct tlb_entry *tlb, uint64_t va, uint8_t *host, unsigned tag_bits)
{
	struct tlb_entry *e = &tlb[(va >> PAGE_SHIFT) & (TLB_SIZE - 1)];
	e->tag = (va & PAGE_MASK) | TLB_TAG_VALID | tag_bits;
	e->addend = (uintptr_t)(host - (va & (PAGE_SIZE - 1))) - (va & PAGE_MASK);
}

/* A write entry, unless some hart holds decoded code from the page: the
 * code map is looked at after the fill, so that either this hart sees a
 * new holder's bit or the holder's unmap_writes (dcache.c) sees the entry. */
static void tlb_fill_write(struct hart *h, uint64_t va, uint8_t *host, unsigned tag_bits, uint64_t pa)
{
	tlb_fill(h->tlb_w, va, host, tag_bits);
	atomic_thread_fence(memory_order_seq_cst);
	if (dcache_page_is_code(h->group, pa - h->group->ram->base))
		h->tlb_w[(va >> PAGE_SHIFT) & (TLB_SIZE - 1)].tag = 0;
}

static uint64_t load_le(const uint8_t *p, unsigned size)
{
	switch (size) {
	case 1: return *p;
	case 2: { uint16_t v; memcpy(&v, p, 2); return v; }
	case 4: { uint32_t v; memcpy(&v, p, 4); return v; }
	default: { uint64_t v; memcpy(&v, p, 8); return v; }
	}
}

static void store_le(uint8_t *p, unsigned size, uint64_t v)
{
	switch (size) {
	case 1: *p = (uint8_t)v; break;
	case 2: { uint16_t t = (uint16_t)v; memcpy(p, &t, 2); break; }
	case 4: { uint32_t t = (uint32_t)v; memcpy(p, &t, 4); break; }
	default: memcpy(p, &v, 8); break;
	}
}

int mmu_load_slow(struct hart *h, uint64_t va, unsigned size, uint64_t *val)
{
	if ((va & (PAGE_SIZE - 1)) + size > PAGE_SIZE) {
		/* Misaligned access across a page boundary: byte by byte. */
		uint64_t v = 0, b;
		for (unsigned i = 0; i < size; i++) {
			if (mmu_load_slow(h, va + i, 1, &b))
				return 1;
			v |= b << (8 * i);
		}
		*val = v;
		return 0;
	}
	uint64_t pa;
	unsigned tag_bits;
	int cause = walk(h, va, ACC_LOAD, &pa, &tag_bits);
	if (cause) {
		hart_trap(h, cause, va);
		return 1;
	}
	uint8_t *host = guest_ram_ptr(h->group->ram, pa, size);
	if (host) {
		tlb_fill(h->tlb_r, va, host, tag_bits);
		*val = load_le(host, size);
		return 0;
	}
	if ((pa & (size - 1)) || hart_group_mmio_read(h->group, pa, size, val)) {
		hart_trap(h, EXC_LOAD_ACCESS, va);
		return 1;
	}
	return 0;
}

int mmu_store_slow(struct hart *h, uint64_t va, unsigned size, uint64_t val)
{
	if ((va & (PAGE_SIZE - 1)) + size > PAGE_SIZE) {
		/* Check both pages first so a fault leaves memory untouched. */
		uint64_t pa, next = (va | (PAGE_SIZE - 1)) + 1, fault_va = va;
		int cause = mmu_translate(h, va, ACC_STORE, &pa);
		if (!cause) {
			fault_va = next;
			cause = mmu_translate(h, next, ACC_STORE, &pa);
		}
		if (cause) {
			hart_trap(h, cause, fault_va);
			return 1;
		}
		for (unsigned i = 0; i < size; i++)
			if (mmu_store_slow(h, va + i, 1, (val >> (8 * i)) & 0xff))
				return 1;
		return 0;
	}
	uint64_t pa;
	unsigned tag_bits;
	int cause = walk(h, va, ACC_STORE, &pa, &tag_bits);
	if (cause) {
		hart_trap(h, cause, va);
		return 1;
	}
	uint8_t *host = guest_ram_ptr(h->group->ram, pa, size);
	if (host) {
		/* The store lands before it is reported, so that a hart that
		 * re-decodes the page after the report sees it; the report comes
		 * before the fill, so later fast-path writes to the page are
		 * covered by its dirty-log entry. */
		store_le(host, size, val);
		dcache_ram_written(h->group, h, pa - h->group->ram->base, size);
		tlb_fill_write(h, va, host, tag_bits, pa);
		return 0;
	}
	if ((pa & (size - 1)) || hart_group_mmio_write(h->group, pa, size, val)) {
		hart_trap(h, EXC_STORE_ACCESS, va);
		return 1;
	}
	return 0;
}

void *mmu_atomic_ptr(struct hart *h, uint64_t va, unsigned size, enum mmu_access acc, uint64_t *pa_out)
{
	if (va & (size - 1)) {
		hart_trap(h, acc == ACC_LOAD ? EXC_LOAD_MISALIGNED : EXC_STORE_MISALIGNED, va);
		return NULL;
	}
	uint64_t pa;
	unsigned tag_bits;
	int cause = walk(h, va, acc, &pa, &tag_bits);
	if (cause) {
		hart_trap(h, cause, va);
		return NULL;
	}
	uint8_t *host = guest_ram_ptr(h->group->ram, pa, size);
	if (!host) {
		hart_trap(h, acc == ACC_LOAD ? EXC_LOAD_ACCESS : EXC_STORE_ACCESS, va);
		return NULL;
	}
	if (acc == ACC_STORE) {
		dcache_ram_written(h->group, h, pa - h->group->ram->base, size);
		tlb_fill_write(h, va, host, tag_bits, pa);
	} else {
		tlb_fill(h->tlb_r, va, host, tag_bits);
	}
	*pa_out = pa;
	return host;
}

uint8_t *mmu_fetch_page(struct hart *h, uint64_t pc)
{
	uint64_t page = pc & PAGE_MASK;
	struct tlb_entry *e = &h->tlb_x[(pc >> PAGE_SHIFT) & (TLB_SIZE - 1)];
	/* Fetch never uses SUM: S-mode cannot execute U pages. */
	uint64_t want = page | TLB_TAG_VALID | (h->priv == PRV_U ? TLB_TAG_USER : 0);
	if ((e->tag & ~(uint64_t)TLB_TAG_GLOBAL) != want) {
		uint64_t pa;
		unsigned tag_bits;
		int cause = walk(h, pc, ACC_FETCH, &pa, &tag_bits);
		if (cause) {
			hart_trap(h, cause, pc);
			return NULL;
		}
		uint8_t *host = guest_ram_ptr(h->group->ram, pa & PAGE_MASK, PAGE_SIZE);
		if (!host) {
			hart_trap(h, EXC_INSN_ACCESS, pc);
			return NULL;
		}
		tlb_fill(h->tlb_x, pc, host + (pc & (PAGE_SIZE - 1)), tag_bits);
	}
	return (uint8_t *)(uintptr_t)(page + e->addend);
}

int mmu_fetch16(struct hart *h, uint64_t va, uint16_t *out)
{
	uint64_t pa;
	unsigned tag_bits;
	int cause = walk(h, va, ACC_FETCH, &pa, &tag_bits);
	if (cause) {
		hart_trap(h, cause, va);
		return 1;
	}
	uint8_t *host = guest_ram_ptr(h->group->ram, pa, 2);
	if (!host) {
		hart_trap(h, EXC_INSN_ACCESS, va);
		return 1;
	}
	memcpy(out, host, 2);
	return 0;
}
