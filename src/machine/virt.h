/* The 'virt' board: its devices, disks and NICs around a VM, its I/O
 * thread and its vCPU threads (memory map: machine/virt_map.h). */
#ifndef TERN_VIRT_H
#define TERN_VIRT_H
#include <stdint.h>

#include "machine/virt_map.h"
#include <stddef.h>
#include "net/spec.h"
struct vm;
struct blk_dev;
struct evloop;
struct virtio_mmio;

#define VIRT_MAX_DISKS 7   /* the last virtio slot is kept for the rng */

/* One --disk. */
struct virt_disk {
	const char *path;
	const char *format;         /* "raw", "qcow2", or NULL (raw, not a qcow2 file) */
	int readonly;
	int direct;                 /* cache=none */
	int no_backing;             /* backing=off: refuse a qcow2 that names a backing file */
	const char *serial;
};

/* Open one --disk for the guest (src/machine/virt_disk.c). Returns NULL
 * with a one-line reason in err. */
struct blk_dev *virt_open_disk(const struct virt_disk *d, char *err, size_t errlen);
/* The board's disks in --disk order (the devices own them): at most max
 * into out, returns how many. */
int virt_disks(struct vm *vm, struct blk_dev **out, int max);

#define VIRT_MAX_NICS 4

/* What `tern run` asks for. */
struct virt_config {
	struct virt_disk disks[VIRT_MAX_DISKS];
	int ndisks;
	struct net_spec nets[VIRT_MAX_NICS];   /* --net, in order */
	const char *net_args[VIRT_MAX_NICS];   /* their text (kept in snapshots) */
	int nnets;
	int rng;                    /* attach a virtio-rng device */
	int balloon;                /* attach a virtio-balloon with free page reporting */
	int mem_merge;              /* RAM is MADV_MERGEABLE (KSM); host side only */
	const char *kernel, *initrd, *append;
	uint64_t mem_size;
	int cpus;
	int vcpu_single;            /* all harts on one host thread (else one each) */
	const char *console;        /* chr spec */
	const char *name;
	const char *dtb_out;        /* write the generated FDT here */
	int reboot_restart;         /* on guest reboot: 1 restart, 0 exit */
	int incoming;               /* state comes from a snapshot: load no images */
	uint64_t disk_sizes[VIRT_MAX_DISKS];   /* incoming: each disk must have this size */
};

/* Build the board: RAM, harts, devices, console, images, device tree.
 * Returns 0, or -1 with a one-line reason in err. */
int virt_create(struct vm *vm, const struct virt_config *cfg, char *err, size_t errlen);
/* Run until the guest powers off (or resets without restart), the user
 * quits, or a fatal error. Returns the enum vm_exit reason. */
int virt_run(struct vm *vm, const struct virt_config *cfg);
void virt_destroy(struct vm *vm);
/* Every NIC announces the guest's MAC once (after a migration). */
void virt_announce(struct vm *vm);
/* Calls fn for every guest-physical area a virtio device holds a host view
 * of (its queues' rings): what a restore must have in place before the
 * devices run. */
void virt_visit_rings(struct vm *vm, void (*fn)(void *ctx, uint64_t pa, uint64_t len), void *ctx);
/* The board's parts that the control socket and snapshots reach; NULL
 * when the VM has no board (or no such device). */
struct evloop *virt_loop(struct vm *vm);                 /* the I/O thread's event loop */
struct virtio_mmio *virt_power_button(struct vm *vm);    /* virtio-input, KEY_POWER */
struct virtio_mmio *virt_balloon(struct vm *vm);         /* NULL without --balloon on */
const struct virt_config *virt_board_config(struct vm *vm);   /* what it was built from */
/* Start console input (virt_create does it, except for an incoming VM,
 * whose state must be loaded first). */
int virt_start_console(struct vm *vm, char *err, size_t errlen);
#endif
