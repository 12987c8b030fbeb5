/* XBZRLE for live migration: pages the guest rewrites between pre-copy
 * rounds travel as the bytes that changed since their last send, not as
 * whole pages. The source keeps a bounded cache of what it last sent of
 * each page (filled from the second round on, as QEMU skips its bulk
 * stage); the destination applies a delta to the page it already holds.
 * A delta is ULEB128 runs: (unchanged bytes, changed bytes, their new
 * contents), repeated; the decoder treats it as hostile. Format:
 * docs/MIGRATION.md ("Deltas"). */
#ifndef TERN_MIG_XBZRLE_H
#define TERN_MIG_XBZRLE_H
#include <stddef.h>
#include <stdint.h>

/* The largest delta the encoder makes: a page with more changed bytes
 * goes whole (copying it costs less than the runs on both sides). */
#define XBZ_MAX_DELTA 2048

struct xbz_cache;

/* A cache of up to cache_bytes (rounded down to pages, at most the guest's
 * size) for a guest of guest_pages pages. Slots are mapped on first use.
 * NULL when out of memory. */
struct xbz_cache *xbz_cache_new(uint64_t guest_pages, uint64_t cache_bytes);
void xbz_cache_free(struct xbz_cache *c);
/* Maps the first `pages` slots now, on a thread of its own: first touching
 * a slot as it fills costs a page fault, ~10 us where the host backs memory
 * lazily, which would otherwise fall in the round that fills the cache.
 * The thread writes into the slots, so the first xbz_insert stops it (the
 * rest map as they fill), as does xbz_cache_free. Only before the first
 * insert, once. */
void xbz_cache_prefault(struct xbz_cache *c, uint64_t pages);
/* The cache's size in bytes (the slots it may use). */
uint64_t xbz_cache_bytes(const struct xbz_cache *c);
/* What was last sent of page, or NULL when it is not cached. */
uint8_t *xbz_lookup(struct xbz_cache *c, uint64_t page);
/* A slot for page (not cached yet) to copy what is sent into, or NULL
 * when the cache is full (nothing is evicted: a full cache keeps the
 * pages that came first, so a writer that cycles through more pages than
 * fit still hits on those). */
uint8_t *xbz_insert(struct xbz_cache *c, uint64_t page);
/* Page is no longer what the cache holds (it was sent as zero). */
void xbz_forget(struct xbz_cache *c, uint64_t page);

/* Encodes cur against old (4 KiB each) into out (at most XBZ_MAX_DELTA
 * bytes) and updates old to what it sent. The guest may write cur
 * meanwhile: every byte sent is read once, and old gets that same byte.
 * Returns the delta's length (0: nothing changed), or -1 when it would be
 * longer than XBZ_MAX_DELTA (out and old are then partly written: the
 * caller sends the page whole and copies it into old). */
int xbz_encode(const uint8_t *cur, uint8_t *old, uint8_t *out);
/* Checks a delta of len bytes: runs within the page, no empty changed
 * run, varints of at most two bytes, nothing left over. 0, or -1. */
int xbz_check(const uint8_t *d, size_t len);
/* Applies a checked delta to page. */
void xbz_apply(uint8_t *page, const uint8_t *d, size_t len);
#endif
