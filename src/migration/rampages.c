/* RAM page batches for migration (see rampages.h). */
#include <stdio.h>
#include <string.h>
#include <zstd.h>
#include "migration/rampages.h"
#include "migration/xbzrle.h"
#include "core/ramlog.h"
#include "core/vm.h"

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Most data pages differ from zero in their first or last word, so those
 * are looked at first; the rest goes in 256-byte blocks with an early exit
 * (the compiler vectorises the inner OR). Before, every non-zero page was
 * read in full here, then again by the copy. */
int ram_page_is_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)(const void *)p;
	if (w[0] | w[511])
		return 0;
	for (int i = 0; i < 512; i += 32) {
		uint64_t acc = 0;
		for (int j = 0; j < 32; j++)
			acc |= w[i + j];
		if (acc)
			return 0;
	}
	return 1;
}

/* Header: codec u8, 3 reserved, npages u32, raw_len u32, body_len u32.
 * Body (after decompression), version 2: npages u64 entries
 * (index << 2 | kind), then each entry's payload in entry order: 4 KiB
 * for a data page, nothing for a zero page, u16 length and the runs for a
 * delta (xbzrle.h). Version 1 (older sources): entries index << 1 | zero,
 * then the 4 KiB of each data page. */
static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* One non-zero page into data: as a delta against what the cache holds of
 * it, or whole (and then into the cache, when there is room). Returns the
 * payload's length and sets *kind. */
static size_t encode_page(const uint8_t *src, uint64_t page, struct xbz_cache *xb, uint8_t *data,
			  int *kind, struct ram_batch_stats *st)
{
	uint8_t *old = xb ? xbz_lookup(xb, page) : NULL;
	if (old) {
		int d = xbz_encode(src, old, data + 2);
		if (d >= 0) {
			put16(data, (uint16_t)d);
			*kind = RAM_PAGE_DELTA;
			st->pages_delta++;
			st->delta_bytes += 2 + (uint64_t)d;
			return 2 + (size_t)d;
		}
		st->delta_overflow++;
	} else if (xb) {
		st->cache_miss++;
	}
	memcpy(data, src, 4096);
	if (!old && xb)
		old = xbz_insert(xb, page);
	if (old)
		memcpy(old, data, 4096);        /* what was sent, not a second read */
	*kind = RAM_PAGE_DATA;
	st->pages_normal++;
	return 4096;
}

size_t ram_batch_encode(const struct vm *vm, const uint64_t *pages, uint32_t n, int codec,
			struct xbz_cache *xb, uint8_t *out, uint8_t *scratch, struct ram_batch_stats *st)
{
	uint8_t *raw = codec == RAM_CODEC_ZSTD ? scratch : out + RAM_BATCH_HDR;
	uint8_t *data = raw + 8ull * n;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *src = vm->mem.host + (pages[i] << 12);
		int kind = RAM_PAGE_ZERO;
		/* a page the guest gave back reads as zero: no need to look */
		if (guest_ram_page_discarded(&vm->mem, pages[i]) || ram_page_is_zero(src)) {
			if (xb)
				xbz_forget(xb, pages[i]);
			st->pages_zero++;
		} else {
			data += encode_page(src, pages[i], xb, data, &kind, st);
		}
		uint64_t e = pages[i] << 2 | (uint64_t)kind;
		memcpy(raw + 8ull * i, &e, 8);
	}
	size_t raw_len = (size_t)(data - raw);
	size_t body = raw_len;
	if (codec == RAM_CODEC_ZSTD) {
		body = ZSTD_compress(out + RAM_BATCH_HDR, RAM_BATCH_ENC_MAX - RAM_BATCH_HDR, raw, raw_len, 1);
		if (ZSTD_isError(body))
			return 0;
	}
	out[0] = (uint8_t)codec;
	out[1] = out[2] = out[3] = 0;
	put32(out + 4, n);
	put32(out + 8, (uint32_t)raw_len);
	put32(out + 12, (uint32_t)body);
	st->raw_bytes += raw_len;
	st->wire_bytes += RAM_BATCH_HDR + body;
	return RAM_BATCH_HDR + body;
}

struct ram_dst ram_dst_of_vm(struct vm *vm)
{
	return (struct ram_dst){ .ram = vm->mem.host, .size = vm->mem.size, .vm = vm };
}

/* Page and kind of entry i of a version 1 or 2 body. */
static uint64_t entry_at(const uint8_t *raw, uint32_t i, unsigned version, int *kind)
{
	uint64_t e;
	memcpy(&e, raw + 8ull * i, 8);
	if (version == 1) {
		*kind = (e & 1) ? RAM_PAGE_ZERO : RAM_PAGE_DATA;
		return e >> 1;
	}
	*kind = (int)(e & 3);
	return e >> 2;
}

/* Checks every entry and payload of a decoded body and notes where each
 * payload starts (off[i]); nothing is written. 0, or -1 with err. */
static int check_body(const uint8_t *raw, uint32_t n, uint32_t raw_len, unsigned version, uint64_t pages,
		      uint32_t *off, char *err, size_t errlen)
{
	uint64_t at = 8ull * n;
	for (uint32_t i = 0; i < n; i++) {
		int kind;
		uint64_t page = entry_at(raw, i, version, &kind);
		if (page >= pages) {
			snprintf(err, errlen, "RAM batch: page %llu is beyond guest RAM (%llu pages)",
				 (unsigned long long)page, (unsigned long long)pages);
			return -1;
		}
		off[i] = (uint32_t)at;
		if (kind == RAM_PAGE_DATA) {
			at += 4096;
		} else if (kind == RAM_PAGE_DELTA) {
			uint32_t d = at + 2 <= raw_len ? (uint32_t)(raw[at] | raw[at + 1] << 8) : 0;
			if (at + 2 > raw_len || d > XBZ_MAX_DELTA || at + 2 + d > raw_len ||
			    xbz_check(raw + at + 2, d)) {
				snprintf(err, errlen, "RAM batch: page %llu has a malformed delta",
					 (unsigned long long)page);
				return -1;
			}
			at += 2 + d;
		} else if (kind != RAM_PAGE_ZERO) {
			snprintf(err, errlen, "RAM batch: page %llu has unknown kind %d",
				 (unsigned long long)page, kind);
			return -1;
		}
		if (at > raw_len)
			break;
	}
	if (at != raw_len) {
		snprintf(err, errlen, "RAM batch: %llu bytes of pages for %u bytes",
			 (unsigned long long)(at - 8ull * n), raw_len - 8 * n);
		return -1;
	}
	return 0;
}

int ram_batch_apply(const struct ram_dst *dst, const uint8_t *p, size_t len, unsigned version,
		    _Atomic uint64_t *absent, uint8_t *scratch, char *err, size_t errlen)
{
	if (version != 1 && version != 2) {
		snprintf(err, errlen, "RAM batch version %u is unknown", version);
		return -1;
	}
	if (len < RAM_BATCH_HDR) {
		snprintf(err, errlen, "RAM batch: %zu bytes is shorter than its header", len);
		return -1;
	}
	uint32_t codec = p[0], n = get32(p + 4), raw_len = get32(p + 8), body = get32(p + 12);
	if (p[1] || p[2] || p[3] || codec > RAM_CODEC_ZSTD) {
		snprintf(err, errlen, "RAM batch: unknown codec %u", codec);
		return -1;
	}
	if (n == 0 || n > RAM_BATCH_MAX_PAGES || raw_len > RAM_BATCH_RAW_MAX ||
	    raw_len < 8ull * n || body != len - RAM_BATCH_HDR) {
		snprintf(err, errlen, "RAM batch: inconsistent sizes (%u pages, %u raw, %u body, %zu given)",
			 n, raw_len, body, len - RAM_BATCH_HDR);
		return -1;
	}
	const uint8_t *raw = p + RAM_BATCH_HDR;
	if (codec == RAM_CODEC_ZSTD) {
		size_t r = ZSTD_decompress(scratch, RAM_BATCH_RAW_MAX, raw, body);
		if (ZSTD_isError(r) || r != raw_len) {
			snprintf(err, errlen, "RAM batch: corrupt zstd data");
			return -1;
		}
		raw = scratch;
	} else if (body != raw_len) {
		snprintf(err, errlen, "RAM batch: body of %u bytes, %u expected", body, raw_len);
		return -1;
	}
	/* Check every entry before writing any page. */
	uint32_t off[RAM_BATCH_MAX_PAGES];
	if (check_body(raw, n, raw_len, version, dst->size >> 12, off, err, errlen))
		return -1;
	int written = 0;
	for (uint32_t i = 0; i < n; i++) {
		int kind;
		uint64_t page = entry_at(raw, i, version, &kind);
		/* Post-copy: a page already here is the guest's own by now. */
		if (absent && !(atomic_load_explicit(&absent[page >> 6], memory_order_relaxed) &
				(1ull << (page & 63))))
			continue;
		uint8_t *to = dst->ram + (page << 12);
		const uint8_t *src = raw + off[i];
		if (kind == RAM_PAGE_ZERO) {
			if (!ram_page_is_zero(to))
				memset(to, 0, 4096);
		} else if (kind == RAM_PAGE_DELTA) {
			xbz_apply(to, src + 2, (size_t)(src[0] | src[1] << 8));
		} else {
			memcpy(to, src, 4096);
		}
		/* An absent page was never fetched, so no decoded code of it
		 * exists to drop (and this runs beside the vCPU, which owns
		 * the decoded-code cache). Release: contents before the bit. */
		if (absent)
			atomic_fetch_and_explicit(&absent[page >> 6], ~(1ull << (page & 63)),
						  memory_order_release);
		else if (dst->vm)
			ram_written(dst->vm, NULL, page << 12, 4096);
		written++;
	}
	return written;
}
