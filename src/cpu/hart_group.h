/* The harts of one machine and what they share: the guest RAM they run
 * from, the map of which hart decoded which RAM page, and the machine's
 * side of the calls a hart makes out of the CPU (the MMIO bus, guest time,
 * a wake-up for sleeping vCPU threads). cpu/ reaches the machine only
 * through this; the VM (core/vm.c) fills it in and owns it. */
#ifndef TERN_HART_GROUP_H
#define TERN_HART_GROUP_H
#include <stdatomic.h>
#include <stdint.h>
#include "mem/guest_ram.h"

struct hart;

#define HART_GROUP_MAX 8

/* Which harts hold a decoded copy of each RAM page (a bit per hart), and
 * a generation per page that every write seen on a decoded page bumps
 * (cpu/dcache.c keeps it). */
struct code_map {
	_Atomic uint8_t *harts;
	_Atomic uint32_t *gen;
	uint64_t ram_pages;
};

/* What the machine does for its harts. mmio_read/write return 0, or
 * -EFAULT when nothing answers at pa (the hart raises an access fault). */
struct hart_machine_ops {
	int (*mmio_read)(void *machine, uint64_t pa, unsigned size, uint64_t *val);
	int (*mmio_write)(void *machine, uint64_t pa, unsigned size, uint64_t val);
	uint64_t (*time)(const void *machine);      /* guest time, in ticks */
	void (*kick)(void *machine);                /* wake every vCPU from wfi */
};

struct hart_group {
	struct guest_ram *ram;
	struct hart *harts[HART_GROUP_MAX];
	int nharts;
	struct code_map code_map;
	const struct hart_machine_ops *ops;
	void *machine;
};

static inline uint64_t hart_group_time(const struct hart_group *g)
{
	return g->ops->time(g->machine);
}
static inline int hart_group_mmio_read(struct hart_group *g, uint64_t pa, unsigned size, uint64_t *val)
{
	return g->ops->mmio_read(g->machine, pa, size, val);
}
static inline int hart_group_mmio_write(struct hart_group *g, uint64_t pa, unsigned size, uint64_t val)
{
	return g->ops->mmio_write(g->machine, pa, size, val);
}
static inline void hart_group_kick(struct hart_group *g)
{
	g->ops->kick(g->machine);
}
#endif
