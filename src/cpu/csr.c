/* CSR reads and writes for S- and U-mode, with the privilege, read-only and
 * FS checks the privileged spec requires. */
#include "cpu/csr.h"
#include "cpu/tlb.h"
#include "cpu/trap.h"
#include "cpu/hart_group.h"

uint64_t csr_read_sstatus(const struct hart *h)
{
	uint64_t s = h->sstatus & SSTATUS_WMASK;
	s |= 2ull << 32;   /* UXL = 64 */
	if ((s & SSTATUS_FS) == FS_DIRTY)
		s |= SSTATUS_SD;
	return s;
}

static int counter_allowed(const struct hart *h, unsigned csr)
{
	return h->priv != PRV_U || ((h->scounteren >> (csr & 31)) & 1);
}

static int csr_read(struct hart *h, unsigned csr, uint64_t *v)
{
	switch (csr) {
	case CSR_FFLAGS: case CSR_FRM: case CSR_FCSR:
		if ((h->sstatus & SSTATUS_FS) == FS_OFF)
			return -1;
		*v = csr == CSR_FFLAGS ? h->fflags : csr == CSR_FRM ? h->frm : (h->frm << 5) | h->fflags;
		return 0;
	case CSR_CYCLE: case CSR_INSTRET:
		if (!counter_allowed(h, csr))
			return -1;
		*v = h->instret;
		return 0;
	case CSR_TIME:
		if (!counter_allowed(h, csr))
			return -1;
		*v = hart_group_time(h->group);
		return 0;
	}
	if (h->priv < PRV_S)
		return -1;
	switch (csr) {
	case CSR_SSTATUS: *v = csr_read_sstatus(h); return 0;
	case CSR_SIE: *v = h->sie; return 0;
	case CSR_STVEC: *v = h->stvec; return 0;
	case CSR_SCOUNTEREN: *v = h->scounteren; return 0;
	case CSR_SENVCFG: *v = h->senvcfg; return 0;
	case CSR_SSCRATCH: *v = h->sscratch; return 0;
	case CSR_SEPC: *v = h->sepc; return 0;
	case CSR_SCAUSE: *v = h->scause; return 0;
	case CSR_STVAL: *v = h->stval; return 0;
	case CSR_SIP: *v = hart_read_sip(h); return 0;
	case CSR_STIMECMP:
		if (!(h->menvcfg & MENVCFG_STCE))
			return -1;   /* Sstc withheld by M-mode */
		*v = h->stimecmp;
		return 0;
	case CSR_SATP: *v = h->satp; return 0;
	}
	return -1;
}

static void write_satp(struct hart *h, uint64_t v)
{
	uint64_t mode = v >> 60;
	if (mode != 0 && mode != 8 && mode != 9)
		return;   /* unsupported mode: the write has no effect */
	v &= (0xfull << 60) | (0xffffull << 44) | ((1ull << 44) - 1);
	if (mode == 0)
		v = 0;
	if (v == h->satp)
		return;
	int levels = mode == 8 ? 3 : mode == 9 ? 4 : 0;
	/* A new address space or ASID in the same mode: the TLB has no ASIDs,
	 * so the old one's entries go, but for global mappings, which are in
	 * every one. A new mode (Bare, Sv39, Sv48) changes every translation:
	 * all go. */
	if (levels != h->vm_levels || !levels)
		tlb_flush_all(h);
	else
		tlb_flush_non_global(h);
	h->satp = v;
	h->vm_levels = levels;
	h->pt_root = (v & ((1ull << 44) - 1)) << PAGE_SHIFT;
}

static int csr_write(struct hart *h, unsigned csr, uint64_t v, int *flags)
{
	switch (csr) {
	case CSR_FFLAGS: case CSR_FRM: case CSR_FCSR:
		if ((h->sstatus & SSTATUS_FS) == FS_OFF)
			return -1;
		if (csr == CSR_FFLAGS)
			h->fflags = v & 0x1f;
		else if (csr == CSR_FRM)
			h->frm = v & 7;
		else {
			h->fflags = v & 0x1f;
			h->frm = (v >> 5) & 7;
		}
		h->sstatus |= FS_DIRTY;
		return 0;
	}
	if (h->priv < PRV_S)
		return -1;
	switch (csr) {
	case CSR_SSTATUS: {
		uint64_t old = h->sstatus;
		h->sstatus = (old & ~SSTATUS_WMASK) | (v & SSTATUS_WMASK);
		if ((old ^ h->sstatus) & SSTATUS_MXR)
			tlb_flush_all(h);
		if ((old ^ h->sstatus) & SSTATUS_SUM)
			tlb_update_mode(h);
		*flags |= CSR_EFFECT_END_BLOCK;
		return 0;
	}
	case CSR_SIE: h->sie = v & SIE_MASK; *flags |= CSR_EFFECT_END_BLOCK; return 0;
	case CSR_STVEC: h->stvec = v & ~2ull; return 0;
	case CSR_SCOUNTEREN: h->scounteren = v & 0xffffffffull; return 0;
	case CSR_SENVCFG: {
		/* CBIE is WARL: the reserved value 10 keeps the old field. */
		if ((v & ENVCFG_CBIE) == (2ull << 4))
			v = (v & ~ENVCFG_CBIE) | (h->senvcfg & ENVCFG_CBIE);
		h->senvcfg = v & SENVCFG_WMASK;
		return 0;
	}
	case CSR_SSCRATCH: h->sscratch = v; return 0;
	case CSR_SEPC: h->sepc = v & ~1ull; return 0;
	case CSR_SCAUSE: h->scause = v; return 0;
	case CSR_STVAL: h->stval = v; return 0;
	case CSR_SIP:
		hart_set_pending(h, MIP_SSIP, !!(v & MIP_SSIP));
		*flags |= CSR_EFFECT_END_BLOCK;
		return 0;
	case CSR_STIMECMP:
		h->stimecmp = v;
		h->n_stimecmp_writes++;
		*flags |= CSR_EFFECT_END_BLOCK;
		return 0;
	case CSR_SATP: write_satp(h, v); *flags |= CSR_EFFECT_END_BLOCK; return 0;
	}
	return -1;
}

int csr_access(struct hart *h, unsigned csr, int op, uint64_t src, int write,
	       uint64_t *old, int *flags)
{
	uint64_t v;
	if (((csr >> 8) & 3) > (unsigned)h->priv)
		return -1;
	if (write && (csr >> 10) == 3)
		return -1;   /* read-only CSR */
	if (csr_read(h, csr, &v))
		return -1;
	if (write) {
		uint64_t nv = op == CSR_OP_RW ? src : op == CSR_OP_RS ? (v | src) : (v & ~src);
		if (csr_write(h, csr, nv, flags))
			return -1;
	}
	*old = v;
	return 0;
}
