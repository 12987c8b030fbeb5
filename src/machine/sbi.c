/* SBI implementation: BASE, TIME, IPI, RFENCE, HSM, SRST, DBCN and the legacy
 * console/timer/shutdown calls. Arguments from the guest are validated. */
#include <string.h>
#include "machine/sbi.h"
#include "cpu/lifecycle.h"
#include "cpu/trap.h"
#include "core/vm.h"
#include "backend/chr.h"

enum {
	SBI_SUCCESS = 0, SBI_ERR_FAILED = -1, SBI_ERR_NOT_SUPPORTED = -2,
	SBI_ERR_INVALID_PARAM = -3, SBI_ERR_DENIED = -4, SBI_ERR_INVALID_ADDRESS = -5,
	SBI_ERR_ALREADY_AVAILABLE = -6, SBI_ERR_ALREADY_STARTED = -7,
	SBI_ERR_ALREADY_STOPPED = -8,
};

#define EXT_LEGACY_SET_TIMER 0x00
#define EXT_LEGACY_PUTCHAR   0x01
#define EXT_LEGACY_GETCHAR   0x02
#define EXT_LEGACY_SHUTDOWN  0x08
#define EXT_BASE  0x10
#define EXT_TIME  0x54494d45
#define EXT_IPI   0x735049
#define EXT_RFNC  0x52464e43
#define EXT_HSM   0x48534d
#define EXT_SRST  0x53525354
#define EXT_DBCN  0x4442434e

#define SBI_SPEC_VERSION ((2u << 24) | 0)
#define TERN_SBI_IMPL_ID 0x7465726e   /* "tern": not a registered id */
#define TERN_SBI_IMPL_VERSION 1

struct sbiret { int64_t error; uint64_t value; };

static int ext_supported(uint64_t eid)
{
	switch (eid) {
	case EXT_LEGACY_SET_TIMER: case EXT_LEGACY_PUTCHAR: case EXT_LEGACY_GETCHAR:
	case EXT_LEGACY_SHUTDOWN:
	case EXT_BASE: case EXT_TIME: case EXT_IPI: case EXT_RFNC: case EXT_HSM:
	case EXT_SRST: case EXT_DBCN:
		return 1;
	}
	return 0;
}

/* The harts named by (mask, base) as a mask of hart ids; base == -1 means
 * all. SBI_ERR_INVALID_PARAM for a hart that does not exist. */
static int64_t hart_mask(struct vm *vm, uint64_t mask, uint64_t base, uint64_t *out)
{
	if (base == ~0ull) {
		*out = (1ull << vm->cpus.nharts) - 1;
		return SBI_SUCCESS;
	}
	*out = 0;
	for (int b = 0; b < 64; b++) {
		if (!((mask >> b) & 1))
			continue;
		uint64_t id = base + b;
		if (id < base || id >= (uint64_t)vm->cpus.nharts)
			return SBI_ERR_INVALID_PARAM;
		*out |= 1ull << id;
	}
	return SBI_SUCCESS;
}

/* IPIs set SSIP; remote fences are served by each target hart itself
 * before it runs again, and the call returns once they are (SBI says a
 * remote fence is done when the call returns). */
static int64_t to_harts(struct vm *vm, struct hart *h, uint64_t mask, uint64_t base, unsigned req)
{
	uint64_t harts;
	int64_t rc = hart_mask(vm, mask, base, &harts);
	if (rc != SBI_SUCCESS)
		return rc;
	if (!req) {
		for (int i = 0; i < vm->cpus.nharts; i++)
			if (harts & (1ull << i))
				hart_set_pending(vm->cpus.harts[i], MIP_SSIP, 1);
		return SBI_SUCCESS;
	}
	if (harts & (1ull << h->id)) {      /* this hart: at once */
		atomic_fetch_or(&h->req, req);
		hart_serve_requests(h);
		harts &= ~(1ull << h->id);
	}
	if (harts)
		vm_harts_request(vm, harts, req);
	return SBI_SUCCESS;
}

static struct sbiret hsm_call(struct vm *vm, struct hart *h, uint64_t fid, const uint64_t *a)
{
	struct sbiret r = { SBI_SUCCESS, 0 };
	switch (fid) {
	case 0: {   /* hart_start(hartid, start_addr, opaque) */
		if (a[0] >= (uint64_t)vm->cpus.nharts) { r.error = SBI_ERR_INVALID_PARAM; break; }
		if (!vm_ram_ptr(vm, a[1], 2)) { r.error = SBI_ERR_INVALID_ADDRESS; break; }
		struct hart *t = vm->cpus.harts[a[0]];
		int stopped = HSM_STOPPED;
		if (!atomic_compare_exchange_strong(&t->hsm_state, &stopped, HSM_START_PENDING)) {
			r.error = SBI_ERR_ALREADY_AVAILABLE;
			break;
		}
		/* The target's thread runs it only once it reads STARTED, which
		 * is stored last. */
		hart_reset(t, &vm->cpus, t->id);
		t->pc = a[1];
		t->x[10] = t->id;
		t->x[11] = a[2];
		atomic_store(&t->hsm_state, HSM_STARTED);
		vm_kick(vm);
		break;
	}
	case 1:     /* hart_stop() */
		h->hsm_state = HSM_STOPPED;
		break;
	case 2:     /* hart_get_status(hartid) */
		if (a[0] >= (uint64_t)vm->cpus.nharts) { r.error = SBI_ERR_INVALID_PARAM; break; }
		r.value = vm->cpus.harts[a[0]]->hsm_state;
		break;
	case 3:     /* hart_suspend(type, resume_addr, opaque) */
		if (a[0] == 0) {            /* default retentive: like wfi */
			if (!(hart_read_sip(h) & h->sie))
				h->wfi = true;
		} else if (a[0] < 0x10000000 || (a[0] >= 0x80000000 && a[0] < 0x90000000)) {
			r.error = SBI_ERR_NOT_SUPPORTED;
		} else {
			r.error = SBI_ERR_INVALID_PARAM;
		}
		break;
	default:
		r.error = SBI_ERR_NOT_SUPPORTED;
	}
	return r;
}

static struct sbiret dbcn_call(struct vm *vm, struct hart *h, struct chr *console, uint64_t fid,
			       const uint64_t *a)
{
	struct sbiret r = { SBI_SUCCESS, 0 };
	switch (fid) {
	case 0: {   /* console_write(num_bytes, base_lo, base_hi) */
		uint8_t *p = vm_ram_ptr(vm, a[1], a[0]);
		if (a[2] || !p) { r.error = SBI_ERR_INVALID_PARAM; break; }
		if (console)
			chr_write(console, p, a[0]);
		r.value = a[0];
		break;
	}
	case 1: {   /* console_read: input goes to the UART, so nothing here */
		if (a[2] || !vm_ram_ptr(vm, a[1], a[0])) { r.error = SBI_ERR_INVALID_PARAM; break; }
		r.value = 0;
		break;
	}
	case 2: {   /* console_write_byte */
		unsigned char c = (unsigned char)a[0];
		if (console)
			chr_write(console, &c, 1);
		break;
	}
	default:
		r.error = SBI_ERR_NOT_SUPPORTED;
	}
	return r;
}

void sbi_ecall(struct vm *vm, struct hart *h, struct chr *console)
{
	uint64_t *x = h->x;
	uint64_t eid = x[17], fid = x[16];
	const uint64_t *a = &x[10];
	struct sbiret r = { SBI_ERR_NOT_SUPPORTED, 0 };

	h->n_sbi_calls++;
	if (eid == EXT_LEGACY_SET_TIMER || (eid == EXT_TIME && fid == 0))
		h->n_sbi_set_timer++;
	switch (eid) {
	case EXT_LEGACY_SET_TIMER:
		h->stimecmp = a[0];
		x[10] = 0;
		return;
	case EXT_LEGACY_PUTCHAR: {
		unsigned char c = (unsigned char)a[0];
		if (console)
			chr_write(console, &c, 1);
		x[10] = 0;
		return;
	}
	case EXT_LEGACY_GETCHAR:
		x[10] = (uint64_t)-1;
		return;
	case EXT_LEGACY_SHUTDOWN:
		vm_request_exit(vm, VM_EXIT_POWEROFF, NULL);
		x[10] = 0;
		return;
	case EXT_BASE:
		r.error = SBI_SUCCESS;
		switch (fid) {
		case 0: r.value = SBI_SPEC_VERSION; break;
		case 1: r.value = TERN_SBI_IMPL_ID; break;
		case 2: r.value = TERN_SBI_IMPL_VERSION; break;
		case 3: r.value = ext_supported(a[0]); break;
		case 4: case 5: case 6: r.value = 0; break;   /* mvendorid, marchid, mimpid */
		default: r.error = SBI_ERR_NOT_SUPPORTED;
		}
		break;
	case EXT_TIME:
		if (fid == 0) {
			h->stimecmp = a[0];
			r.error = SBI_SUCCESS;
		}
		break;
	case EXT_IPI:
		if (fid == 0)
			r.error = to_harts(vm, h, a[0], a[1], 0);
		break;
	case EXT_RFNC:
		if (fid == 0)
			r.error = to_harts(vm, h, a[0], a[1], HART_REQ_CODE);
		else if (fid == 1 || fid == 2)
			r.error = to_harts(vm, h, a[0], a[1], HART_REQ_TLB);
		break;
	case EXT_HSM:
		r = hsm_call(vm, h, fid, a);
		break;
	case EXT_SRST:
		if (fid != 0)
			break;
		if (a[0] > 2 || a[1] > 1) {
			r.error = SBI_ERR_INVALID_PARAM;
			break;
		}
		vm_request_exit(vm, a[0] == 0 ? VM_EXIT_POWEROFF : VM_EXIT_RESET,
				a[1] == 1 ? "guest reported a system failure" : NULL);
		r.error = SBI_SUCCESS;
		break;
	case EXT_DBCN:
		r = dbcn_call(vm, h, console, fid, a);
		break;
	}
	x[10] = (uint64_t)r.error;
	x[11] = r.value;
}
