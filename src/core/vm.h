/* struct vm: everything one virtual machine owns. No file-scope state
 * anywhere, so two VMs fit in one test binary. */
#ifndef TERN_VM_H
#define TERN_VM_H
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include <pthread.h>
#include <stdatomic.h>
#include "dev/dev.h"
#include "cpu/hart.h"
#include "cpu/hart_group.h"
#include "core/devreg.h"
#include "mem/guest_ram.h"

struct mig_incoming;
struct devlog;
struct virt_board;

#define VM_MAX_HARTS HART_GROUP_MAX
#define VM_MAX_MMIO 32

struct mmio_region {
	uint64_t base, size;
	const struct dev_ops *ops;
	void *dev;
};

/* A watcher of guest writes on the MMIO bus (vm_mmio_watch): called before
 * the device sees the write, with the VM lock held; region indexes vm->mmio.
 * The device write log (state/devlog.c) is one. */
struct mmio_watch {
	void (*write)(void *ctx, int region, uint64_t off, unsigned size, uint64_t val);
	void *ctx;
};
#define VM_MAX_MMIO_WATCHES 4

/* Why the run loop stopped. */
enum vm_exit { VM_RUNNING = 0, VM_EXIT_POWEROFF, VM_EXIT_RESET, VM_EXIT_QUIT, VM_EXIT_ERROR };

struct vm {
	/* Guest RAM with its page logs (mem/guest_ram.h). First in the
	 * struct: vm_ram_ptr, on every TLB fill, reaches it at small offsets. */
	struct guest_ram mem;

	struct mmio_region mmio[VM_MAX_MMIO];
	int nmmio;
	struct mmio_watch mmio_watch[VM_MAX_MMIO_WATCHES];
	int nmmio_watch;
	/* The devices' state hooks, which snapshots and migration walk
	 * (core/devreg.h); the board registers them in bus order. */
	struct devreg devreg;

	/* The harts, with what they share and the machine's ops they call
	 * (cpu/hart_group.h): cpus.harts[0 .. cpus.nharts-1]. Each hart has
	 * its own decoded pages and compiled blocks (hart->dcache, hart->jit). */
	struct hart_group cpus;
	/* vm_kick counts here (with idle_lock held, then broadcasts
	 * idle_cond): a vCPU loop (core/vcpu.h) that sees the count move
	 * since its round began does not sleep in wfi. */
	_Atomic unsigned kicks;
	/* Auto-converge: the percentage of time the vCPU sleeps (migration). */
	_Atomic int throttle_pct;
	/* The live migration this VM is the source of (migration/), or NULL;
	 * the key file for migrations (--migrate-key). */
	struct migration *migration;
	const char *migrate_key;
	const char *migrate_tls;    /* --migrate-tls DIR: TLS for migrations, or NULL */
	/* The guest's writes to device registers, compacted (state/devlog.h);
	 * NULL when not kept. */
	struct devlog *devlog;
	/* The incoming post-copy, for query-migrate on this side. */
	struct mig_incoming *incoming;

	/* Guards device state; the vCPU takes it around MMIO, the I/O thread
	 * around input delivery. */
	pthread_mutex_t lock;
	/* vCPU sleep/wake for wfi. */
	pthread_mutex_t idle_lock;
	pthread_cond_t idle_cond;

	_Atomic int exit_req;       /* enum vm_exit */
	char exit_msg[256];

	/* Guest time: ticks = (host_monotonic_ns - time_base_ns) / 100 + offset */
	int64_t time_base_ns;
	uint64_t time_offset;

	/* The board (machine/virt.c): its configuration, the I/O loop, every
	 * device and the vCPU loops' state. core/ never looks inside it. */
	struct virt_board *board;

	/* Pausing (core/pause.c): every vCPU thread parks at a slice boundary
	 * while pause_count > 0; guest time stands still while all are. */
	_Atomic int pause_count;
	/* Called (from the thread that resumes) when the last pause ends:
	 * devices that held their input while paused take it again. */
	void (*on_resume)(struct vm *vm);
	_Atomic int parked;         /* vCPU threads parked */
	_Atomic int vcpu_running;   /* vCPU threads that have not returned yet */
	_Atomic int reset_req;      /* the host asked for a reset (runs even when paused) */
	/* The primary vCPU resets the machine: the others park until it is
	 * done; vcpus_stop tells them to return (the VM ends). */
	_Atomic int resetting, vcpus_stop;
	pthread_cond_t park_cond;   /* with idle_lock: parked/vcpu_running changed */
	bool time_frozen;           /* every vCPU thread is parked: guest time is frozen_ticks */
	uint64_t frozen_ticks;      /* guest time while parked */
	const char *name;
	/* Asynchronous events (QMP): name and a JSON object text, or NULL.
	 * Called from any thread. */
	void (*event_fn)(void *opaque, const char *event, const char *data_json);
	void *event_opaque;
};

#define TIMEBASE_HZ 10000000ull

/* What vm_init builds: the core a board puts its devices around. */
struct vm_opts {
	uint64_t ram_base, ram_size;
	int nharts;                 /* 1..VM_MAX_HARTS */
	size_t jit_bytes;           /* the block compiler's code buffer; 0: interpret only */
};
/* Set up *vm (zeroed first): anonymous zero RAM, the harts (reset and
 * stopped), the decoded-code cache, the block compiler (when jit_bytes is
 * set and it can be had), the locks, and guest time starting at 0. Returns
 * 0, or -EINVAL / -ENOMEM with *vm torn down again. */
int vm_init(struct vm *vm, const struct vm_opts *o);
/* Undo vm_init, after the board has destroyed its devices. */
void vm_fini(struct vm *vm);
/* vm_init on the heap, for tests and tools: NULL with errno set. */
struct vm *vm_new(const struct vm_opts *o);
void vm_free(struct vm *vm);

uint64_t vm_time(const struct vm *vm);          /* guest time in ticks */
/* Host-monotonic ns at which guest time reaches ticks. */
int64_t vm_time_to_host_ns(const struct vm *vm, uint64_t ticks);
/* The host's CLOCK_MONOTONIC in ns: the one clock for timing in tern. */
int64_t host_mono_ns(void);
int vm_add_mmio(struct vm *vm, uint64_t base, uint64_t size,
		const struct dev_ops *ops, void *dev);
/* MMIO dispatch; returns 0 or -EFAULT (unmapped or refused). */
int vm_mmio_read(struct vm *vm, uint64_t pa, unsigned size, uint64_t *val);
int vm_mmio_write(struct vm *vm, uint64_t pa, unsigned size, uint64_t val);
/* Start or stop watching guest MMIO writes (any thread but the vCPU's, which
 * holds the VM lock meanwhile). Return 0, -ENOSPC (too many watchers) or
 * -ENOENT (no such watcher). */
int vm_mmio_watch(struct vm *vm, const struct mmio_watch *w);
int vm_mmio_unwatch(struct vm *vm, const struct mmio_watch *w);
/* Host pointer for [pa, pa+len) when it lies inside guest RAM, else NULL
 * (guest_ram_ptr: a post-copy destination waits here for a page that has
 * not arrived yet). */
static inline uint8_t *vm_ram_ptr(const struct vm *vm, uint64_t pa, uint64_t len)
{
	return guest_ram_ptr(&vm->mem, pa, len);
}
/* Wake every vCPU thread from wfi (any thread). */
void vm_kick(struct vm *vm);
/* Ask the harts in mask (bit i: hart i) for HART_REQ_* and wait until each
 * has served it or is outside hart_run (it serves it before it runs
 * again). Not with vm->lock held: a hart may be waiting for it. */
void vm_harts_request(struct vm *vm, uint64_t mask, unsigned req);
/* Drop every hart's decoded code and compiled blocks (reset, restore);
 * with no hart running. */
void vm_code_flush(struct vm *vm);
/* Ask the run loop to stop with the given reason (any thread). */
void vm_request_exit(struct vm *vm, enum vm_exit why, const char *msg);

/* Pause/resume (core/pause.c). vm_pause returns once every vCPU thread is
 * parked (or no longer runs); pauses nest, they run again after the last
 * resume. Not from a vCPU thread. */
void vm_pause(struct vm *vm);
void vm_resume(struct vm *vm);
bool vm_is_parked(const struct vm *vm);
/* A vCPU loop's parking spot, called between slices. Returns at once when
 * no pause is asked for, else when resumed. The primary vCPU also returns
 * on an exit or reset request; the others stay parked through those
 * (until the reset is done, or vcpus_stop). */
void vm_pause_point(struct vm *vm, bool primary);
/* The primary vCPU, before it resets the machine: wait until every other
 * vCPU thread is parked (vm->resetting is set). */
void vm_park_others(struct vm *vm);
/* Guest time: frozen while parked. */
uint64_t vm_guest_time(const struct vm *vm);
/* Make guest time continue from ticks (restore). */
void vm_set_guest_time(struct vm *vm, uint64_t ticks);
/* Send an asynchronous event to whoever listens (QMP); data_json may be NULL. */
void vm_event(struct vm *vm, const char *event, const char *data_json);
#endif
