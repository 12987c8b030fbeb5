/* Lazy checking of a restored snapshot's RAM, chunk by chunk (snap_verify.h).
 * The RAM's absent-page bitmap (mem/guest_ram.h, also post-copy's) marks
 * every stored page of an unchecked chunk; guest_ram_ptr calls
 * verify_page for them, and a background thread walks all chunks. One lock
 * serialises the checks, so a chunk is hashed at most once by each side
 * and never while the RAM is being replaced. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "state/snap_verify.h"
#include "core/vm.h"
#include "machine/virt.h"

enum { CHUNK_UNCHECKED, CHUNK_GOOD, CHUNK_BAD };

struct snap_verify {
	struct vm *vm;
	char path[512];
	uint64_t npages, nchunks;
	uint64_t *stored;            /* bit per page: stored in the file */
	uint8_t *want;               /* nchunks digests */
	uint8_t *state;              /* per chunk, under lock */
	_Atomic uint64_t *absent;    /* bit per page: stored, chunk unchecked */
	pthread_mutex_t lock;
	pthread_t thread;
	bool thread_started;
	atomic_bool stop;
};

static bool stored(const uint64_t *bm, uint64_t page)
{
	return (bm[page / 64] >> (page % 64)) & 1;
}

int snap_chunk_digest(const uint8_t *ram, const uint64_t *stored_bm, uint64_t npages,
		      uint64_t chunk, uint8_t out[SNAP_CHUNK_DIGEST_LEN])
{
	XXH3_state_t *st = XXH3_createState();
	if (!st || XXH3_128bits_reset(st) != XXH_OK) {
		XXH3_freeState(st);
		return -1;
	}
	uint64_t end = (chunk + 1) * SNAP_CHUNK_PAGES;
	if (end > npages)
		end = npages;
	/* Runs of stored pages in one update each. */
	for (uint64_t p = chunk * SNAP_CHUNK_PAGES; p < end;) {
		if (!stored(stored_bm, p)) {
			p++;
			continue;
		}
		uint64_t q = p + 1;
		while (q < end && stored(stored_bm, q))
			q++;
		XXH3_128bits_update(st, ram + p * 4096, (q - p) * 4096);
		p = q;
	}
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
	XXH3_freeState(st);
	memcpy(out, &c, SNAP_CHUNK_DIGEST_LEN);
	return 0;
}

/* Check one chunk (once); 0 when it matches. A mismatch ends the VM. */
static int verify_chunk(struct snap_verify *v, uint64_t chunk)
{
	pthread_mutex_lock(&v->lock);
	if (v->state[chunk] == CHUNK_UNCHECKED) {
		uint8_t got[SNAP_CHUNK_DIGEST_LEN];
		if (snap_chunk_digest(v->vm->mem.host, v->stored, v->npages, chunk, got)) {
			/* No memory to hash with: not a verdict on the file. */
			pthread_mutex_unlock(&v->lock);
			vm_request_exit(v->vm, VM_EXIT_ERROR,
					"out of memory while checking the restored RAM");
			return -1;
		}
		bool good = !memcmp(got, v->want + chunk * SNAP_CHUNK_DIGEST_LEN, sizeof(got));
		v->state[chunk] = good ? CHUNK_GOOD : CHUNK_BAD;
		if (good) {
			/* release: the check happened before anyone sees the bit clear */
			uint64_t first = chunk * SNAP_CHUNK_PAGES, last = first + SNAP_CHUNK_PAGES;
			for (uint64_t w = first / 64; w < last / 64 && w * 64 < v->npages; w++)
				atomic_store_explicit(&v->absent[w], 0, memory_order_release);
		} else {
			char msg[sizeof(v->vm->exit_msg)];
			snprintf(msg, sizeof(msg), "%.120s is corrupt: checksum mismatch in the ram section "
				 "(2 MiB at guest 0x%llx, not read by the guest)", v->path,
				 (unsigned long long)(v->vm->mem.base + chunk * SNAP_CHUNK_PAGES * 4096ull));
			vm_request_exit(v->vm, VM_EXIT_ERROR, msg);
		}
	}
	int r = v->state[chunk] == CHUNK_GOOD ? 0 : -1;
	pthread_mutex_unlock(&v->lock);
	return r;
}

/* guest_ram.fetch: any thread that reaches an unchecked stored page. */
static int verify_page(void *ctx, uint64_t page)
{
	struct snap_verify *v = ctx;
	return verify_chunk(v, page / SNAP_CHUNK_PAGES);
}

static void *verify_all(void *arg)
{
	struct snap_verify *v = arg;
	bool all_good = true;
	for (uint64_t c = 0; c < v->nchunks && !atomic_load(&v->stop); c++)
		if (verify_chunk(v, c))
			all_good = false;
	/* Every chunk is good: guest_ram_ptr's hook is off for good. */
	if (all_good && !atomic_load(&v->stop))
		atomic_store(&v->vm->mem.absent, NULL);
	return NULL;
}

struct ring_check {
	struct vm *vm;
	int failed;
};

static void check_ring(void *ctx, uint64_t pa, uint64_t len)
{
	struct ring_check *rc = ctx;
	if (len && !vm_ram_ptr(rc->vm, pa, len))
		rc->failed = 1;
}

struct snap_verify *snap_verify_start(struct vm *vm, const char *path, const uint64_t *stored_bm,
				      uint64_t npages, const uint8_t *want, uint64_t nchunks,
				      char *err, size_t errlen)
{
	struct snap_verify *v = calloc(1, sizeof(*v));
	uint64_t words = (npages + 63) / 64;
	if (v) {
		v->stored = malloc(words * 8);
		v->want = malloc(nchunks * SNAP_CHUNK_DIGEST_LEN);
		v->state = calloc(nchunks ? nchunks : 1, 1);
		v->absent = malloc(words * 8);
	}
	if (!v || !v->stored || !v->want || !v->state || !v->absent) {
		if (v) {
			free(v->stored);
			free(v->want);
			free(v->state);
			free((void *)v->absent);
			free(v);
		}
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	v->vm = vm;
	snprintf(v->path, sizeof(v->path), "%s", path);
	v->npages = npages;
	v->nchunks = nchunks;
	memcpy(v->stored, stored_bm, words * 8);
	memcpy(v->want, want, nchunks * SNAP_CHUNK_DIGEST_LEN);
	for (uint64_t w = 0; w < words; w++)
		atomic_init(&v->absent[w], stored_bm[w]);
	pthread_mutex_init(&v->lock, NULL);
	vm->mem.fetch = verify_page;
	vm->mem.fetch_ctx = v;
	atomic_store(&vm->mem.absent, v->absent);
	/* The devices took host views of their rings while loading, before
	 * this hook was armed: check those chunks now. */
	struct ring_check rc = { vm, 0 };
	virt_visit_rings(vm, check_ring, &rc);
	if (rc.failed) {
		snprintf(err, errlen, "%s", vm->exit_msg[0] ? vm->exit_msg : "a virtqueue lies outside RAM");
		snap_verify_free(v);
		return NULL;
	}
	/* TERN_SNAP_CHECK=on-access (for tests): no background thread, so a
	 * chunk is checked only when something reaches it. */
	const char *mode = getenv("TERN_SNAP_CHECK");
	if (mode && !strcmp(mode, "on-access"))
		return v;
	v->thread_started = !pthread_create(&v->thread, NULL, verify_all, v);
	if (!v->thread_started) {
		/* No thread: check everything now. */
		verify_all(v);
		if (atomic_load(&vm->mem.absent)) {
			snprintf(err, errlen, "%s", vm->exit_msg);
			snap_verify_free(v);
			return NULL;
		}
	}
	return v;
}

void snap_verify_stop(struct snap_verify *v)
{
	if (!v)
		return;
	atomic_store(&v->stop, true);
	if (v->thread_started)
		pthread_join(v->thread, NULL);
	v->thread_started = false;
}

void snap_verify_free(struct snap_verify *v)
{
	if (!v)
		return;
	snap_verify_stop(v);
	if (v->vm->mem.fetch_ctx == v) {
		atomic_store(&v->vm->mem.absent, NULL);
		v->vm->mem.fetch = NULL;
		v->vm->mem.fetch_ctx = NULL;
	}
	pthread_mutex_destroy(&v->lock);
	free(v->stored);
	free(v->want);
	free(v->state);
	free((void *)v->absent);
	free(v);
}
