/* Guest RAM: one host mapping at a guest-physical base, with its page logs
 * (dirty pages while migrating, pages the guest gave back, pages a
 * post-copy destination still waits for). It knows nothing of harts: what
 * a write means for TLBs and decoded code is core/ramlog.h's. */
#ifndef TERN_GUEST_RAM_H
#define TERN_GUEST_RAM_H
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_RAM_PAGE 4096u

struct guest_ram {
	uint8_t *host;              /* size bytes of host memory */
	uint64_t base, size;        /* guest-physical; size is whole pages */
	bool file_backed;           /* mapped copy-on-write from a snapshot file */
	bool mergeable;             /* --mem-merge on: RAM is MADV_MERGEABLE (KSM) */
	/* Pages the guest gave back (virtio-balloon), one bit per page, or NULL
	 * when no balloon tracks them. */
	_Atomic uint64_t *discarded;
	/* Dirty-page log while migrating; NULL otherwise. */
	_Atomic uint64_t *_Atomic dirty_log;
	/* Post-copy destination (migration/postcopy_dst.c): one bit per page
	 * that has not arrived yet, or NULL once all have (or when not
	 * migrating). fetch blocks until the page is in place; it returns -1
	 * when it never will (post-copy failed). */
	_Atomic uint64_t *_Atomic absent;
	int (*fetch)(void *ctx, uint64_t page);
	void *fetch_ctx;
};

/* Map size bytes (whole pages, not 0) of anonymous zero memory for guest
 * addresses from base; *r is zeroed first. 0, -EINVAL or -ENOMEM. */
int guest_ram_map(struct guest_ram *r, uint64_t base, uint64_t size);
/* Unmap and free the logs; *r is zeroed (unmapping twice is fine). */
void guest_ram_unmap(struct guest_ram *r);
/* Fresh zero RAM (reset): the old pages go rather than being overwritten,
 * and RAM restored from a snapshot file is detached from it; no page is
 * marked discarded any more. 0 or -errno (RAM then stays as it was). */
int guest_ram_renew(struct guest_ram *r);

static inline uint64_t guest_ram_pages(const struct guest_ram *r)
{
	return r->size / GUEST_RAM_PAGE;
}

/* Post-copy: fetch the pages of [off, off+len) that have not arrived;
 * 0 once all are in place, -1 if they never will. */
int guest_ram_demand(const struct guest_ram *r, uint64_t off, uint64_t len);
/* Host pointer for [pa, pa+len) when it lies inside RAM, else NULL. Every
 * access to guest RAM other than a TLB hit comes through here (TLB fills,
 * the page-table walker, device DMA), so this is where a post-copy
 * destination waits for a page that has not arrived yet. */
static inline uint8_t *guest_ram_ptr(const struct guest_ram *r, uint64_t pa, uint64_t len)
{
	uint64_t off = pa - r->base;
	if (pa < r->base || off >= r->size || len > r->size - off)
		return NULL;
	if (__builtin_expect(atomic_load_explicit(&r->absent, memory_order_relaxed) != NULL, 0) &&
	    len && guest_ram_demand(r, off, len))
		return NULL;
	return r->host + off;
}

/* The RAM's half of a write outside the TLB fast path: the pages hold data
 * again (no longer discarded) and, while logging, are dirty. Writers call
 * ram_written (core/ramlog.h), which also drops decoded code. */
void guest_ram_written(struct guest_ram *r, uint64_t off, uint64_t len);

/* The dirty log (one bit per page). Starting it (-ENOMEM) and harvesting
 * need every write TLB flushed as well: ram_dirty_log_start and
 * ram_dirty_log_sync do both. Stop with no device DMA in flight. */
int guest_ram_log_start(struct guest_ram *r);
void guest_ram_log_stop(struct guest_ram *r);
/* ORs the logged bits into out (pages/64 words, rounded up) and clears
 * them; returns how many were set. */
uint64_t guest_ram_log_harvest(struct guest_ram *r, uint64_t *out);
/* Pages logged since the last harvest, without harvesting (a snapshot
 * while the guest runs). */
uint64_t guest_ram_log_count(const struct guest_ram *r);

/* Free pages given back by the guest. guest_ram_discard_track allocates
 * the bitmap (0 or -ENOMEM). */
int guest_ram_discard_track(struct guest_ram *r);
/* Round [*off, *off + *len) inward to whole pages inside RAM; false when
 * no page is left. */
bool guest_ram_pages_within(const struct guest_ram *r, uint64_t *off, uint64_t *len);
/* Give the whole pages [off, off+len) back to the host (they read as zero
 * afterwards; RAM mapped from a snapshot file is replaced by anonymous
 * memory there, since dropping a private file page would bring the file's
 * bytes back), mark them discarded and, while logging, dirty (they travel
 * as zero pages). ram_discard (core/ramlog.h) takes them out of the write
 * TLBs and decoded code around this. */
void guest_ram_drop(struct guest_ram *r, uint64_t off, uint64_t len);
/* How many pages are marked discarded now. */
uint64_t guest_ram_discarded_count(const struct guest_ram *r);
/* RAM was replaced wholesale (reset, restore): no page is discarded. */
void guest_ram_discard_forget(struct guest_ram *r);
/* True when the page is known free: it reads as zero and needs no copy. */
static inline bool guest_ram_page_discarded(const struct guest_ram *r, uint64_t page)
{
	_Atomic uint64_t *d = r->discarded;
	return d && (atomic_load_explicit(&d[page >> 6], memory_order_relaxed) >> (page & 63) & 1);
}

/* --mem-merge: mark [off, off+len) MADV_MERGEABLE when r->mergeable. */
void guest_ram_merge_advise(struct guest_ram *r, uint64_t off, uint64_t len);
#endif
