/* Shared by the stream harnesses (fuzz_snapshot, fuzz_migration): a small
 * real board to load into, and the "sloppy stream" input format. Every
 * section of a VM-state stream carries a checksum a fuzzer cannot forge, so
 * inputs leave it out: the harness re-frames them with valid checksums.
 *   input  = flags byte, then sections: u32 id, u16 instance, u16 version,
 *            u64 length, then min(length, rest) payload bytes; a length
 *            with bit 63 set is a sparse section (a RAM image): u32 k, k
 *            bytes, then a hole up to the length (at most 64 MiB; as the
 *            RAM writer's holes, not covered by the checksum)
 *   flags  = bit 0: cut the last section short (a truncated stream);
 *            bit 1: damage the checksum of section (flags >> 4)
 * The board is built once (virt_create with incoming set: no kernel). */
#ifndef TERN_FUZZ_STREAM_H
#define TERN_FUZZ_STREAM_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "core/vm.h"
#include "machine/virt.h"
#include "state/stream.h"

#define FUZZ_RAM_SIZE (16u << 20)      /* the smallest a snapshot config allows */
#define FUZZ_SPARSE (1ull << 63)
#define FUZZ_SPARSE_MAX (64ull << 20)

static inline struct vm *fuzz_board(struct virt_config *cfg)
{
	setenv("TERN_JIT", "off", 1);
	memset(cfg, 0, sizeof(*cfg));
	cfg->name = "fuzz";
	cfg->mem_size = FUZZ_RAM_SIZE;
	cfg->cpus = 1;
	cfg->rng = 1;
	cfg->console = "file:/dev/null";
	cfg->incoming = 1;
	cfg->kernel = "/dev/null";
	struct vm *vm = calloc(1, sizeof(*vm));
	char err[256];
	if (!vm || virt_create(vm, cfg, err, sizeof(err))) {
		fprintf(stderr, "fuzz: cannot build the board: %s\n", err);
		abort();
	}
	return vm;
}

/* The board, built on first use and kept for every input. */
struct fuzz_ctx {
	struct virt_config cfg;
	struct vm *vm;
};

static inline struct fuzz_ctx *fuzz_ctx_get(void)
{
	static struct fuzz_ctx c;
	if (!c.vm)
		c.vm = fuzz_board(&c.cfg);
	return &c;
}

/* The board; with FUZZ_SEED_DIR set, writes the seeds there and exits. */
static inline struct fuzz_ctx *fuzz_start(void (*write_seeds)(struct fuzz_ctx *c, const char *dir))
{
	struct fuzz_ctx *c = fuzz_ctx_get();
	const char *seeds = getenv("FUZZ_SEED_DIR");
	if (seeds) {
		write_seeds(c, seeds);
		_exit(0);       /* exit() would count as a crash */
	}
	return c;
}

static inline uint64_t fuzz_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Writes the sloppy input as a real stream to fd; returns 0 or -1. */
static inline int fuzz_frame(int fd, const uint8_t *data, size_t size)
{
	if (size < 1)
		return -1;
	unsigned flags = data[0];
	size_t at = 1;
	struct vms_writer w;
	if (vms_writer_init(&w, fd))
		return -1;
	int r = 0;
	for (unsigned n = 0; !r && at + VMS_SECTION_HDR_LEN <= size; n++) {
		const uint8_t *h = data + at;
		uint32_t id = (uint32_t)fuzz_le(h, 4);
		uint16_t inst = (uint16_t)fuzz_le(h + 4, 2), ver = (uint16_t)fuzz_le(h + 6, 2);
		uint64_t len = fuzz_le(h + 8, 8);
		at += VMS_SECTION_HDR_LEN;
		if ((len & FUZZ_SPARSE) && at + 4 <= size) {
			len &= ~FUZZ_SPARSE;
			len = len > FUZZ_SPARSE_MAX ? FUZZ_SPARSE_MAX : len;
			uint64_t k = fuzz_le(data + at, 4);
			at += 4;
			k = k > len ? len : k;
			k = k > size - at ? size - at : k;
			r = vms_section_begin(&w, id, inst, ver, len);
			/* Whole zero pages of the stream become holes, as the RAM
			 * writer leaves zero pages (the checksum skips them). */
			for (uint64_t i = 0; !r && i < k;) {
				uint64_t n = 4096 - w.off % 4096;
				n = n > k - i ? k - i : n;
				bool zero = n == 4096;
				for (uint64_t z = 0; zero && z < n; z++)
					zero = !data[at + i + z];
				r = zero ? vms_section_hole(&w, n) : vms_section_write(&w, data + at + i, n);
				i += n;
			}
			r = r || vms_section_hole(&w, len - k) || vms_section_end(&w);
			at += (size_t)k;
			continue;
		}
		size_t have = size - at < len ? size - at : (size_t)len;
		bool last = at + have >= size;
		if (last && (flags & 1)) {
			/* The header promises len, the stream ends early. */
			r = vms_section_begin(&w, id, inst, ver, have + 1) ||
			    vms_section_write(&w, data + at, have);
			break;
		}
		r = vms_put_section(&w, id, inst, ver, data + at, have);
		if (!r && (flags & 2) && n == flags >> 4) {
			uint8_t x = 0xff;
			lseek(fd, -1, SEEK_CUR) >= 0 ? (void)write(fd, &x, 1) : (void)0;
		}
		at += have;
	}
	vms_writer_cleanup(&w);
	return r ? -1 : 0;
}

/* The other way, for seeds: a real stream (memory) to the sloppy form. */
static inline size_t fuzz_unframe(const uint8_t *s, size_t len, uint8_t *out)
{
	size_t at = VMS_HEADER_LEN, o = 0;
	out[o++] = 0;
	while (at + VMS_SECTION_HDR_LEN <= len) {
		uint64_t plen = fuzz_le(s + at + 8, 8);
		if (plen > len - at - VMS_SECTION_HDR_LEN)
			break;
		/* The RAM image after the last stored page becomes a sparse
		 * section: the writer leaves it a hole, unchecksummed. */
		uint64_t k = plen;
		const uint8_t *pl = s + at + VMS_SECTION_HDR_LEN;
		if (fuzz_le(s + at, 4) == VMS_ID_RAM && plen >= 40) {
			uint64_t image_off = fuzz_le(pl + 24, 8), last = 0;
			for (uint64_t b = 0; 40 + b / 8 < image_off && 40 + b / 8 < plen; b++)
				if (pl[40 + b / 8] >> (b % 8) & 1)
					last = b + 1;
			if (image_off + last * 4096 < plen)
				k = image_off + last * 4096;
		}
		memcpy(out + o, s + at, VMS_SECTION_HDR_LEN);
		if (k < plen) {
			uint64_t sl = plen | FUZZ_SPARSE;
			for (int i = 0; i < 8; i++)
				out[o + 8 + i] = (uint8_t)(sl >> (8 * i));
			for (int i = 0; i < 4; i++)
				out[o + VMS_SECTION_HDR_LEN + i] = (uint8_t)(k >> (8 * i));
			o += 4;
		}
		memcpy(out + o + VMS_SECTION_HDR_LEN, s + at + VMS_SECTION_HDR_LEN, k);
		o += VMS_SECTION_HDR_LEN + k;
		at += VMS_SECTION_HDR_LEN + plen + VMS_DIGEST_LEN;
	}
	return o;
}

/* Writes a seed file into dir (FUZZ_SEED_DIR) from the stream in fd. */
static inline void fuzz_write_seed(const char *dir, const char *name, int fd)
{
	off_t len = lseek(fd, 0, SEEK_END);
	uint8_t *s = malloc((size_t)len), *u = malloc((size_t)len + 4096);
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!s || !u || !f || pread(fd, s, (size_t)len, 0) != len) {
		fprintf(stderr, "fuzz: cannot write seed %s\n", path);
		abort();
	}
	fwrite(u, 1, fuzz_unframe(s, (size_t)len, u), f);
	fclose(f);
	free(s);
	free(u);
}
#endif
