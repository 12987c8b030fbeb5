/* Device state by write-log replay: each device declares its registers
 * (write-only ones are logged, readable ones are read back, actions are
 * dropped), the MMIO dispatch logs the guest's writes compacted to the last
 * write per (register, selector), and a destination replays them into
 * fresh device models, then loads each device's small residue.
 * Design and format: docs/MIGRATION.md, docs/SNAPSHOT-FORMAT.md. */
#ifndef TERN_DEVLOG_H
#define TERN_DEVLOG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct dev_ops;
struct devlog_sink;
struct vmbuf;
struct vmrd;

#define DEVLOG_VERSION 1
/* Hostile-input bounds for one device in a DEVLOG payload. */
#define DEVLOG_MAX_WIRE_ENTRIES 8192u
#define DEVLOG_MAX_RESIDUE (64u << 10)

enum devlog_class {
	/* Writes change nothing (read-only or unknown registers, writes the
	 * device ignores in its current state). */
	DEVLOG_IGNORED = 0,
	/* State that cannot be read back: logged, last write per key kept. */
	DEVLOG_WRITE_ONLY,
	/* Readable configuration: read back at encode time, written on replay. */
	DEVLOG_READ_WRITE,
	/* Side effects only (transmit, kick, acknowledge, claim/complete):
	 * never replayed; whatever state they leave behind is in the residue. */
	DEVLOG_ACTION,
	/* A device reset by the guest: everything logged before it is dropped
	 * (the write itself belongs to a READ_WRITE register). */
	DEVLOG_RESET,
};

/* A run of `count` registers at off, off+stride, ... that exist in the
 * selector contexts ctx_min..ctx_max (0..0 for registers without one).
 * A READ_WRITE register still at reset_value (what a fresh device holds)
 * is not sent. */
struct devlog_reg {
	const char *name;
	uint32_t off, count, stride;
	uint32_t ctx_min, ctx_max;
	enum devlog_class class;
	uint32_t reset_value;
};

/* What a device declares (hung off its dev_ops). */
struct devlog_ops {
	const struct devlog_reg *regs;
	unsigned nregs;
	unsigned width;             /* register width in bytes: entries are replayed at it */
	unsigned sizes;             /* bit n set: guest accesses of n bytes reach registers */
	/* The selector context a write at off lands in now (DLAB, QueueSel,
	 * DriverFeaturesSel); NULL: always 0. */
	uint32_t (*context)(void *dev, uint32_t off);
	/* Switch the selector for off to ctx without side effects; returns
	 * the old one (for replay and read-back). NULL: no selectors. */
	uint32_t (*swap_context)(void *dev, uint32_t off, uint32_t ctx);
	/* Optional: the table's class refined by the device's state before a
	 * write (a write the device will ignore, a reset). */
	enum devlog_class (*refine)(void *dev, uint32_t off, uint32_t ctx, uint32_t val,
				    enum devlog_class class);
	/* Append every READ_WRITE register's value, in the order a replay
	 * must write them, with devlog_read_back. */
	void (*read_back)(void *dev, struct devlog_sink *sink);
	/* Optional: on while a replay writes registers (suppress checks or
	 * side effects that would differ from the original run). */
	void (*replaying)(void *dev, bool on);
	/* The state no register write can produce. */
	uint16_t residue_version;
	int (*residue_save)(void *dev, struct vmbuf *b);
	int (*residue_load)(void *dev, struct vmrd *r, unsigned version);
};

/* A register write: offset, selector context, value. */
struct devlog_entry {
	uint32_t off, ctx, val;
};

/* Where read_back puts entries. */
struct devlog_sink {
	const struct dev_ops *ops;
	void *dev;
	struct vmbuf *b;
	uint32_t n;                 /* entries appended */
};

/* Read register off in context ctx through the device's read and append it. */
void devlog_read_back(struct devlog_sink *s, uint32_t off, uint32_t ctx);

/* The per-VM logs, one per MMIO region (devices without a declaration get
 * none and cannot be encoded this way). The log watches vm's MMIO bus from
 * devlog_new to devlog_free. */
struct devlog;
struct devlog *devlog_new(struct vm *vm);
void devlog_free(struct devlog *log);
/* Note a guest write; devlog_new has the MMIO bus call it before each one
 * (VM lock held), through vm_mmio_watch. */
void devlog_note(struct devlog *log, int region, uint64_t off, unsigned size, uint64_t val);
/* The board reset every device: the logs start over (and describe the
 * devices again). */
void devlog_reset(struct devlog *log);
/* Device state was loaded another way (save/load): the logs no longer
 * describe it, so encoding refuses until the next board reset. */
void devlog_invalidate(struct devlog *log);
/* Entries in region's compacted log, and the most it can ever hold. */
unsigned devlog_count(const struct devlog *log, int region);
unsigned devlog_capacity(const struct devlog *log, int region);

/* Encode every device (VM lock held, vCPU parked): the DEVLOG payload. */
struct devlog_stats {
	uint64_t entries;           /* logged entries plus read-back registers */
};
int devlog_encode(struct vm *vm, struct vmbuf *b, struct devlog_stats *st,
		  char *err, size_t errlen);
/* Check a whole DEVLOG payload against the VM's devices (names, counts,
 * every entry against its device's register table) before touching any,
 * then replay it into them (fresh, as virt_create built them), load the
 * residues (which check themselves) and take the logs over. */
int devlog_apply(struct vm *vm, const uint8_t *p, size_t len, unsigned version,
		 char *err, size_t errlen);
#endif
