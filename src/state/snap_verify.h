/* Lazy checking of a restored snapshot's RAM (docs/SNAPSHOT.md, "RAM
 * chunks"). The stored pages are mapped from the file unread; each 2 MiB
 * chunk of guest-physical RAM has its own XXH3-128 digest in the file's
 * RAM_CHUNKS section. A chunk is checked the first time anything reaches
 * one of its stored pages through guest_ram_ptr (a TLB fill, the page-table
 * walker, device DMA), which the RAM's absent-page hook routes here, and a
 * background thread checks the rest in order meanwhile. The guest never
 * reads a byte of a chunk that failed: the access fails and the VM ends
 * with the file's name and the chunk. */
#ifndef TERN_SNAP_VERIFY_H
#define TERN_SNAP_VERIFY_H
#include <stdint.h>

#define SNAP_CHUNK_PAGES 512u          /* 2 MiB of 4 KiB pages */
#define SNAP_CHUNK_DIGEST_LEN 16u      /* XXH3-128, canonical (big-endian) */

struct vm;
struct snap_verify;

/* Arms the check for vm's RAM: stored_bm has a bit per page stored in the
 * file (copied), want one digest per chunk (copied; nchunks of them). The
 * chunks holding the virtqueues' rings, whose host addresses the devices
 * already hold, are checked before this returns. NULL with err on failure
 * (a corrupt chunk among those, or no memory). */
struct snap_verify *snap_verify_start(struct vm *vm, const char *path, const uint64_t *stored_bm,
				      uint64_t npages, const uint8_t *want, uint64_t nchunks,
				      char *err, size_t errlen);
/* Stops and joins the background thread (before the RAM is unmapped);
 * accesses keep checking their chunks until snap_verify_free. NULL and a
 * second call are fine. */
void snap_verify_stop(struct snap_verify *v);
/* Stops, turns the hook off and frees: once nothing reaches guest RAM any
 * more (the devices are gone). NULL is fine. */
void snap_verify_free(struct snap_verify *v);

/* The digest of one chunk as saved: XXH3-128 over its stored pages in
 * page order (canonical bytes into out). Used by the writer and the check.
 * 0, or -1 when there is no memory for the hash state. */
int snap_chunk_digest(const uint8_t *ram, const uint64_t *stored_bm, uint64_t npages,
		      uint64_t chunk, uint8_t out[SNAP_CHUNK_DIGEST_LEN]);
#endif
