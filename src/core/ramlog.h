/* Guest RAM writes made outside the TLB fast path. Every writer other than
 * a fast-path store (slow-path stores, AMOs and SC, A/D bit updates, device
 * DMA) reports here. That drops decoded code the write overlaps and, while
 * a migration logs dirty pages, sets the pages' bits.
 *
 * Fast-path stores are covered because a write TLB entry is only ever
 * filled by the slow path, which logs the page first; a sync flushes every
 * write TLB when it harvests the bits, so the next write to each page takes
 * the slow path again. */
#ifndef TERN_RAMLOG_H
#define TERN_RAMLOG_H
#include <stdbool.h>
#include <stdint.h>
#include "core/vm.h"

/* by: the hart that wrote (its own decoded copy is dropped at once), or
 * NULL for a device or the VMM. */
void ram_written(struct vm *vm, struct hart *by, uint64_t off, uint64_t len);

/* The dirty log (one bit per 4 KiB page of guest RAM). Start, stop and
 * sync must run where no hart is executing: on the vCPU thread between
 * slices, or with the VM paused. Device DMA from other threads may log
 * concurrently (the bits are atomic). */
int ram_dirty_log_start(struct vm *vm);
void ram_dirty_log_stop(struct vm *vm);
/* ORs the logged bits into out (ram_pages/64 words, rounded up), clears
 * them and flushes every hart's write TLB. Returns the number of pages. */
uint64_t ram_dirty_log_sync(struct vm *vm, uint64_t *out);
uint64_t ram_page_count(const struct vm *vm);

/* Free pages given back by the guest (virtio-balloon inflate and free page
 * reporting). ram_discard_track allocates the bitmap (0 or -ENOMEM). */
int ram_discard_track(struct vm *vm);
/* The guest gave [off, off+len) back (page-aligned; rounded inward). The
 * host drops the pages (they read as zero afterwards; RAM mapped from a
 * snapshot file is replaced by anonymous memory there, since dropping a
 * private file page would bring the file's bytes back), decoded code of
 * them goes, they leave every write TLB (so the next write is seen and
 * clears the mark) and, while a migration logs, they are dirty (they
 * travel as zero pages). Same threading rule as the dirty log: the harts
 * must not be executing. Returns the bytes discarded. */
uint64_t ram_discard(struct vm *vm, uint64_t off, uint64_t len);
/* How many pages are marked discarded now. */
uint64_t ram_discarded_count(const struct vm *vm);
/* RAM was replaced wholesale (reset, restore): no page is discarded. */
void ram_discard_forget(struct vm *vm);
/* --mem-merge: mark [off, off+len) MADV_MERGEABLE when vm->ram_mergeable. */
void ram_merge_advise(struct vm *vm, uint64_t off, uint64_t len);

/* True when the page is known free: it reads as zero and needs no copy. */
static inline bool ram_page_discarded(const struct vm *vm, uint64_t page)
{
	_Atomic uint64_t *d = vm->ram_discarded;
	return d && (atomic_load_explicit(&d[page >> 6], memory_order_relaxed) >> (page & 63) & 1);
}
#endif
