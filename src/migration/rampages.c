/* RAM page batches for migration (see rampages.h). */
#include <stdio.h>
#include <string.h>
#include <zstd.h>
#include "migration/rampages.h"
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
 * Body (after decompression): npages u64 entries (index << 1 | zero), then
 * the 4 KiB contents of each non-zero page in entry order. */
size_t ram_batch_encode(const struct vm *vm, const uint64_t *pages, uint32_t n, int codec,
			uint8_t *out, uint8_t *scratch, struct ram_batch_stats *st)
{
	uint8_t *raw = codec == RAM_CODEC_ZSTD ? scratch : out + RAM_BATCH_HDR;
	uint8_t *data = raw + 8ull * n;
	size_t raw_len = 8ull * n;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *src = vm->mem.host + (pages[i] << 12);
		/* a page the guest gave back reads as zero: no need to look */
		int zero = guest_ram_page_discarded(&vm->mem, pages[i]) || ram_page_is_zero(src);
		uint64_t e = pages[i] << 1 | (uint64_t)zero;
		memcpy(raw + 8ull * i, &e, 8);
		if (!zero) {
			memcpy(data, src, 4096);
			data += 4096;
			raw_len += 4096;
			st->pages_normal++;
		} else {
			st->pages_zero++;
		}
	}
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

int ram_batch_apply(const struct ram_dst *dst, const uint8_t *p, size_t len, _Atomic uint64_t *absent,
		    uint8_t *scratch, char *err, size_t errlen)
{
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
	    raw_len < 8ull * n || (raw_len - 8ull * n) % 4096 || body != len - RAM_BATCH_HDR) {
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
	uint64_t pages = dst->size >> 12, normal = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t e;
		memcpy(&e, raw + 8ull * i, 8);
		if ((e >> 1) >= pages) {
			snprintf(err, errlen, "RAM batch: page %llu is beyond guest RAM (%llu pages)",
				 (unsigned long long)(e >> 1), (unsigned long long)pages);
			return -1;
		}
		normal += !(e & 1);
	}
	if (8ull * n + 4096 * normal != raw_len) {
		snprintf(err, errlen, "RAM batch: %llu data pages for %u bytes",
			 (unsigned long long)normal, raw_len);
		return -1;
	}
	const uint8_t *data = raw + 8ull * n;
	int written = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t e;
		memcpy(&e, raw + 8ull * i, 8);
		uint64_t page = e >> 1;
		const uint8_t *src = (e & 1) ? NULL : data;
		if (src)
			data += 4096;
		/* Post-copy: a page already here is the guest's own by now. */
		if (absent && !(atomic_load_explicit(&absent[page >> 6], memory_order_relaxed) &
				(1ull << (page & 63))))
			continue;
		uint8_t *to = dst->ram + (page << 12);
		if (!src) {
			if (!ram_page_is_zero(to))
				memset(to, 0, 4096);
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
