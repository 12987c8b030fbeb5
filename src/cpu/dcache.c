/* Decoded-instruction cache storage and invalidation (see dcache.h). */
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>
#include "cpu/dcache.h"
#include "cpu/hart.h"
#include "core/vm.h"

struct dcache *dcache_new(uint64_t ram_size)
{
	struct dcache *dc = calloc(1, sizeof(*dc));
	if (!dc)
		return NULL;
	dc->ram_pages = ram_size >> 12;
	dc->is_code = calloc(dc->ram_pages, 1);
	size_t bytes = (size_t)DC_PAGES * DC_SLOTS * sizeof(struct dinsn);
	dc->slab = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (!dc->is_code || dc->slab == MAP_FAILED) {
		free(dc->is_code);
		free(dc);
		return NULL;
	}
	for (int i = 0; i < DC_PAGES; i++) {
		dc->pages[i].pa = ~0ull;
		dc->pages[i].slots = dc->slab + (size_t)i * DC_SLOTS;
	}
	return dc;
}

void dcache_free(struct dcache *dc)
{
	if (!dc)
		return;
	munmap(dc->slab, (size_t)DC_PAGES * DC_SLOTS * sizeof(struct dinsn));
	free(dc->is_code);
	free(dc);
}

void dcache_clear(struct dcache *dc)
{
	for (int i = 0; i < DC_PAGES; i++) {
		if (dc->pages[i].pa != ~0ull)
			memset(dc->pages[i].slots, 0, DC_SLOTS * sizeof(struct dinsn));
		dc->pages[i].pa = ~0ull;
	}
	memset(dc->is_code, 0, dc->ram_pages);
}

/* Remove write-TLB entries that point into RAM page `off`, on every hart, so
 * the next store to it takes the slow path and invalidates. */
static void unmap_writes(struct vm *vm, uint64_t off)
{
	uintptr_t host = (uintptr_t)(vm->ram + off);
	for (int i = 0; i < vm->nharts; i++) {
		struct hart *h = vm->harts[i];
		for (int j = 0; j < TLB_SIZE; j++) {
			struct tlb_entry *e = &h->tlb_w[j];
			if (e->tag && (uintptr_t)((e->tag & ~0xfffull) + e->addend) == host)
				e->tag = 0;
		}
	}
}

struct dinsn *dcache_page(struct vm *vm, uint64_t off)
{
	struct dcache *dc = vm->dcache;
	uint64_t pa = vm->ram_base + off;
	struct code_page *cp = &dc->pages[(off >> 12) & (DC_PAGES - 1)];
	if (cp->pa == pa)
		return cp->slots;
	if (cp->pa != ~0ull) {
		dc->is_code[(cp->pa - vm->ram_base) >> 12] = 0;
		memset(cp->slots, 0, DC_SLOTS * sizeof(struct dinsn));
	}
	cp->pa = pa;
	dc->is_code[off >> 12] = 1;
	unmap_writes(vm, off);
	return cp->slots;
}

void dcache_invalidate(struct vm *vm, uint64_t off, uint64_t len)
{
	struct dcache *dc = vm->dcache;
	if (!dc || !len)
		return;
	for (uint64_t p = off >> 12; p <= (off + len - 1) >> 12 && p < dc->ram_pages; p++) {
		if (!dc->is_code[p])
			continue;
		struct code_page *cp = &dc->pages[p & (DC_PAGES - 1)];
		if (cp->pa == vm->ram_base + (p << 12)) {
			memset(cp->slots, 0, DC_SLOTS * sizeof(struct dinsn));
			cp->pa = ~0ull;
		}
		dc->is_code[p] = 0;
	}
}
