/* XBZRLE page cache and delta codec (see xbzrle.h). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "migration/xbzrle.h"

struct xbz_cache {
	uint64_t guest_pages;
	uint32_t *slot_of;      /* per guest page: its slot + 1, or 0 */
	uint8_t *slots;         /* nslots pages, mapped lazily */
	uint32_t nslots, next;  /* next: slots handed out so far */
	uint32_t *free_slots;   /* slots given back by xbz_forget */
	uint32_t nfree;
	pthread_t prefaulter;
	bool prefaulting;
	_Atomic bool stop;
	uint64_t prefault_pages;
};

struct xbz_cache *xbz_cache_new(uint64_t guest_pages, uint64_t cache_bytes)
{
	uint64_t n = cache_bytes / 4096;
	if (n > guest_pages)
		n = guest_pages;
	if (n > UINT32_MAX - 1)
		n = UINT32_MAX - 1;
	struct xbz_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->guest_pages = guest_pages;
	c->nslots = (uint32_t)n;
	c->slot_of = calloc(guest_pages ? guest_pages : 1, sizeof(uint32_t));
	c->free_slots = malloc((n ? n : 1) * sizeof(uint32_t));
	c->slots = n ? mmap(NULL, n * 4096, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0) : NULL;
	if (!c->slot_of || !c->free_slots || c->slots == MAP_FAILED) {
		if (c->slots == MAP_FAILED)
			c->slots = NULL;
		xbz_cache_free(c);
		return NULL;
	}
	if (c->slots)   /* a fault per 2 MiB, where the host has huge pages */
		madvise(c->slots, (size_t)n * 4096, MADV_HUGEPAGE);
	return c;
}

/* A write to every page, checking for a stop every 2 MiB. (Not
 * MADV_POPULATE_WRITE: where the host hands out memory it knows is zero,
 * that maps pages without writing them, and the first real write still
 * faults in the host; measured, it saved nothing.) */
static void *prefault_thread(void *arg)
{
	struct xbz_cache *c = arg;
	for (uint64_t i = 0; i < c->prefault_pages; i++) {
		if (!(i % 512) && atomic_load(&c->stop))
			break;
		((volatile uint8_t *)c->slots)[i * 4096] = 0;
	}
	return NULL;
}

/* The prefault thread writes into slots: it must be gone before any slot
 * holds a page (its write would change what the cache says was sent). */
static void stop_prefault(struct xbz_cache *c)
{
	if (c->prefaulting) {
		atomic_store(&c->stop, true);
		pthread_join(c->prefaulter, NULL);
		c->prefaulting = false;
	}
}

void xbz_cache_prefault(struct xbz_cache *c, uint64_t pages)
{
	if (c->prefaulting || c->next || !c->nslots)
		return;
	c->prefault_pages = pages < c->nslots ? pages : c->nslots;
	c->prefaulting = pthread_create(&c->prefaulter, NULL, prefault_thread, c) == 0;
}

void xbz_cache_free(struct xbz_cache *c)
{
	if (!c)
		return;
	stop_prefault(c);
	if (c->slots)
		munmap(c->slots, (size_t)c->nslots * 4096);
	free(c->slot_of);
	free(c->free_slots);
	free(c);
}

uint64_t xbz_cache_bytes(const struct xbz_cache *c)
{
	return (uint64_t)c->nslots * 4096;
}

uint8_t *xbz_lookup(struct xbz_cache *c, uint64_t page)
{
	uint32_t s = page < c->guest_pages ? c->slot_of[page] : 0;
	return s ? c->slots + (size_t)(s - 1) * 4096 : NULL;
}

uint8_t *xbz_insert(struct xbz_cache *c, uint64_t page)
{
	if (page >= c->guest_pages || c->slot_of[page])
		return NULL;
	stop_prefault(c);
	uint32_t s;
	if (c->nfree)
		s = c->free_slots[--c->nfree];
	else if (c->next < c->nslots)
		s = c->next++;
	else
		return NULL;
	c->slot_of[page] = s + 1;
	return c->slots + (size_t)s * 4096;
}

void xbz_forget(struct xbz_cache *c, uint64_t page)
{
	if (page >= c->guest_pages || !c->slot_of[page])
		return;
	c->free_slots[c->nfree++] = c->slot_of[page] - 1;
	c->slot_of[page] = 0;
}

static size_t put_uleb(uint8_t *p, unsigned v)
{
	size_t n = 0;
	do {
		p[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	return n;
}

/* Words compared four at a time while they match (the common case: most
 * of a rewritten page is as it was); a run of changed words is trimmed to
 * its first and last changed byte. */
int xbz_encode(const uint8_t *cur, uint8_t *old, uint8_t *out)
{
	const uint64_t *a = (const uint64_t *)(const void *)cur;
	const uint64_t *b = (const uint64_t *)(const void *)old;
	size_t o = 0;
	unsigned pos = 0, i = 0;
	while (i < 512) {
		while (i + 4 <= 512 && !((a[i] ^ b[i]) | (a[i + 1] ^ b[i + 1]) |
					 (a[i + 2] ^ b[i + 2]) | (a[i + 3] ^ b[i + 3])))
			i += 4;
		while (i < 512 && a[i] == b[i])
			i++;
		if (i == 512)
			break;
		uint64_t first = a[i] ^ b[i], last = first;
		unsigned j = i;
		while (j + 1 < 512 && (a[j + 1] ^ b[j + 1])) {
			j++;
			last = a[j] ^ b[j];
			if ((j - i) * 8 > XBZ_MAX_DELTA)
				return -1;      /* too much changed: stop comparing */
		}
		/* the guest may have put back what changed: then both are 0 */
		unsigned start = i * 8 + (first ? (unsigned)__builtin_ctzll(first) / 8 : 0);
		unsigned end = j * 8 + 8 - (last ? (unsigned)__builtin_clzll(last) / 8 : 0);
		if (end <= start)
			end = start + 1;
		unsigned len = end - start;
		if (o + 6 + len > XBZ_MAX_DELTA)
			return -1;
		o += put_uleb(out + o, start - pos);
		o += put_uleb(out + o, len);
		memcpy(out + o, cur + start, len);      /* the one read of these bytes */
		memcpy(old + start, out + o, len);
		o += len;
		pos = end;
		i = j + 1;
	}
	return (int)o;
}

/* A ULEB128 of at most two bytes at d[*at], within len. -1 when bad. */
static int get_uleb(const uint8_t *d, size_t len, size_t *at)
{
	if (*at >= len)
		return -1;
	unsigned v = d[*at] & 0x7f;
	if (d[(*at)++] & 0x80) {
		if (*at >= len || (d[*at] & 0x80))
			return -1;
		v |= (unsigned)d[(*at)++] << 7;
	}
	return (int)v;
}

int xbz_check(const uint8_t *d, size_t len)
{
	size_t at = 0;
	unsigned pos = 0;
	while (at < len) {
		int skip = get_uleb(d, len, &at), n = get_uleb(d, len, &at);
		if (skip < 0 || n <= 0 || pos + (unsigned)skip + (unsigned)n > 4096 ||
		    len - at < (size_t)n)
			return -1;
		pos += (unsigned)skip + (unsigned)n;
		at += (size_t)n;
	}
	return 0;
}

void xbz_apply(uint8_t *page, const uint8_t *d, size_t len)
{
	size_t at = 0;
	unsigned pos = 0;
	while (at < len) {
		int skip = get_uleb(d, len, &at), n = get_uleb(d, len, &at);
		pos += (unsigned)skip;
		memcpy(page + pos, d + at, (size_t)n);
		pos += (unsigned)n;
		at += (size_t)n;
	}
}
