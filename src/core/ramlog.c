/* Guest RAM write tracking across the harts: decoded-code invalidation and
 * write-TLB flushes around the RAM's own logs (see ramlog.h). */
#include <string.h>
#include "core/ramlog.h"
#include "core/vm.h"
#include "cpu/dcache.h"

static void flush_write_tlbs(struct vm *vm)
{
	for (int i = 0; i < vm->cpus.nharts; i++)
		memset(vm->cpus.harts[i]->tlb_w, 0, sizeof(vm->cpus.harts[i]->tlb_w));
}

int ram_dirty_log_start(struct vm *vm)
{
	int r = guest_ram_log_start(&vm->mem);
	if (!r)
		flush_write_tlbs(vm);        /* every page's next write is logged */
	return r;
}

uint64_t ram_dirty_log_sync(struct vm *vm, uint64_t *out)
{
	if (!atomic_load_explicit(&vm->mem.dirty_log, memory_order_acquire))
		return 0;
	flush_write_tlbs(vm);
	return guest_ram_log_harvest(&vm->mem, out);
}

uint64_t ram_discard(struct vm *vm, uint64_t off, uint64_t len)
{
	if (!guest_ram_pages_within(&vm->mem, &off, &len))
		return 0;
	/* Post-copy destination: a page still on its way would land on top
	 * of the discard later; have it here first. */
	if (guest_ram_demand(&vm->mem, off, len))
		return 0;
	/* first out of the write TLBs: no fast-path store may land unseen */
	flush_write_tlbs(vm);
	dcache_invalidate(&vm->cpus, NULL, off, len);
	guest_ram_drop(&vm->mem, off, len);
	return len;
}
