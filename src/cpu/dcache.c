/* Decoded-instruction caches, one per hart, and the VM's code map that
 * carries writes on decoded pages to every hart that decoded them (see
 * dcache.h). */
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>
#include "cpu/dcache.h"
#include "cpu/hart.h"

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

int code_map_init(struct code_map *m, uint64_t ram_size)
{
	m->ram_pages = ram_size >> 12;
	m->harts = calloc(m->ram_pages, sizeof(*m->harts));
	m->gen = calloc(m->ram_pages, sizeof(*m->gen));
	if (!m->harts || !m->gen) {
		code_map_fini(m);
		return -1;
	}
	return 0;
}

void code_map_fini(struct code_map *m)
{
	free((void *)m->harts);
	free((void *)m->gen);
	memset(m, 0, sizeof(*m));
}

/* Forget h's decoded copy in entry cp (page p of RAM). */
static void drop_entry(struct hart *h, struct code_page *cp, uint64_t p)
{
	memset(cp->slots, 0, DC_SLOTS * sizeof(struct dinsn));
	cp->pa = ~0ull;
	h->dcache->is_code[p] = 0;
	atomic_fetch_and(&h->group->code_map.harts[p], (uint8_t)~(1u << h->id));
}

void dcache_clear(struct hart *h)
{
	struct dcache *dc = h->dcache;
	for (int i = 0; i < DC_PAGES; i++) {
		struct code_page *cp = &dc->pages[i];
		if (cp->pa != ~0ull)
			drop_entry(h, cp, (cp->pa - h->group->ram->base) >> 12);
	}
	hart_jump_cache_flush(h);
}

/* Remove write-TLB entries that point into RAM page `off`, on every hart,
 * so the next store to it takes the slow path and is seen. Other harts'
 * entries are cleared from this thread: a hart filling its write TLB at
 * the same time looks at the code map again after the fill (mmu.c), so
 * no entry outlives this; a store already past its TLB check may still
 * land, as it could on hardware without a fence.i. */
static void unmap_writes(struct hart_group *g, uint64_t off)
{
	uintptr_t host = (uintptr_t)(g->ram->host + off);
	for (int i = 0; i < g->nharts; i++) {
		struct hart *h = g->harts[i];
		for (int j = 0; j < TLB_SIZE; j++) {
			struct tlb_entry *e = &h->tlb_w[j];
			uint64_t tag = __atomic_load_n(&e->tag, __ATOMIC_RELAXED);
			if (tag && (uintptr_t)((tag & ~0xfffull) + e->addend) == host)
				__atomic_store_n(&e->tag, 0, __ATOMIC_RELAXED);
		}
	}
}

struct dinsn *dcache_page(struct hart *h, uint64_t off)
{
	struct dcache *dc = h->dcache;
	struct hart_group *g = h->group;
	uint64_t pa = g->ram->base + off;
	struct code_page *cp = &dc->pages[(off >> 12) & (DC_PAGES - 1)];
	if (cp->pa == pa)
		return cp->slots;
	if (cp->pa != ~0ull) {
		drop_entry(h, cp, (cp->pa - g->ram->base) >> 12);
		hart_jump_cache_flush(h);
	}
	cp->pa = pa;
	dc->is_code[off >> 12] = 1;
	atomic_fetch_or(&g->code_map.harts[off >> 12], (uint8_t)(1u << h->id));
	/* the generation after the bit is set: a write from now on bumps it */
	cp->gen = atomic_load(&g->code_map.gen[off >> 12]);
	unmap_writes(g, off);
	return cp->slots;
}

void dcache_invalidate(struct hart_group *g, struct hart *self, uint64_t off, uint64_t len)
{
	struct code_map *m = &g->code_map;
	if (!m->harts || !len)
		return;
	for (uint64_t p = off >> 12; p <= (off + len - 1) >> 12 && p < m->ram_pages; p++) {
		unsigned holders = atomic_load_explicit(&m->harts[p], memory_order_relaxed);
		if (!holders)
			continue;
		atomic_fetch_add(&m->gen[p], 1);
		for (int i = 0; i < g->nharts; i++) {
			if (!(holders & (1u << i)))
				continue;
			struct hart *t = g->harts[i];
			if (t == self) {
				struct code_page *cp = &t->dcache->pages[p & (DC_PAGES - 1)];
				if (cp->pa == g->ram->base + (p << 12)) {
					drop_entry(t, cp, p);
					hart_jump_cache_flush(t);
				}
			} else {
				atomic_fetch_or(&t->req, HART_REQ_CODE);
			}
		}
	}
}

void dcache_ram_written(struct hart_group *g, struct hart *by, uint64_t off, uint64_t len)
{
	if (!len || off >= g->ram->size)
		return;
	if (len > g->ram->size - off)
		len = g->ram->size - off;
	dcache_invalidate(g, by, off, len);
	guest_ram_written(g->ram, off, len);
}

void dcache_drop_stale(struct hart *h)
{
	struct dcache *dc = h->dcache;
	struct code_map *m = &h->group->code_map;
	int dropped = 0;
	for (int i = 0; i < DC_PAGES; i++) {
		struct code_page *cp = &dc->pages[i];
		if (cp->pa == ~0ull)
			continue;
		uint64_t p = (cp->pa - h->group->ram->base) >> 12;
		if (atomic_load_explicit(&m->gen[p], memory_order_acquire) != cp->gen) {
			drop_entry(h, cp, p);
			dropped = 1;
		}
	}
	if (dropped)
		hart_jump_cache_flush(h);
}

int dcache_page_is_code(const struct hart_group *g, uint64_t off)
{
	return g->code_map.harts &&
	       atomic_load(&g->code_map.harts[off >> 12]) != 0;
}
