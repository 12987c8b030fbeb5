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
struct snap_lease;

struct snap_stats {
	uint64_t ram_total;         /* bytes of guest RAM */
	uint64_t pages_normal;      /* pages stored */
	uint64_t pages_zero;        /* pages recorded as zero in the bitmap */
	uint64_t bytes_written;     /* stream bytes, holes included */
};

/* The vCPU must be parked (vm_pause). Writes the stream to fd. */
int snap_save_fd(struct vm *vm, int fd, struct snap_stats *st, char *err, size_t errlen);
/* Writes a fresh temporary file next to PATH, syncs it and renames it over
 * PATH, so a failure never destroys an older snapshot. PATH must be a
 * regular file or not exist (no device, FIFO, symlink). */
int snap_save_file(struct vm *vm, const char *path, struct snap_stats *st, char *err, size_t errlen);

/* The pieces, for live migration (migration/): the CONFIG section, and the
 * machine, hart and device sections (vCPU parked). Return 0 or -1 (the
 * writer's err says why). */
int snap_write_config(struct vm *vm, struct vms_writer *w, char *err, size_t errlen);
int snap_write_state(struct vm *vm, struct vms_writer *w);

/* How device state travels: each device's own save/load (DEVICE
 * sections), or the write logs replayed into fresh devices (one DEVLOG
 * section, state/devlog.h). */
enum snap_dev_method { SNAP_DEV_SAVE, SNAP_DEV_LOG };
/* Both encodings of the same device state, measured (sizes include the
 * section framing). */
struct snap_dev_report {
	enum snap_dev_method method;        /* the one written */
	uint64_t save_bytes, log_bytes, log_entries;
	int64_t save_us, log_us;            /* encoding time */
	bool log_ok;                        /* false: log_err says why */
	char log_err[200];
};
/* The same with the devices in the given form, reporting the time spent
 * on harts and on devices (with the machine section). With rep, the
 * devices are encoded both ways (timed) and the chosen form is written. */
int snap_write_state_as(struct vm *vm, struct vms_writer *w, enum snap_dev_method method,
			int64_t *cpu_us, int64_t *dev_us, struct snap_dev_report *rep);

/* Restore, in two steps around virt_create. */
struct snap_image {
	int fd;
	struct vms_reader r;
	json_t *config;             /* owns the strings cfg points to */
	char path[4096];
	struct snap_lease *lease;   /* RAM is mapped from the file (state/snap_lease.h) */
	struct snap_verify *verify; /* its chunks are being checked (state/snap_verify.h) */
	/* Set by snap_load_state: the device form found and its load time. */
	enum snap_dev_method dev_method;
	int64_t dev_load_us;
};
/* Opens the snapshot, checks its header and reads the configuration. */
int snap_open(struct snap_image *img, const char *path, struct virt_config *cfg,
	      char *err, size_t errlen);
/* The same on an open stream (a migration socket); name is for messages. */
int snap_open_fd(struct snap_image *img, int fd, const char *name, struct virt_config *cfg,
		 char *err, size_t errlen);
/* Machine, harts and devices, without RAM. machine is the already-read
 * MACHINE section header, or NULL to read it next. *ticks gets the guest
 * time to continue from (vm_set_guest_time, once RAM is in place). */
int snap_load_state(struct snap_image *img, struct vm *vm, const struct vms_section *machine,
		    uint64_t *ticks, char *err, size_t errlen);
/* Loads machine, harts, devices and RAM into a VM built from that config.
 * RAM mapped from a file with chunk digests is checked lazily
 * (state/snap_verify.h) until snap_stop_verify or snap_close. */
int snap_load(struct snap_image *img, struct vm *vm, char *err, size_t errlen);
/* Stops the lazy check's background thread (before the VM's RAM goes;
 * snap_close frees the rest); fine to call twice. */
void snap_stop_verify(struct snap_image *img);
/* Before snap_close when the VM and its loop stay (the fuzz harness): stop
 * watching the file for writers. Not needed once the VM is destroyed. */
void snap_unwatch(struct snap_image *img);
void snap_close(struct snap_image *img);
#endif
