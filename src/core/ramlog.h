/* Guest RAM writes made outside the TLB fast path, and what they mean for
 * the harts. Every writer other than a fast-path store (slow-path stores,
 * AMOs and SC, A/D bit updates, device DMA) reports here. That drops
 * decoded code the write overlaps and tells the RAM (mem/guest_ram.h),
 * which clears the pages' discarded marks and, while a migration logs
 * dirty pages, sets their bits.
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
#include "cpu/dcache.h"

/* by: the hart that wrote (its own decoded copy is dropped at once), or
 * NULL for a device or the VMM. */
static inline void ram_written(struct vm *vm, struct hart *by, uint64_t off, uint64_t len)
{
	dcache_ram_written(&vm->cpus, by, off, len);
}

/* The dirty log (one bit per 4 KiB page of guest RAM). Start, stop and
 * sync must run where no hart is executing: on the vCPU thread between
 * slices, or with the VM paused. Device DMA from other threads may log
 * concurrently (the bits are atomic). Start returns 0 or -ENOMEM. */
int ram_dirty_log_start(struct vm *vm);
static inline void ram_dirty_log_stop(struct vm *vm)
{
	guest_ram_log_stop(&vm->mem);
}
/* ORs the logged bits into out (ram pages/64 words, rounded up), clears
 * them and flushes every hart's write TLB. Returns the number of pages. */
uint64_t ram_dirty_log_sync(struct vm *vm, uint64_t *out);

/* The guest gave [off, off+len) back (virtio-balloon inflate and free page
 * reporting; rounded inward to pages). The pages leave every write TLB (so
 * the next write is seen and clears the mark), the host drops them
 * (guest_ram_drop) and decoded code of them goes. Same threading rule as
 * the dirty log: the harts must not be executing. Returns the bytes
 * discarded. */
uint64_t ram_discard(struct vm *vm, uint64_t off, uint64_t len);
#endif
