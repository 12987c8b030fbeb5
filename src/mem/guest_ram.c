/* Guest RAM: the mapping and its page logs (dirty, discarded, absent); see
 * guest_ram.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "mem/guest_ram.h"

#define PAGE_SHIFT 12

static size_t bitmap_words(const struct guest_ram *r)
{
	return (guest_ram_pages(r) + 63) / 64;
}

int guest_ram_map(struct guest_ram *r, uint64_t base, uint64_t size)
{
	memset(r, 0, sizeof(*r));
	if (!size || size % GUEST_RAM_PAGE)
		return -EINVAL;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	r->host = p;
	r->base = base;
	r->size = size;
	return 0;
}

void guest_ram_unmap(struct guest_ram *r)
{
	if (r->host)
		munmap(r->host, r->size);
	free((void *)r->discarded);
	free((void *)atomic_load(&r->dirty_log));
	memset(r, 0, sizeof(*r));
}

int guest_ram_renew(struct guest_ram *r)
{
	/* A new anonymous mapping over the old drops its pages without
	 * touching them, and detaches RAM mapped from a snapshot file. */
	if (mmap(r->host, r->size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == MAP_FAILED)
		return -errno;
	r->file_backed = false;
	guest_ram_merge_advise(r, 0, r->size);
	guest_ram_discard_forget(r);
	return 0;
}

int guest_ram_demand(const struct guest_ram *r, uint64_t off, uint64_t len)
{
	_Atomic uint64_t *absent = atomic_load_explicit(&r->absent, memory_order_acquire);
	if (!absent)
		return 0;
	for (uint64_t p = off >> PAGE_SHIFT; p <= (off + len - 1) >> PAGE_SHIFT; p++) {
		/* acquire: the page's contents were written before its bit cleared */
		if (!(atomic_load_explicit(&absent[p >> 6], memory_order_acquire) & (1ull << (p & 63))))
			continue;
		if (r->fetch(r->fetch_ctx, p))
			return -1;
	}
	return 0;
}

static void mark_dirty(struct guest_ram *r, uint64_t off, uint64_t len)
{
	_Atomic uint64_t *log = atomic_load_explicit(&r->dirty_log, memory_order_acquire);
	if (!log)
		return;
	for (uint64_t p = off >> PAGE_SHIFT; p <= (off + len - 1) >> PAGE_SHIFT; p++)
		atomic_fetch_or_explicit(&log[p >> 6], 1ull << (p & 63), memory_order_relaxed);
}

void guest_ram_written(struct guest_ram *r, uint64_t off, uint64_t len)
{
	if (!len || off >= r->size)
		return;
	if (len > r->size - off)
		len = r->size - off;
	_Atomic uint64_t *disc = r->discarded;
	if (disc) {
		/* the page holds data again: it must be copied from now on */
		for (uint64_t p = off >> PAGE_SHIFT; p <= (off + len - 1) >> PAGE_SHIFT; p++)
			if (atomic_load_explicit(&disc[p >> 6], memory_order_relaxed) & (1ull << (p & 63)))
				atomic_fetch_and_explicit(&disc[p >> 6], ~(1ull << (p & 63)),
							  memory_order_relaxed);
	}
	mark_dirty(r, off, len);
}

int guest_ram_log_start(struct guest_ram *r)
{
	_Atomic uint64_t *log = calloc(bitmap_words(r), sizeof(*log));
	if (!log)
		return -ENOMEM;
	atomic_store_explicit(&r->dirty_log, log, memory_order_release);
	return 0;
}

void guest_ram_log_stop(struct guest_ram *r)
{
	_Atomic uint64_t *log = atomic_exchange(&r->dirty_log, NULL);
	/* A device thread may still be inside guest_ram_written with the old
	 * pointer; the log is freed only once no DMA can be in flight, which
	 * the callers guarantee by stopping the log with the VM paused and its
	 * devices quiesced. */
	free((void *)log);
}

uint64_t guest_ram_log_harvest(struct guest_ram *r, uint64_t *out)
{
	_Atomic uint64_t *log = atomic_load_explicit(&r->dirty_log, memory_order_acquire);
	uint64_t n = 0;
	for (size_t i = 0; log && i < bitmap_words(r); i++) {
		uint64_t w = atomic_exchange_explicit(&log[i], 0, memory_order_acq_rel);
		out[i] |= w;
		n += (uint64_t)__builtin_popcountll(w);
	}
	return n;
}

int guest_ram_discard_track(struct guest_ram *r)
{
	if (!r->discarded)
		r->discarded = calloc(bitmap_words(r), sizeof(uint64_t));
	return r->discarded ? 0 : -ENOMEM;
}

void guest_ram_discard_forget(struct guest_ram *r)
{
	if (r->discarded)
		memset((void *)r->discarded, 0, bitmap_words(r) * sizeof(uint64_t));
}

/* Bits set in a bitmap that others may be setting meanwhile. */
static uint64_t bitmap_count(const struct guest_ram *r, _Atomic uint64_t *bm)
{
	uint64_t n = 0;
	for (size_t i = 0; bm && i < bitmap_words(r); i++)
		n += (uint64_t)__builtin_popcountll(atomic_load_explicit(&bm[i], memory_order_relaxed));
	return n;
}

uint64_t guest_ram_discarded_count(const struct guest_ram *r)
{
	return bitmap_count(r, r->discarded);
}

uint64_t guest_ram_log_count(const struct guest_ram *r)
{
	return bitmap_count(r, atomic_load_explicit(&r->dirty_log, memory_order_acquire));
}

void guest_ram_merge_advise(struct guest_ram *r, uint64_t off, uint64_t len)
{
#ifdef MADV_MERGEABLE
	if (r->mergeable && len)
		madvise(r->host + off, len, MADV_MERGEABLE);   /* best effort: no KSM, no merging */
#else
	(void)r, (void)off, (void)len;
#endif
}

bool guest_ram_pages_within(const struct guest_ram *r, uint64_t *off, uint64_t *len)
{
	uint64_t end = *off + *len < *off ? UINT64_MAX : *off + *len;
	uint64_t start = (*off + GUEST_RAM_PAGE - 1) & ~(uint64_t)(GUEST_RAM_PAGE - 1);
	end &= ~(uint64_t)(GUEST_RAM_PAGE - 1);
	if (end > r->size)
		end = r->size & ~(uint64_t)(GUEST_RAM_PAGE - 1);
	if (start >= end || start < *off)   /* nothing left, or rounding up wrapped */
		return false;
	*off = start;
	*len = end - start;
	return true;
}

/* Give the host pages back. Anonymous RAM: MADV_DONTNEED (reads give zero).
 * A private file mapping would read the file again after MADV_DONTNEED, so
 * there the range becomes anonymous memory; zeroes if that fails (too many
 * mappings), which keeps the contents right at the cost of the memory. */
void guest_ram_drop(struct guest_ram *r, uint64_t off, uint64_t len)
{
	uint8_t *p = r->host + off;
	if (!r->file_backed) {
		if (madvise(p, len, MADV_DONTNEED))
			memset(p, 0, len);
	} else if (mmap(p, len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == MAP_FAILED) {
		memset(p, 0, len);
	} else {
		guest_ram_merge_advise(r, off, len);
	}
	_Atomic uint64_t *disc = r->discarded;
	for (uint64_t pg = off >> PAGE_SHIFT; disc && pg < (off + len) >> PAGE_SHIFT; pg++)
		atomic_fetch_or_explicit(&disc[pg >> 6], 1ull << (pg & 63), memory_order_relaxed);
	mark_dirty(r, off, len);
}
