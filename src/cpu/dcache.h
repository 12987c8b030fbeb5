/* Decoded-instruction cache: each guest code page (by physical address) is
 * decoded once into per-halfword slots that the interpreter dispatches on
 * directly. Stores to a decoded page drop its decoded copy. */
#ifndef TERN_DCACHE_H
#define TERN_DCACHE_H
#include <stdint.h>

struct vm;
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
/* Drop every decoded page (reset, restore). */
void dcache_clear(struct dcache *dc);
/* Decoded slots for the RAM page at ram offset `off` (page aligned);
 * claims a cache entry if needed and keeps the page out of write TLBs. */
struct dinsn *dcache_page(struct vm *vm, uint64_t off);
/* RAM at [off, off+len) was written by something other than a fast-path
 * store (slow path, atomics, DMA): drop decoded copies it overlaps. */
void dcache_invalidate(struct vm *vm, uint64_t off, uint64_t len);
static inline int dcache_is_code(const struct dcache *dc, uint64_t off)
{
	return dc->is_code[off >> 12];
}
#endif
