/* Hart state encoding. satp goes through csr_access so translation mode
 * and root are derived exactly as a guest write would derive them. */
#include "cpu/csr.h"
#include "cpu/hart.h"
#include "cpu/mmu.h"
#include "cpu/lifecycle.h"
#include "state/hart_state.h"
#include "core/vm.h"
#include "state/vmbuf.h"

void hart_state_save(const struct hart *h, struct vmbuf *b)
{
	for (int i = 0; i < 32; i++)
		vmbuf_put_u64(b, h->x[i]);
	vmbuf_put_u64(b, h->pc);
	for (int i = 0; i < 32; i++)
		vmbuf_put_u64(b, h->f[i]);
	vmbuf_put_u32(b, h->fflags);
	vmbuf_put_u32(b, h->frm);
	vmbuf_put_u8(b, (uint8_t)h->priv);
	const uint64_t csrs[] = {
		h->sstatus, h->sie, atomic_load(&h->mip), h->stvec, h->sscratch, h->sepc,
		h->scause, h->stval, h->satp, h->scounteren, h->senvcfg, h->stimecmp,
	};
	for (unsigned i = 0; i < sizeof(csrs) / sizeof(csrs[0]); i++)
		vmbuf_put_u64(b, csrs[i]);
	vmbuf_put_u64(b, h->resv_addr);
	vmbuf_put_u64(b, h->resv_value);
	vmbuf_put_u8(b, h->resv_valid);
	vmbuf_put_u64(b, h->instret);
	vmbuf_put_u8(b, (uint8_t)atomic_load(&h->hsm_state));
	vmbuf_put_u8(b, h->wfi);
	vmbuf_put_u64(b, h->start_addr);
	vmbuf_put_u64(b, h->start_opaque);
}

int hart_state_load(struct hart *h, struct vm *vm, int id, struct vmrd *r, unsigned version)
{
	if (version != HART_STATE_VERSION)
		return -1;
	hart_reset(h, &vm->cpus, id);
	for (int i = 0; i < 32; i++)
		h->x[i] = vmrd_u64(r);
	h->x[0] = 0;
	h->pc = vmrd_u64(r);
	for (int i = 0; i < 32; i++)
		h->f[i] = vmrd_u64(r);
	h->fflags = vmrd_u32(r) & 0x1f;
	h->frm = vmrd_u32(r) & 7;
	int priv = vmrd_u8(r);
	h->sstatus = vmrd_u64(r) & SSTATUS_WMASK;
	h->sie = vmrd_u64(r) & SIE_MASK;
	atomic_store(&h->mip, vmrd_u64(r) & (MIP_SSIP | MIP_SEIP));
	h->stvec = vmrd_u64(r) & ~2ull;
	h->sscratch = vmrd_u64(r);
	h->sepc = vmrd_u64(r) & ~1ull;
	h->scause = vmrd_u64(r);
	h->stval = vmrd_u64(r);
	uint64_t satp = vmrd_u64(r);
	h->scounteren = vmrd_u64(r) & 0xffffffffull;
	h->senvcfg = vmrd_u64(r) & SENVCFG_WMASK;
	h->stimecmp = vmrd_u64(r);
	h->resv_addr = vmrd_u64(r);
	h->resv_value = vmrd_u64(r);
	h->resv_valid = vmrd_u8(r) != 0;
	h->instret = vmrd_u64(r);
	int hsm = vmrd_u8(r);
	h->wfi = vmrd_u8(r) != 0;
	h->start_addr = vmrd_u64(r);
	h->start_opaque = vmrd_u64(r);
	if (!vmrd_done(r) || (priv != PRV_S && priv != PRV_U) || hsm > HSM_SUSPENDED)
		return -1;
	h->hsm_state = hsm;
	/* As the guest would set it: from S-mode through the CSR path. */
	h->priv = PRV_S;
	uint64_t old;
	int flags = 0;
	if (csr_access(h, CSR_SATP, CSR_OP_RW, satp, 1, &old, &flags) || h->satp != satp)
		return -1;
	h->priv = priv;
	tlb_update_mode(h);
	tlb_flush_all(h);
	return 0;
}
