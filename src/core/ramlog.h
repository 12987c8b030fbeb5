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
#include <stdint.h>

struct vm;

void ram_written(struct vm *vm, uint64_t off, uint64_t len);

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
#endif
