/* Guest RAM write tracking: decoded-code invalidation and the dirty-page
 * log for live migration (see ramlog.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "core/ramlog.h"
#include "core/vm.h"
#include "cpu/dcache.h"

uint64_t ram_page_count(const struct vm *vm)
{
	return vm->ram_size >> 12;
}

static void mark_dirty(struct vm *vm, uint64_t off, uint64_t len)
{
	_Atomic uint64_t *log = atomic_load_explicit(&vm->dirty_log, memory_order_acquire);
	if (!log)
		return;
	for (uint64_t p = off >> 12; p <= (off + len - 1) >> 12; p++)
		atomic_fetch_or_explicit(&log[p >> 6], 1ull << (p & 63), memory_order_relaxed);
}

void ram_written(struct vm *vm, struct hart *by, uint64_t off, uint64_t len)
{
	if (!len || off >= vm->ram_size)
		return;
	if (len > vm->ram_size - off)
		len = vm->ram_size - off;
	dcache_invalidate(vm, by, off, len);
	_Atomic uint64_t *disc = vm->ram_discarded;
	if (disc) {
		/* the page holds data again: it must be copied from now on */
		for (uint64_t p = off >> 12; p <= (off + len - 1) >> 12; p++)
			if (atomic_load_explicit(&disc[p >> 6], memory_order_relaxed) & (1ull << (p & 63)))
				atomic_fetch_and_explicit(&disc[p >> 6], ~(1ull << (p & 63)),
							  memory_order_relaxed);
	}
	mark_dirty(vm, off, len);
}

static void flush_write_tlbs(struct vm *vm)
{
	for (int i = 0; i < vm->nharts; i++)
		memset(vm->harts[i]->tlb_w, 0, sizeof(vm->harts[i]->tlb_w));
}

int ram_dirty_log_start(struct vm *vm)
{
	uint64_t words = (ram_page_count(vm) + 63) / 64;
	_Atomic uint64_t *log = calloc(words, sizeof(*log));
	if (!log)
		return -1;
	atomic_store_explicit(&vm->dirty_log, log, memory_order_release);
	flush_write_tlbs(vm);        /* every page's next write is logged */
	return 0;
}

void ram_dirty_log_stop(struct vm *vm)
{
	_Atomic uint64_t *log = atomic_exchange(&vm->dirty_log, NULL);
	/* A device thread may still be inside ram_written with the old
	 * pointer; the log is freed only once no DMA can be in flight, which
	 * the callers guarantee by stopping the log with the VM paused and its
	 * devices quiesced. */
	free((void *)log);
}

uint64_t ram_dirty_log_sync(struct vm *vm, uint64_t *out)
{
	_Atomic uint64_t *log = atomic_load_explicit(&vm->dirty_log, memory_order_acquire);
	uint64_t pages = ram_page_count(vm), n = 0;
	if (!log)
		return 0;
	flush_write_tlbs(vm);
	for (uint64_t i = 0; i < (pages + 63) / 64; i++) {
		uint64_t w = atomic_exchange_explicit(&log[i], 0, memory_order_acq_rel);
		out[i] |= w;
		n += (uint64_t)__builtin_popcountll(w);
	}
	return n;
}

int vm_ram_demand(const struct vm *vm, uint64_t off, uint64_t len)
{
	_Atomic uint64_t *absent = atomic_load_explicit(&vm->ram_absent, memory_order_acquire);
	if (!absent)
		return 0;
	for (uint64_t p = off >> 12; p <= (off + len - 1) >> 12; p++) {
		/* acquire: the page's contents were written before its bit cleared */
		if (!(atomic_load_explicit(&absent[p >> 6], memory_order_acquire) & (1ull << (p & 63))))
			continue;
		if (vm->ram_fetch(vm->ram_fetch_ctx, p))
			return -1;
	}
	return 0;
}

int ram_discard_track(struct vm *vm)
{
	vm->ram_discarded = calloc((ram_page_count(vm) + 63) / 64, sizeof(uint64_t));
	return vm->ram_discarded ? 0 : -ENOMEM;
}

void ram_discard_forget(struct vm *vm)
{
	if (vm->ram_discarded)
		memset((void *)vm->ram_discarded, 0, (ram_page_count(vm) + 63) / 64 * sizeof(uint64_t));
}

uint64_t ram_discarded_count(const struct vm *vm)
{
	uint64_t n = 0;
	for (uint64_t i = 0; vm->ram_discarded && i < (ram_page_count(vm) + 63) / 64; i++)
		n += (uint64_t)__builtin_popcountll(atomic_load_explicit(&vm->ram_discarded[i],
									 memory_order_relaxed));
	return n;
}

void ram_merge_advise(struct vm *vm, uint64_t off, uint64_t len)
{
#ifdef MADV_MERGEABLE
	if (vm->ram_mergeable && len)
		madvise(vm->ram + off, len, MADV_MERGEABLE);   /* best effort: no KSM, no merging */
#endif
}

/* Give the host pages back. Anonymous RAM: MADV_DONTNEED (reads give zero).
 * A private file mapping would read the file again after MADV_DONTNEED, so
 * there the range becomes anonymous memory; zeroes if that fails (too many
 * mappings), which keeps the contents right at the cost of the memory. */
static void drop_pages(struct vm *vm, uint64_t off, uint64_t len)
{
	uint8_t *p = vm->ram + off;
	if (!vm->ram_file_backed) {
		if (madvise(p, len, MADV_DONTNEED))
			memset(p, 0, len);
		return;
	}
	if (mmap(p, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
		 -1, 0) == MAP_FAILED)
		memset(p, 0, len);
	else
		ram_merge_advise(vm, off, len);
}

uint64_t ram_discard(struct vm *vm, uint64_t off, uint64_t len)
{
	uint64_t end = off + len < off ? UINT64_MAX : off + len;
	off = (off + 4095) & ~4095ull;
	end &= ~4095ull;
	if (end > vm->ram_size)
		end = vm->ram_size & ~4095ull;
	if (off >= end)
		return 0;
	len = end - off;
	/* Post-copy destination: a page still on its way would land on top
	 * of the discard later; have it here first. */
	if (vm_ram_demand(vm, off, len))
		return 0;
	/* first out of the write TLBs: no fast-path store may land unseen */
	flush_write_tlbs(vm);
	drop_pages(vm, off, len);
	dcache_invalidate(vm, NULL, off, len);
	_Atomic uint64_t *disc = vm->ram_discarded;
	for (uint64_t p = off >> 12; disc && p < end >> 12; p++)
		atomic_fetch_or_explicit(&disc[p >> 6], 1ull << (p & 63), memory_order_relaxed);
	mark_dirty(vm, off, len);
	return len;
}
