/* libFuzzer harness for the migration stream as a destination reads it
 * after the handshake: configuration, RAM batches (raw and zstd), the
 * machine, hart and device sections, more batches (some pages again, as
 * XBZRLE deltas), then END or the
 * POSTCOPY section and the batches a post-copy receiver applies; and
 * storage migration's DISKS and BLOCK_BATCH sections, written into a
 * fresh raw target of 1 MiB + 4 KiB (a disk the harness adds when the configuration
 * names none, as `tern run --disk` would). The
 * stream (checksums added, see fuzz_stream.h) arrives over a socket pair
 * from a writer thread, as from a source. It must be refused with a
 * message or loaded, never crash, hang or leak.
 * FUZZ_SEED_DIR=DIR writes seeds (pre-copy and post-copy streams) and exits. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/socket.h>
#include "fuzz_stream.h"
#include "migration/channel.h"
#include "migration/migration.h"
#include "migration/mig_dst_priv.h"
#include "migration/rampages.h"
#include "migration/xbzrle.h"
#include "migration/blkmig.h"
#include "state/snapshot.h"

struct feeder {
	int fd, src;
};

/* The source: copies the framed stream into the socket, then hangs up. */
static void *feed(void *arg)
{
	struct feeder *f = arg;
	uint8_t buf[65536];
	ssize_t n;
	off_t at = 0;
	while ((n = pread(f->src, buf, sizeof(buf), at)) > 0) {
		if (mig_write_all(f->fd, buf, (size_t)n))
			break;
		at += n;
	}
	shutdown(f->fd, SHUT_WR);
	return NULL;
}

static void put_batch(struct vms_writer *w, struct vm *vm, uint64_t first, uint32_t n, int codec,
		      struct xbz_cache *xb)
{
	static uint8_t enc[RAM_BATCH_ENC_MAX], scratch[RAM_BATCH_RAW_MAX];
	uint64_t pages[8];
	struct ram_batch_stats st = { 0 };
	for (uint32_t i = 0; i < n; i++)
		pages[i] = first + i;
	size_t len = ram_batch_encode(vm, pages, n, codec, xb, enc, scratch, &st);
	vms_put_section(w, VMS_ID_RAM_BATCH, 0, RAM_BATCH_VERSION, enc, len);
}

/* A short last chunk (16: 4 KiB) keeps seeds under libFuzzer's max_len. */
#define FUZZ_DISK_SIZE ((1u << 20) + 4096)

/* DISKS for disk 0 (raw, no base), then two block batches: chunk 16 (the
 * last, 4 KiB) with data and chunk 15 as zeroes, then chunk 16 again as
 * zeroes. */
static void put_disks(struct vms_writer *w)
{
	uint8_t d[4 + 16] = { 1, 0, 0, 0, 0, 0, 0, 0 };
	uint64_t size = htole64(FUZZ_DISK_SIZE);
	memcpy(d + 8, &size, 8);
	vms_put_section(w, VMS_ID_DISKS, 0, 1, d, sizeof(d));
	static uint8_t b[BLKMIG_HDR + 16 + 4096];
	memset(b, 0, sizeof(b));
	b[4] = 2;
	uint64_t e0 = htole64(16 << 1), e1 = htole64(15 << 1 | 1);
	memcpy(b + 8, &e0, 8);
	memcpy(b + 16, &e1, 8);
	memset(b + 24, 0x5a, 4096);
	vms_put_section(w, VMS_ID_BLOCK_BATCH, 0, 1, b, sizeof(b));
	b[4] = 1;
	e0 = htole64(16 << 1 | 1);
	memcpy(b + 8, &e0, 8);
	vms_put_section(w, VMS_ID_BLOCK_BATCH, 0, 1, b, BLKMIG_HDR + 8);
}

static void write_seeds(struct fuzz_ctx *c, const char *dir)
{
	char err[256];
	uint64_t npages = FUZZ_RAM_SIZE / 4096, words = (npages + 63) / 64;
	for (unsigned p = 0; p < 8; p += 2)
		memset(c->vm->mem.host + p * 4096, (int)(p + 7), 64 + p);
	for (int post = 0; post < 3; post++) {
		int fd = memfd_create("seed", 0);
		struct vms_writer w;
		int64_t cpu, dev;
		if (vms_writer_init(&w, fd) || snap_write_config(c->vm, &w, err, sizeof(err)))
			abort();
		if (post == 2)
			put_disks(&w);
		struct xbz_cache *xb = xbz_cache_new(npages, 8 * 4096);
		put_batch(&w, c->vm, 0, 4, RAM_CODEC_NONE, xb);
		put_batch(&w, c->vm, 4, 2, RAM_CODEC_ZSTD, NULL);
		for (unsigned p = 0; p < 4; p++)        /* pages 0 and 2 go again as deltas */
			c->vm->mem.host[p * 4096 + 100 * p] ^= 0x81;
		put_batch(&w, c->vm, 0, 4, RAM_CODEC_NONE, xb);
		xbz_cache_free(xb);
		if (snap_write_state_as(c->vm, &w, post ? SNAP_DEV_LOG : SNAP_DEV_SAVE, &cpu, &dev, NULL))
			abort();
		if (post == 1) {
			uint64_t *bm = calloc(words, 8);
			bm[0] = 0xc0;       /* pages 6 and 7 follow after the switch-over */
			vms_put_section(&w, VMS_ID_POSTCOPY, 0, 1, bm, words * 8);
			free(bm);
			put_batch(&w, c->vm, 6, 2, RAM_CODEC_ZSTD, NULL);
		} else {
			put_batch(&w, c->vm, 6, 2, RAM_CODEC_NONE, NULL);
		}
		vms_writer_finish(&w);
		vms_writer_cleanup(&w);
		fuzz_write_seed(dir, post == 2 ? "seed-storage" : post ? "seed-postcopy" : "seed-precopy", fd);
		close(fd);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_ctx *c = fuzz_start(write_seeds);
	int src = memfd_create("fuzz-migration", MFD_CLOEXEC), sv[2];
	if (src < 0 || fuzz_frame(src, data, size) || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		if (src >= 0)
			close(src);
		return 0;
	}
	struct feeder f = { .fd = sv[1], .src = src };
	pthread_t t;
	if (pthread_create(&t, NULL, feed, &f)) {
		close(src);
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	/* What mig_incoming_open sets up once the handshake has passed. */
	struct mig_incoming *in = calloc(1, sizeof(*in));
	struct virt_config cfg = c->cfg;
	char err[512];
	in->fd = -1;
	in->ram_size = FUZZ_RAM_SIZE;
	in->ram = mmap(NULL, in->ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	in->scratch = malloc(RAM_BATCH_RAW_MAX);
	in->batch = malloc(RAM_BATCH_ENC_MAX);
	err[0] = 0;
	/* Copies go to files of ours, never to a path the input names. */
	char disks[VIRT_MAX_DISKS][64];
	for (int i = 0; i < VIRT_MAX_DISKS; i++) {
		snprintf(disks[i], sizeof(disks[i]), "/tmp/fuzz-migration-disk.%d.%d", (int)getpid(), i);
		unlink(disks[i]);
	}
	in->cfg = &cfg;
	in->user_disks = VIRT_MAX_DISKS;    /* as if given with --disk */
	int ok = !snap_open_fd(&in->img, sv[0], "migration stream", &cfg, err, sizeof(err));
	if (ok && !cfg.ndisks) {
		cfg.ndisks = 1;
		cfg.disks[0] = (struct virt_disk){ .format = "raw" };
		cfg.disk_sizes[0] = FUZZ_DISK_SIZE;
	}
	for (int i = 0; ok && i < cfg.ndisks; i++)
		cfg.disks[i].path = disks[i];
	if (ok && cfg.mem_size == FUZZ_RAM_SIZE && !mig_incoming_receive_ram(in, err, sizeof(err)) &&
	    !mig_incoming_finish(in, c->vm, err, sizeof(err)) && in->postcopy) {
		/* Let the post-copy receiver take the rest (it stops at EOF). */
		for (int i = 0; i < 200; i++) {
			struct mig_incoming_info info;
			mig_incoming_get_info(in, &info);
			if (!info.postcopy || info.done || info.failed)
				break;
			usleep(1000);
		}
		strcpy(err, "post-copy started");
	} else if (!err[0]) {
		strcpy(err, "loaded");
	}
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "fuzz_migration: %s\n", err);
	if (in->ram == MAP_FAILED)
		in->ram = NULL;
	mig_incoming_close(in);     /* the image owns sv[0] and closes it */
	for (int i = 0; i < VIRT_MAX_DISKS; i++)
		unlink(disks[i]);   /* kept when the stream completed */
	pthread_join(t, NULL);
	close(sv[1]);
	close(src);
	return 0;
}
