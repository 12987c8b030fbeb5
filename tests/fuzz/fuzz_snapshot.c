/* libFuzzer harness for the snapshot reader: a stream (checksums added by
 * the harness, see fuzz_stream.h) is opened as a snapshot file and loaded
 * into a small real board: header, configuration, machine, hart and device
 * sections (both device forms) and the RAM section with its bitmap. It
 * must be refused with a message or loaded, never crash or leak.
 * FUZZ_SEED_DIR=DIR writes seeds (snapshots of the board) and exits. */
#define _GNU_SOURCE
#include "fuzz_stream.h"
#include "state/snapshot.h"

static void write_seeds(struct fuzz_ctx *c, const char *dir)
{
	char err[256];
	struct snap_stats st;
	for (unsigned p = 0; p < 12; p += 3)
		memset(c->vm->mem.host + p * 4096, (int)(p + 1), 100 + p);
	/* A whole snapshot (device sections), as tern snapshot writes it. */
	int fd = memfd_create("seed", 0);
	if (snap_save_fd(c->vm, fd, &st, err, sizeof(err)))
		abort();
	fuzz_write_seed(dir, "seed-device-sections", fd);
	close(fd);
	/* The devices as write logs (no RAM section: the RAM image's place in
	 * the stream depends on what precedes it). */
	fd = memfd_create("seed", 0);
	struct vms_writer w;
	int64_t cpu, dev;
	if (vms_writer_init(&w, fd) || snap_write_config(c->vm, &w, err, sizeof(err)) ||
	    snap_write_state_as(c->vm, &w, SNAP_DEV_LOG, &cpu, &dev, NULL) || vms_writer_finish(&w))
		abort();
	vms_writer_cleanup(&w);
	fuzz_write_seed(dir, "seed-devlog", fd);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_ctx *c = fuzz_start(write_seeds);
	int fd = memfd_create("fuzz-snapshot", MFD_CLOEXEC);
	if (fd < 0 || fuzz_frame(fd, data, size) || lseek(fd, 0, SEEK_SET)) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	struct snap_image img;
	struct virt_config cfg = c->cfg;
	char err[512];
	err[0] = 0;
	if (!snap_open_fd(&img, fd, "fuzz", &cfg, err, sizeof(err)) &&
	    !snap_load(&img, c->vm, err, sizeof(err)))
		strcpy(err, "loaded");
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "fuzz_snapshot: %s\n", err);
	snap_unwatch(&img);     /* the board and its loop stay */
	snap_close(&img);       /* closes fd */
	return 0;
}
