/* Decoded-instruction cache: each guest code page (by physical address) is
 * decoded once into per-halfword slots that the interpreter dispatches on
 * directly. Each hart has its own cache, touched only by its own thread.
 * Writes to a page some hart has decoded reach it through the group's
 * code map (cpu/hart_group.h): the writer's own copy is dropped at once,
 * other harts' copies when they next serve their requests (HART_REQ_CODE:
 * at a slice boundary, and before a fence.i completes). */
#ifndef TERN_DCACHE_H
#define TERN_DCACHE_H
#include <stdint.h>
#include <stdatomic.h>
#include "cpu/hart_group.h"

struct hart;

#define DC_SLOTS 2048          /* one per 2-byte parcel of a 4 KiB page */
#define DC_PAGES 8192          /* direct-mapped; reserved, touched as used */

/* One decoded instruction. op indexes the interpreter's handler table; 0
 * means "not decoded yet". rd is 32 (a sink register) when the
 * architectural rd is x0, so handlers never need to re-zero x0. */
struct dinsn {
	uint16_t op;
	uint8_t rd, rs1, rs2, len;
	uint16_t pad;
	int32_t imm;
	uint32_t raw;              /* the instruction bits (16 for RVC) */
};

struct code_page {
	uint64_t pa;               /* physical page address, or ~0 when free */
	uint32_t gen;              /* the page's write generation when decoded */
	struct dinsn *slots;       /* DC_SLOTS entries */
};

struct dcache {
	struct code_page pages[DC_PAGES];
	struct dinsn *slab;        /* DC_PAGES * DC_SLOTS, reserved lazily */
	uint8_t *is_code;          /* one byte per RAM page: decoded copy exists */
	uint64_t ram_pages;
};


struct dcache *dcache_new(uint64_t ram_size);
void dcache_free(struct dcache *dc);
int code_map_init(struct code_map *m, uint64_t ram_size);
void code_map_fini(struct code_map *m);
/* Drop every page h decoded (reset, restore, a full code buffer). From h's
 * thread, or with h stopped. */
void dcache_clear(struct hart *h);
/* Decoded slots for the RAM page at ram offset `off` (page aligned);
 * claims a cache entry if needed and keeps the page out of every hart's
 * write TLB. */
struct dinsn *dcache_page(struct hart *h, uint64_t off);
/* RAM at [off, off+len) was written by something other than a fast-path
 * store (slow path, atomics, DMA): self (the writing hart, or NULL) drops
 * its decoded copies now, other harts are asked to (HART_REQ_CODE). */
void dcache_invalidate(struct hart_group *g, struct hart *self, uint64_t off, uint64_t len);
/* Guest RAM at [off, off+len) was written by something other than a
 * fast-path store: by (a hart, or NULL for a device or the VMM) drops its
 * decoded copies, the others are asked to (dcache_invalidate), and the
 * RAM's logs hear of it (guest_ram_written). Clipped to RAM. */
void dcache_ram_written(struct hart_group *g, struct hart *by, uint64_t off, uint64_t len);
/* Drop h's decoded pages that were written since they were decoded. */
void dcache_drop_stale(struct hart *h);
/* Whether a write TLB entry may map RAM page `off`: not while any hart
 * holds decoded code from it (checked again after the fill, see mmu.c). */
int dcache_page_is_code(const struct hart_group *g, uint64_t off);
#endif
