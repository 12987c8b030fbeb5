/* CSR tests (csr.c): write masks and read-only fields of the S-mode CSRs,
 * privilege / read-only / FS checks, counters and scounteren, satp modes,
 * and interrupt selection (sip/sie). Mostly csr_access, some via csrr* insns. */
#include "cpu_fixture.h"

#define JUNK 0xdeadbeefcafef00dull
#define UXL64 (2ull << 32)

static int csr_w(struct hart *h, unsigned csr, uint64_t v)
{
	uint64_t old;
	int fl = 0;
	return csr_access(h, csr, CSR_OP_RW, v, 1, &old, &fl);
}

static int csr_r(struct hart *h, unsigned csr, uint64_t *v)
{
	int fl = 0;
	return csr_access(h, csr, CSR_OP_RS, 0, 0, v, &fl);
}

static uint64_t rd(struct hart *h, unsigned csr)
{
	uint64_t v = JUNK;
	assert_int_equal(csr_r(h, csr, &v), 0);
	return v;
}

static void wr(struct hart *h, unsigned csr, uint64_t v)
{
	assert_int_equal(csr_w(h, csr, v), 0);
}

static void test_sstatus(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	int fl = 0;
	uint64_t old;

	assert_int_equal(csr_access(h, CSR_SSTATUS, CSR_OP_RW, ~0ull, 1, &old, &fl), 0);
	assert_true(fl & CSR_EFFECT_END_BLOCK);
	assert_int_equal(rd(h, CSR_SSTATUS),
			 SSTATUS_SIE | SSTATUS_SPIE | SSTATUS_SPP | SSTATUS_FS |
			 SSTATUS_SUM | SSTATUS_MXR | UXL64 | SSTATUS_SD);
	/* UXL reads 2 (64-bit) whatever is written; SD cannot be written */
	wr(h, CSR_SSTATUS, 0);
	assert_int_equal(rd(h, CSR_SSTATUS), UXL64);
	wr(h, CSR_SSTATUS, SSTATUS_UXL | SSTATUS_SD | SSTATUS_UBE | SSTATUS_VS | SSTATUS_XS |
	   (3ull << 11) /* MPP */ | (1ull << 3) /* MIE */);
	assert_int_equal(rd(h, CSR_SSTATUS), UXL64);
	wr(h, CSR_SSTATUS, 1ull << 32);
	assert_int_equal(rd(h, CSR_SSTATUS), UXL64);

	/* SD mirrors FS == Dirty only */
	wr(h, CSR_SSTATUS, 1ull << 13);   /* Initial */
	assert_int_equal(rd(h, CSR_SSTATUS), UXL64 | (1ull << 13));
	wr(h, CSR_SSTATUS, 2ull << 13);   /* Clean */
	assert_int_equal(rd(h, CSR_SSTATUS), UXL64 | (2ull << 13));
	wr(h, CSR_SSTATUS, 3ull << 13);   /* Dirty */
	assert_int_equal(rd(h, CSR_SSTATUS), UXL64 | (3ull << 13) | SSTATUS_SD);

	/* set / clear return the old value and touch only the named bits */
	assert_int_equal(csr_access(h, CSR_SSTATUS, CSR_OP_RS, SSTATUS_SUM, 1, &old, &fl), 0);
	assert_int_equal(old, UXL64 | (3ull << 13) | SSTATUS_SD);
	assert_int_equal(rd(h, CSR_SSTATUS), UXL64 | (3ull << 13) | SSTATUS_SD | SSTATUS_SUM);
	assert_int_equal(csr_access(h, CSR_SSTATUS, CSR_OP_RC, SSTATUS_FS, 1, &old, &fl), 0);
	assert_int_equal(rd(h, CSR_SSTATUS), UXL64 | SSTATUS_SUM);
}

static void test_sie(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	wr(h, CSR_SIE, ~0ull);
	assert_int_equal(rd(h, CSR_SIE), MIP_SSIP | MIP_STIP | MIP_SEIP);
	wr(h, CSR_SIE, MIP_STIP | (1ull << 7) | (1ull << 3) | (1ull << 11));
	assert_int_equal(rd(h, CSR_SIE), MIP_STIP);
	wr(h, CSR_SIE, 0);
	assert_int_equal(rd(h, CSR_SIE), 0);
}

static void test_sip_stimecmp(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;

	assert_int_equal(h->stimecmp, ~0ull);
	assert_int_equal(rd(h, CSR_SIP), 0);
	/* only SSIP is writable */
	wr(h, CSR_SIP, ~0ull);
	assert_int_equal(rd(h, CSR_SIP), MIP_SSIP);
	assert_int_equal(atomic_load(&h->mip) & (MIP_STIP | MIP_SEIP), 0);
	wr(h, CSR_SIP, 0);
	assert_int_equal(rd(h, CSR_SIP), 0);

	/* SEIP comes from the interrupt controller; software cannot clear it */
	hart_set_pending(h, MIP_SEIP, 1);
	assert_int_equal(rd(h, CSR_SIP), MIP_SEIP);
	wr(h, CSR_SIP, 0);
	assert_int_equal(rd(h, CSR_SIP), MIP_SEIP);
	hart_set_pending(h, MIP_SEIP, 0);
	assert_int_equal(rd(h, CSR_SIP), 0);

	/* STIP is (time >= stimecmp), read-only */
	wr(h, CSR_SIP, MIP_STIP);
	assert_int_equal(rd(h, CSR_SIP), 0);
	int fl = 0;
	uint64_t old;
	assert_int_equal(csr_access(h, CSR_STIMECMP, CSR_OP_RW, 0, 1, &old, &fl), 0);
	assert_int_equal(old, ~0ull);
	assert_true(fl & CSR_EFFECT_END_BLOCK);
	assert_int_equal(rd(h, CSR_STIMECMP), 0);
	assert_int_equal(rd(h, CSR_SIP), MIP_STIP);
	wr(h, CSR_SIP, 0);                         /* cannot be cleared by a write */
	assert_int_equal(rd(h, CSR_SIP), MIP_STIP);
	uint64_t now = vm_time(f->vm);
	wr(h, CSR_STIMECMP, now - 1);
	assert_int_equal(rd(h, CSR_SIP), MIP_STIP);
	wr(h, CSR_STIMECMP, now + 1000 * TIMEBASE_HZ);   /* 1000 s from now */
	assert_int_equal(rd(h, CSR_SIP), 0);

	/* csrrs / csrrc on SSIP */
	assert_int_equal(csr_access(h, CSR_SIP, CSR_OP_RS, MIP_SSIP, 1, &old, &fl), 0);
	assert_int_equal(rd(h, CSR_SIP), MIP_SSIP);
	assert_int_equal(csr_access(h, CSR_SIP, CSR_OP_RC, MIP_SSIP, 1, &old, &fl), 0);
	assert_int_equal(old, MIP_SSIP);
	assert_int_equal(rd(h, CSR_SIP), 0);
}

static void test_simple_csrs(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	/* stvec: MODE is 0 (direct) or 1 (vectored); bit 1 reads 0 */
	wr(h, CSR_STVEC, 0x80001003);
	assert_int_equal(rd(h, CSR_STVEC), 0x80001001);
	wr(h, CSR_STVEC, 0x80001002);
	assert_int_equal(rd(h, CSR_STVEC), 0x80001000);
	/* sepc: IALIGN=16, bit 0 reads 0 */
	wr(h, CSR_SEPC, 0x80001003);
	assert_int_equal(rd(h, CSR_SEPC), 0x80001002);
	wr(h, CSR_SEPC, ~0ull);
	assert_int_equal(rd(h, CSR_SEPC), ~1ull);
	/* full-width registers */
	wr(h, CSR_SSCRATCH, 0xfedcba9876543210ull);
	assert_int_equal(rd(h, CSR_SSCRATCH), 0xfedcba9876543210ull);
	wr(h, CSR_SCAUSE, (1ull << 63) | 9);
	assert_int_equal(rd(h, CSR_SCAUSE), (1ull << 63) | 9);
	wr(h, CSR_STVAL, 0x123456789abcdef0ull);
	assert_int_equal(rd(h, CSR_STVAL), 0x123456789abcdef0ull);
	/* scounteren is 32 bits */
	wr(h, CSR_SCOUNTEREN, ~0ull);
	assert_int_equal(rd(h, CSR_SCOUNTEREN), 0xffffffffull);
}

static void test_satp(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	const uint64_t sv39 = (8ull << 60) | (0xabcdull << 44) | 0x80123;
	const uint64_t sv48 = (9ull << 60) | 0x80456;

	int fl = 0;
	uint64_t old;
	assert_int_equal(csr_access(h, CSR_SATP, CSR_OP_RW, sv39, 1, &old, &fl), 0);
	assert_true(fl & CSR_EFFECT_END_BLOCK);
	assert_int_equal(rd(h, CSR_SATP), sv39);
	assert_int_equal(h->vm_levels, 3);
	assert_int_equal(h->pt_root, 0x80123000);
	wr(h, CSR_SATP, sv48);
	assert_int_equal(rd(h, CSR_SATP), sv48);
	assert_int_equal(h->vm_levels, 4);
	assert_int_equal(h->pt_root, 0x80456000);
	/* unsupported modes (Sv57, Sv64, reserved) leave satp unchanged */
	static const uint64_t bad_modes[] = { 10, 11, 1, 7, 15 };
	for (unsigned i = 0; i < sizeof(bad_modes) / sizeof(bad_modes[0]); i++) {
		wr(h, CSR_SATP, (bad_modes[i] << 60) | 0x80789);
		assert_int_equal(rd(h, CSR_SATP), sv48);
		assert_int_equal(h->vm_levels, 4);
		assert_int_equal(h->pt_root, 0x80456000);
	}
	wr(h, CSR_SATP, 0);
	assert_int_equal(rd(h, CSR_SATP), 0);
	assert_int_equal(h->vm_levels, 0);

	/* a satp write flushes the TLB: fill an entry in bare mode first */
	uint64_t v;
	assert_int_equal(mmu_load_slow(h, DATA + 0x18, 8, &v), 0);
	unsigned idx = (DATA >> PAGE_SHIFT) & (TLB_SIZE - 1);
	assert_int_not_equal(h->tlb_r[idx].tag, 0);
	assert_int_equal(mmu_store_slow(h, DATA + 0x18, 8, 1), 0);
	assert_int_not_equal(h->tlb_w[idx].tag, 0);
	wr(h, CSR_SATP, sv39);
	assert_int_equal(h->tlb_r[idx].tag, 0);
	assert_int_equal(h->tlb_w[idx].tag, 0);

	/* and through the instruction (bare, so the code stays reachable): csrw
	 * satp with an Sv57 value is ignored */
	wr(h, CSR_SATP, 0);
	h->x[6] = (10ull << 60) | 0x80999;
	h->x[5] = JUNK;
	fx_exec1(f, CSRRW(5, CSR_SATP, 6));
	assert_int_equal(h->x[5], 0);
	assert_int_equal(h->satp, 0);
	assert_int_equal(h->vm_levels, 0);
}

static void test_privilege(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	uint64_t v;
	static const unsigned scsrs[] = {
		CSR_SSTATUS, CSR_SIE, CSR_STVEC, CSR_SCOUNTEREN, CSR_SENVCFG, CSR_SSCRATCH,
		CSR_SEPC, CSR_SCAUSE, CSR_STVAL, CSR_SIP, CSR_STIMECMP, CSR_SATP,
	};
	/* every S CSR is accessible from S ... */
	for (unsigned i = 0; i < sizeof(scsrs) / sizeof(scsrs[0]); i++)
		assert_int_equal(csr_r(h, scsrs[i], &v), 0);
	/* ... and from U neither readable nor writable */
	h->priv = PRV_U;
	h->sscratch = 0x1234;
	for (unsigned i = 0; i < sizeof(scsrs) / sizeof(scsrs[0]); i++) {
		if (csr_r(h, scsrs[i], &v) != -1 || csr_w(h, scsrs[i], 0) != -1)
			fail_msg("CSR 0x%03x accessible from U-mode", scsrs[i]);
	}
	assert_int_equal(h->sscratch, 0x1234);
	h->priv = PRV_S;

	/* M-mode and hypervisor CSRs, and unknown numbers, are illegal from S */
	static const unsigned bad[] = {
		0x300 /* mstatus */, 0x301 /* misa */, 0x304 /* mie */, 0x305 /* mtvec */,
		0x344 /* mip */, 0xf14 /* mhartid */, 0x7a0 /* tselect */,
		0x600 /* hstatus */, 0x200 /* vsstatus */,
		0x107, 0x145, 0x181, 0x5c0, 0x800, 0xc03 /* hpmcounter3 */, 0xc80 /* cycleh */,
		0xdc0, 0x000,
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (csr_r(h, bad[i], &v) != -1 || csr_w(h, bad[i], 0) != -1)
			fail_msg("CSR 0x%03x accessible from S-mode", bad[i]);
	}

	/* through the instruction: csrr mstatus is illegal, stval = insn */
	uint32_t insn = CSRRS(5, 0x300, 0);
	h->x[5] = JUNK;
	assert_int_equal(fx_trap1(f, insn), EXC_ILLEGAL);
	assert_int_equal(h->stval, insn);
	assert_int_equal(h->x[5], JUNK);
}

static void test_read_only(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	uint64_t v;
	int fl = 0;
	static const unsigned ro[] = { CSR_CYCLE, CSR_TIME, CSR_INSTRET };
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(csr_access(h, ro[i], CSR_OP_RW, 0, 1, &v, &fl), -1);
		assert_int_equal(csr_access(h, ro[i], CSR_OP_RS, 1, 1, &v, &fl), -1);
		assert_int_equal(csr_access(h, ro[i], CSR_OP_RC, 1, 1, &v, &fl), -1);
		assert_int_equal(csr_access(h, ro[i], CSR_OP_RS, 0, 0, &v, &fl), 0);
		assert_int_equal(csr_access(h, ro[i], CSR_OP_RC, 0, 0, &v, &fl), 0);
	}
	h->instret = 12345;
	assert_int_equal(rd(h, CSR_INSTRET), 12345);
	uint64_t t0 = vm_time(f->vm);
	uint64_t t = rd(h, CSR_TIME);
	assert_true(t >= t0 && t - t0 < TIMEBASE_HZ);

	/* instructions: writes illegal, pure reads fine */
	uint32_t w[] = {
		CSRRW(5, CSR_CYCLE, 6),
		CSRRW(0, CSR_TIME, 0),        /* csrw even with rs1=x0 writes */
		CSRRS(5, CSR_CYCLE, 6),
		CSRRC(5, CSR_INSTRET, 6),
		CSRRSI(5, CSR_CYCLE, 1),
		CSRRWI(5, CSR_TIME, 0),
	};
	for (unsigned i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		h->x[5] = JUNK;
		h->x[6] = 1;
		assert_int_equal(fx_trap1(f, w[i]), EXC_ILLEGAL);
		assert_int_equal(h->stval, w[i]);
		assert_int_equal(h->x[5], JUNK);
	}
	uint32_t r[] = {
		CSRRS(5, CSR_CYCLE, 0), CSRRC(5, CSR_TIME, 0),
		CSRRSI(5, CSR_INSTRET, 0), CSRRCI(5, CSR_CYCLE, 0),
	};
	for (unsigned i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		h->x[5] = JUNK;
		fx_exec1(f, r[i]);
		assert_int_not_equal(h->x[5], JUNK);
	}
}

static void test_fp_csrs(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	uint64_t v;
	const uint64_t fs_initial = 1ull << 13, fs_clean = 2ull << 13;

	h->sstatus &= ~SSTATUS_FS;
	h->fflags = 3;
	static const unsigned fp[] = { CSR_FFLAGS, CSR_FRM, CSR_FCSR };
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(csr_r(h, fp[i], &v), -1);
		assert_int_equal(csr_w(h, fp[i], 0), -1);
	}
	assert_int_equal(h->fflags, 3);
	assert_int_equal(h->sstatus & SSTATUS_FS, FS_OFF);

	/* a write makes FS dirty (and SD visible) */
	h->sstatus = (h->sstatus & ~SSTATUS_FS) | fs_initial;
	wr(h, CSR_FFLAGS, 0xff);
	assert_int_equal(h->fflags, 0x1f);
	assert_int_equal(h->sstatus & SSTATUS_FS, FS_DIRTY);
	assert_true(rd(h, CSR_SSTATUS) & SSTATUS_SD);
	/* a read does not */
	h->sstatus = (h->sstatus & ~SSTATUS_FS) | fs_clean;
	assert_int_equal(rd(h, CSR_FCSR), 0x1f);
	assert_int_equal(h->sstatus & SSTATUS_FS, fs_clean);

	/* fcsr = frm << 5 | fflags; fields are masked */
	wr(h, CSR_FCSR, 0xff);
	assert_int_equal(h->frm, 7);
	assert_int_equal(h->fflags, 0x1f);
	assert_int_equal(rd(h, CSR_FCSR), 0xff);
	wr(h, CSR_FRM, 0x1d);
	assert_int_equal(rd(h, CSR_FRM), 5);
	assert_int_equal(rd(h, CSR_FCSR), (5 << 5) | 0x1f);
	wr(h, CSR_FCSR, 0x100 | (2 << 5) | 1);
	assert_int_equal(rd(h, CSR_FCSR), (2 << 5) | 1);
	assert_int_equal(rd(h, CSR_FFLAGS), 1);
	assert_int_equal(rd(h, CSR_FRM), 2);

	/* U-mode may use them too */
	h->priv = PRV_U;
	wr(h, CSR_FFLAGS, 4);
	assert_int_equal(rd(h, CSR_FFLAGS), 4);
	h->priv = PRV_S;

	/* through instructions */
	h->sstatus &= ~SSTATUS_FS;
	uint32_t insn = CSRRWI(5, CSR_FFLAGS, 0x1f);
	assert_int_equal(fx_trap1(f, insn), EXC_ILLEGAL);
	assert_int_equal(h->stval, insn);
	h->sstatus |= fs_clean;
	h->x[5] = JUNK;
	fx_exec1(f, insn);
	assert_int_equal(h->x[5], 4);
	assert_int_equal(h->fflags, 0x1f);
	assert_int_equal(h->sstatus & SSTATUS_FS, FS_DIRTY);
}

static void test_counters_user(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	uint64_t v;

	/* S-mode ignores scounteren */
	wr(h, CSR_SCOUNTEREN, 0);
	assert_int_equal(csr_r(h, CSR_TIME, &v), 0);
	assert_int_equal(csr_r(h, CSR_CYCLE, &v), 0);

	h->priv = PRV_U;
	assert_int_equal(csr_r(h, CSR_CYCLE, &v), -1);
	assert_int_equal(csr_r(h, CSR_TIME, &v), -1);
	assert_int_equal(csr_r(h, CSR_INSTRET, &v), -1);
	h->scounteren = 2;   /* TM only */
	assert_int_equal(csr_r(h, CSR_CYCLE, &v), -1);
	assert_int_equal(csr_r(h, CSR_TIME, &v), 0);
	assert_int_equal(csr_r(h, CSR_INSTRET, &v), -1);
	h->scounteren = 5;   /* CY, IR */
	assert_int_equal(csr_r(h, CSR_CYCLE, &v), 0);
	assert_int_equal(csr_r(h, CSR_TIME, &v), -1);
	assert_int_equal(csr_r(h, CSR_INSTRET, &v), 0);

	/* rdtime from U-mode code */
	uint32_t rdtime = CSRRS(5, CSR_TIME, 0);
	h->scounteren = 0;
	h->priv = PRV_U;
	tlb_update_mode(h);
	assert_int_equal(fx_trap1(f, rdtime), EXC_ILLEGAL);
	assert_int_equal(h->stval, rdtime);
	h->scounteren = 2;
	h->priv = PRV_U;
	tlb_update_mode(h);
	h->x[5] = JUNK;
	uint64_t t0 = vm_time(f->vm);
	fx_exec1(f, rdtime);
	assert_int_equal(h->priv, PRV_U);
	assert_true(h->x[5] >= t0 && h->x[5] - t0 < TIMEBASE_HZ);
}

static void test_csr_insns(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;

	h->sscratch = 0x1111;
	h->x[6] = 0xf0f0;
	h->x[5] = JUNK;
	fx_exec1(f, CSRRW(5, CSR_SSCRATCH, 6));
	assert_int_equal(h->x[5], 0x1111);
	assert_int_equal(h->sscratch, 0xf0f0);
	/* rd == rs1: a swap */
	h->x[5] = 0x2222;
	fx_exec1(f, CSRRW(5, CSR_SSCRATCH, 5));
	assert_int_equal(h->x[5], 0xf0f0);
	assert_int_equal(h->sscratch, 0x2222);
	/* csrrs / csrrc */
	h->x[6] = 0x000f;
	fx_exec1(f, CSRRS(5, CSR_SSCRATCH, 6));
	assert_int_equal(h->x[5], 0x2222);
	assert_int_equal(h->sscratch, 0x222f);
	h->x[6] = 0x0201;
	fx_exec1(f, CSRRC(0, CSR_SSCRATCH, 6));
	assert_int_equal(h->sscratch, 0x202e);
	assert_int_equal(h->x[0], 0);
	/* immediates: uimm is zero-extended 5 bits */
	fx_exec1(f, CSRRWI(5, CSR_SSCRATCH, 31));
	assert_int_equal(h->x[5], 0x202e);
	assert_int_equal(h->sscratch, 31);
	fx_exec1(f, CSRRCI(5, CSR_SSCRATCH, 0x11));
	assert_int_equal(h->sscratch, 0x0e);
	fx_exec1(f, CSRRSI(5, CSR_SSCRATCH, 0x10));
	assert_int_equal(h->x[5], 0x0e);
	assert_int_equal(h->sscratch, 0x1e);

	/* a write to sie ends the run so pending interrupts are looked at */
	h->x[6] = MIP_SSIP;
	h->x[7] = 0;
	uint32_t prog[] = { CSRRS(0, CSR_SIE, 6), ADDI(7, 0, 1), ADDI(7, 0, 2) };
	uint64_t pc = fx_code(f, prog, 3);
	uint64_t n = fx_run(f, pc, 3);
	assert_int_equal(n, 1);
	assert_int_equal(h->pc, pc + 4);
	assert_int_equal(h->x[7], 0);
	assert_int_equal(h->sie, MIP_SSIP);
}

/* Counters read inside a run see exactly the instructions retired before. */
static void test_counter_values(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	h->instret = 100;
	uint32_t prog[] = {
		ADDI(7, 0, 1), ADDI(7, 7, 1),
		CSRRS(5, CSR_INSTRET, 0), CSRRS(6, CSR_CYCLE, 0),
	};
	uint64_t n = fx_run(f, fx_code(f, prog, 4), 4);
	assert_int_equal(n, 4);
	assert_int_equal(h->x[5], 102);
	assert_int_equal(h->x[6], 103);
	assert_int_equal(h->instret, 104);
}

static void test_interrupts(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;

	h->sie = MIP_SSIP | MIP_STIP | MIP_SEIP;
	h->sstatus |= SSTATUS_SIE;
	assert_int_equal(hart_pending_irq(h), 0);
	hart_set_pending(h, MIP_SSIP | MIP_SEIP, 1);
	h->stimecmp = 0;
	assert_int_equal(hart_pending_irq(h), IRQ_SEI);        /* SEI > SSI > STI */
	hart_set_pending(h, MIP_SEIP, 0);
	assert_int_equal(hart_pending_irq(h), IRQ_SSI);
	hart_set_pending(h, MIP_SSIP, 0);
	assert_int_equal(hart_pending_irq(h), IRQ_STI);
	h->sie = MIP_SSIP | MIP_SEIP;                         /* STI masked by sie */
	assert_int_equal(hart_pending_irq(h), 0);
	h->sie = MIP_STIP;
	/* S-mode with SIE clear: not taken; U-mode: always enabled */
	h->sstatus &= ~SSTATUS_SIE;
	assert_int_equal(hart_pending_irq(h), 0);
	h->priv = PRV_U;
	assert_int_equal(hart_pending_irq(h), IRQ_STI);

	/* delivery, vectored stvec: pc = base + 4 * cause */
	h->stvec = TRAP_VEC | 1;
	h->pc = 0x80004000;
	assert_int_equal(hart_check_interrupts(h), 1);
	assert_int_equal(h->scause, (1ull << 63) | IRQ_STI);
	assert_int_equal(h->sepc, 0x80004000);
	assert_int_equal(h->pc, TRAP_VEC + 4 * IRQ_STI);
	assert_int_equal(h->priv, PRV_S);
	assert_false(h->sstatus & SSTATUS_SPP);
	assert_false(h->sstatus & SSTATUS_SIE);
	/* now in S with SIE clear: nothing more is taken */
	assert_int_equal(hart_check_interrupts(h), 0);
	/* synchronous exceptions ignore vectoring */
	hart_trap(h, EXC_ILLEGAL, 0);
	assert_int_equal(h->pc, TRAP_VEC);
	assert_true(h->sstatus & SSTATUS_SPP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_sstatus),
		FX_TEST(test_sie),
		FX_TEST(test_sip_stimecmp),
		FX_TEST(test_simple_csrs),
		FX_TEST(test_satp),
		FX_TEST(test_privilege),
		FX_TEST(test_read_only),
		FX_TEST(test_fp_csrs),
		FX_TEST(test_counters_user),
		FX_TEST(test_csr_insns),
		FX_TEST(test_counter_values),
		FX_TEST(test_interrupts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
