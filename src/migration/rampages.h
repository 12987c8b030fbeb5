/* Batches of guest RAM pages on the migration wire: which pages, and the
 * contents of those that are not all zero (whole, or as a delta against
 * what was sent before: migration/xbzrle.h), optionally zstd-compressed.
 * The decoder treats its input as hostile: every length and page index is
 * checked before anything is written into guest RAM. Format:
 * docs/MIGRATION.md ("RAM batches"). */
#ifndef TERN_MIG_RAMPAGES_H
#define TERN_MIG_RAMPAGES_H
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>

struct vm;
struct xbz_cache;

/* The ram-batch section version the encoder writes; the decoder also
 * takes version 1 (no deltas). */
#define RAM_BATCH_VERSION 2

#define RAM_BATCH_MAX_PAGES 256
#define RAM_BATCH_HDR 16
/* The largest body before compression, and the largest encoded batch. */
#define RAM_BATCH_RAW_MAX (RAM_BATCH_MAX_PAGES * (8 + 4096))
#define RAM_BATCH_ENC_MAX (RAM_BATCH_HDR + RAM_BATCH_RAW_MAX + 4096)

enum { RAM_CODEC_NONE = 0, RAM_CODEC_ZSTD = 1 };
/* An entry's kind (version 2). */
enum { RAM_PAGE_DATA = 0, RAM_PAGE_ZERO = 1, RAM_PAGE_DELTA = 2 };

struct ram_batch_stats {
	uint64_t pages_zero, pages_normal;
	uint64_t raw_bytes, wire_bytes;
	/* With a cache: pages sent as deltas and their bytes, pages that had
	 * no cached copy, and pages whose delta was too long. */
	uint64_t pages_delta, delta_bytes, cache_miss, delta_overflow;
};

/* Encodes pages[0..n) (n <= RAM_BATCH_MAX_PAGES, indices < RAM pages) into
 * out (RAM_BATCH_ENC_MAX bytes; scratch is RAM_BATCH_RAW_MAX bytes, used
 * when compressing). With xb (or NULL), a page the cache holds goes as a
 * delta, and one it lacks goes whole into the cache when there is room.
 * Returns the encoded length, or 0 on a codec error. */
size_t ram_batch_encode(const struct vm *vm, const uint64_t *pages, uint32_t n, int codec,
			struct xbz_cache *xb, uint8_t *out, uint8_t *scratch, struct ram_batch_stats *st);

/* Where decoded pages land: size bytes of RAM at ram. vm is set when that
 * RAM is a VM's (each page written then drops decoded code and marks the
 * dirty log); NULL for a buffer no VM uses yet (the destination's RAM
 * before the switch-over). */
struct ram_dst {
	uint8_t *ram;
	uint64_t size;
	struct vm *vm;
};
struct ram_dst ram_dst_of_vm(struct vm *vm);

/* Decodes a batch (of section version 1 or 2) and writes its pages into
 * dst. scratch is RAM_BATCH_RAW_MAX bytes. With absent (post-copy), only pages whose bit
 * is set are written, and their bits are cleared once they are in place.
 * Returns the number of pages written, or -1 with err (nothing written). */
int ram_batch_apply(const struct ram_dst *dst, const uint8_t *p, size_t len, unsigned version,
		    _Atomic uint64_t *absent, uint8_t *scratch, char *err, size_t errlen);

/* True when the 4 KiB page at p is all zero. */
int ram_page_is_zero(const uint8_t *p);
#endif
