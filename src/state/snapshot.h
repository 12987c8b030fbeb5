/* Whole-VM snapshots: save a parked VM to a stream (config, machine,
 * harts, devices in board-table order, RAM) and restore one before the
 * vCPU first runs. RAM is stored page-aligned with holes for zero pages,
 * so a file restore maps it copy-on-write instead of reading it. */
#ifndef TERN_SNAPSHOT_H
#define TERN_SNAPSHOT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "state/stream.h"

struct vm;
struct virt_config;

struct snap_stats {
	uint64_t ram_total;         /* bytes of guest RAM */
	uint64_t pages_normal;      /* pages stored */
	uint64_t pages_zero;        /* pages recorded as zero in the bitmap */
	uint64_t bytes_written;     /* stream bytes, holes included */
};

/* The vCPU must be parked (vm_pause). Writes the stream to fd. */
int snap_save_fd(struct vm *vm, int fd, struct snap_stats *st, char *err, size_t errlen);
/* Writes PATH.tmp, syncs it and renames it over PATH, so a failure never
 * destroys an older snapshot. */
int snap_save_file(struct vm *vm, const char *path, struct snap_stats *st, char *err, size_t errlen);

/* Restore, in two steps around virt_create. */
struct snap_image {
	int fd;
	struct vms_reader r;
	json_t *config;             /* owns the strings cfg points to */
	char path[4096];
};
/* Opens the snapshot, checks its header and reads the configuration. */
int snap_open(struct snap_image *img, const char *path, struct virt_config *cfg,
	      char *err, size_t errlen);
/* Loads machine, harts, devices and RAM into a VM built from that config. */
int snap_load(struct snap_image *img, struct vm *vm, char *err, size_t errlen);
void snap_close(struct snap_image *img);
#endif
