/* MMU tests (mmu.c): Sv39/Sv48 walks over page tables built in guest RAM,
 * every page-fault and access-fault rule, A/D updates, TLB staleness and
 * sfence.vma, page-crossing slow paths, and MMIO dispatch. */
#include <errno.h>
#include "cpu_fixture.h"
#include "cpu/jit.h"

#define PTE_V (1ull << 0)
#define PTE_R (1ull << 1)
#define PTE_W (1ull << 2)
#define PTE_X (1ull << 3)
#define PTE_U (1ull << 4)
#define PTE_G (1ull << 5)
#define PTE_A (1ull << 6)
#define PTE_D (1ull << 7)
#define RWX_AD (PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D)
#define RW_AD  (PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)

#define PT_POOL   (RAM_BASE + 0x300000)   /* page-table pages, bump-allocated */
#define UCODE_VA  0x200000ull             /* U alias of the first 2 MiB of RAM */
#define JUNK      0xdeadbeefcafef00dull

struct pt {
	struct fx *f;
	uint64_t next, root;
	int levels;
};

static uint64_t pt_page(struct pt *p)
{
	uint64_t a = p->next;
	p->next += PAGE_SIZE;
	assert_true(p->next <= RAM_BASE + RAM_SIZE);
	memset(fx_ram(p->f, a, PAGE_SIZE), 0, PAGE_SIZE);
	return a;
}

static void pt_init(struct pt *p, struct fx *f, int levels)
{
	p->f = f;
	p->next = PT_POOL;
	p->levels = levels;
	p->root = pt_page(p);
}

static uint64_t pte_of(uint64_t pa, uint64_t flags)
{
	return (pa >> 12) << 10 | flags;
}

/* Map va -> pa with the leaf at `level` (0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB,
 * 3 = 512 GiB); flags are written verbatim. Returns the leaf PTE's address. */
static uint64_t pt_map(struct pt *p, uint64_t va, uint64_t pa, int level, uint64_t flags)
{
	uint64_t table = p->root;
	for (int l = p->levels - 1; l > level; l--) {
		uint64_t slot = table + ((va >> (12 + 9 * l)) & 0x1ff) * 8;
		uint64_t pte = rd64(p->f, slot);
		if (!(pte & PTE_V)) {
			pte = pte_of(pt_page(p), PTE_V);
			wr64(p->f, slot, pte);
		}
		assert_true((pte & (PTE_R | PTE_X)) == 0);
		table = (pte >> 10) << 12;
	}
	uint64_t slot = table + ((va >> (12 + 9 * level)) & 0x1ff) * 8;
	wr64(p->f, slot, pte_of(pa, flags));
	return slot;
}

static void set_satp(struct hart *h, uint64_t v)
{
	uint64_t old;
	int fl = 0;
	assert_int_equal(csr_access(h, CSR_SATP, CSR_OP_RW, v, 1, &old, &fl), 0);
	assert_int_equal(h->satp, v);
}

static void pt_enable(struct pt *p)
{
	set_satp(p->f->h, ((p->levels == 3 ? 8ull : 9ull) << 60) | (p->root >> 12));
}

/* Page tables with the first 2 MiB of RAM (trap vector, code) identity
 * mapped for S-mode and aliased at UCODE_VA for U-mode, then enabled. */
static void paged(struct fx *f, struct pt *p, int levels)
{
	pt_init(p, f, levels);
	pt_map(p, RAM_BASE, RAM_BASE, 1, RWX_AD);
	pt_map(p, UCODE_VA, RAM_BASE, 1, PTE_V | PTE_R | PTE_X | PTE_U | PTE_A);
	pt_enable(p);
}

static int xlate(struct hart *h, uint64_t va, enum mmu_access acc, uint64_t *pa)
{
	*pa = JUNK;
	return mmu_translate(h, va, acc, pa);
}

/* Translation of va for all three access types must fault with the cause
 * for that type (page or access fault). */
static void expect_faults(struct hart *h, uint64_t va, int access_fault)
{
	uint64_t pa;
	assert_int_equal(xlate(h, va, ACC_LOAD, &pa), access_fault ? EXC_LOAD_ACCESS : EXC_LOAD_PAGE);
	assert_int_equal(xlate(h, va, ACC_STORE, &pa), access_fault ? EXC_STORE_ACCESS : EXC_STORE_PAGE);
	assert_int_equal(xlate(h, va, ACC_FETCH, &pa), access_fault ? EXC_INSN_ACCESS : EXC_INSN_PAGE);
}

static uint64_t xlate_ok(struct hart *h, uint64_t va, enum mmu_access acc)
{
	uint64_t pa;
	int c = xlate(h, va, acc, &pa);
	if (c)
		fail_msg("translate 0x%llx (acc %d) faulted with cause %d", (unsigned long long)va, acc, c);
	return pa;
}

static void test_sv39_page_sizes(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	struct pt p;
	pt_init(&p, f, 3);
	pt_map(&p, 0x10000, DATA, 0, RWX_AD);
	pt_map(&p, 0x40200000, RAM_BASE + 0x200000, 1, RWX_AD);
	pt_map(&p, 0x100000000ull, RAM_BASE, 2, RWX_AD);
	pt_map(&p, 0xffffffc000000000ull, RAM_BASE, 2, RWX_AD);              /* top half */
	pt_map(&p, 0xfffffffffffff000ull, DATA + 0x1000, 0, RWX_AD);         /* last page */
	pt_enable(&p);
	assert_int_equal(h->vm_levels, 3);

	for (int acc = ACC_FETCH; acc <= ACC_STORE; acc++) {
		assert_int_equal(xlate_ok(h, 0x10abc, acc), DATA + 0xabc);
		assert_int_equal(xlate_ok(h, 0x40212345, acc), RAM_BASE + 0x212345);
		assert_int_equal(xlate_ok(h, 0x123456789ull, acc), RAM_BASE + 0x23456789);
		assert_int_equal(xlate_ok(h, 0xffffffc000001234ull, acc), RAM_BASE + 0x1234);
		assert_int_equal(xlate_ok(h, 0xfffffffffffffff8ull, acc), DATA + 0x1ff8);
	}
	/* neighbours are unmapped */
	expect_faults(h, 0x11000, 0);
	expect_faults(h, 0xf000, 0);
	expect_faults(h, 0x40400000, 0);
	expect_faults(h, 0xffffffffffffe000ull, 0);
	/* Sv48-only addresses are not canonical in Sv39 */
	expect_faults(h, 0x00007ffffffff000ull, 0);
}

static void test_sv48_page_sizes(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	struct pt p;
	pt_init(&p, f, 4);
	pt_map(&p, 0x00007ffffffff000ull, DATA, 0, RWX_AD);                 /* beyond Sv39 */
	pt_map(&p, 0x40200000, RAM_BASE + 0x200000, 1, RWX_AD);
	pt_map(&p, 0x100000000ull, RAM_BASE, 2, RWX_AD);
	pt_map(&p, 0x0000008000000000ull, 0x0000008000000000ull, 3, RWX_AD); /* 512 GiB */
	pt_map(&p, 0xffff800000000000ull, DATA + 0x2000, 0, RWX_AD);         /* top half */
	pt_enable(&p);
	assert_int_equal(h->vm_levels, 4);

	for (int acc = ACC_FETCH; acc <= ACC_STORE; acc++) {
		assert_int_equal(xlate_ok(h, 0x00007ffffffffabcull, acc), DATA + 0xabc);
		assert_int_equal(xlate_ok(h, 0x40212345, acc), RAM_BASE + 0x212345);
		assert_int_equal(xlate_ok(h, 0x123456789ull, acc), RAM_BASE + 0x23456789);
		assert_int_equal(xlate_ok(h, 0x00000091234567f8ull, acc), 0x00000091234567f8ull);
		assert_int_equal(xlate_ok(h, 0xffff800000000010ull, acc), DATA + 0x2010);
	}
	/* non-canonical in Sv48: bits 63:48 must equal bit 47 */
	expect_faults(h, 0x0000800000000000ull, 0);
	expect_faults(h, 0xfff0000000000000ull, 0);
	expect_faults(h, 0x0001008000000000ull, 0);
	expect_faults(h, 0x0000010000000000ull, 0);   /* canonical but unmapped */
}

static void test_fault_rules(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	struct pt p;
	uint64_t pa;
	pt_init(&p, f, 3);
	pt_map(&p, 0x1000, DATA, 0, RWX_AD & ~PTE_V);                          /* invalid */
	pt_map(&p, 0x2000, DATA, 0, PTE_V | PTE_W | PTE_A | PTE_D);            /* W, no R */
	pt_map(&p, 0x3000, DATA, 0, PTE_V | PTE_W | PTE_X | PTE_A | PTE_D);    /* WX, no R */
	pt_map(&p, 0x40000000, RAM_BASE + 0x1000, 1, RWX_AD);                  /* misaligned 2M */
	pt_map(&p, 0x80000000, RAM_BASE + 0x200000, 2, RWX_AD);                /* misaligned 1G */
	pt_map(&p, 0x5000, DATA, 0, RWX_AD | (1ull << 54));                    /* reserved bits */
	pt_map(&p, 0x6000, DATA, 0, RWX_AD | (1ull << 60));
	pt_map(&p, 0x7000, DATA, 0, RWX_AD | (1ull << 61));                    /* PBMT (no Svpbmt) */
	pt_map(&p, 0x8000, DATA, 0, RWX_AD | (1ull << 63));                    /* N (no Svnapot) */
	pt_map(&p, 0x9000, DATA, 0, RWX_AD);
	pt_map(&p, 0xa000, DATA, 0, PTE_V | PTE_R | PTE_A);                    /* read-only */
	pt_map(&p, 0xb000, DATA, 0, RW_AD);                                    /* no X */
	pt_map(&p, 0xc000, DATA, 0, PTE_V | PTE_X | PTE_A);                    /* X-only */
	pt_map(&p, 0xd000, DATA, 0, RWX_AD | PTE_U);                           /* user */
	pt_map(&p, 0xe000, DATA, 0, PTE_V | PTE_X | PTE_U | PTE_A);            /* user X-only */
	pt_map(&p, 0x0, DATA, 0, PTE_V);                                       /* pointer at level 0 */
	pt_enable(&p);

	expect_faults(h, 0x1000, 0);
	expect_faults(h, 0x2000, 0);
	expect_faults(h, 0x3000, 0);
	expect_faults(h, 0x40000000, 0);
	expect_faults(h, 0x80000000, 0);
	expect_faults(h, 0x5000, 0);
	expect_faults(h, 0x6000, 0);
	expect_faults(h, 0x7000, 0);
	expect_faults(h, 0x8000, 0);
	expect_faults(h, 0x0, 0);
	/* non-canonical Sv39 addresses: bits 63:39 must equal bit 38 */
	expect_faults(h, 0x0000004000000000ull, 0);
	expect_faults(h, 0xffffff8000000000ull, 0);
	expect_faults(h, 0x8000000000009000ull, 0);
	expect_faults(h, 0x0000010000009000ull, 0);
	/* the well-formed page works for everything */
	assert_int_equal(xlate_ok(h, 0x9008, ACC_FETCH), DATA + 8);
	assert_int_equal(xlate_ok(h, 0x9008, ACC_LOAD), DATA + 8);
	assert_int_equal(xlate_ok(h, 0x9008, ACC_STORE), DATA + 8);

	/* read-only: loads yes, stores 15 */
	assert_int_equal(xlate_ok(h, 0xa000, ACC_LOAD), DATA);
	assert_int_equal(xlate(h, 0xa000, ACC_STORE, &pa), EXC_STORE_PAGE);
	assert_int_equal(xlate(h, 0xa000, ACC_FETCH, &pa), EXC_INSN_PAGE);
	/* no X: fetch 12 */
	assert_int_equal(xlate(h, 0xb000, ACC_FETCH, &pa), EXC_INSN_PAGE);
	xlate_ok(h, 0xb000, ACC_STORE);
	/* X-only: fetch yes; load only with MXR; store never */
	xlate_ok(h, 0xc000, ACC_FETCH);
	assert_int_equal(xlate(h, 0xc000, ACC_LOAD, &pa), EXC_LOAD_PAGE);
	h->sstatus |= SSTATUS_MXR;
	assert_int_equal(xlate_ok(h, 0xc010, ACC_LOAD), DATA + 0x10);
	assert_int_equal(xlate(h, 0xc000, ACC_STORE, &pa), EXC_STORE_PAGE);
	h->sstatus &= ~SSTATUS_MXR;

	/* U page from S: only with SUM, and never for fetch */
	assert_int_equal(xlate(h, 0xd000, ACC_LOAD, &pa), EXC_LOAD_PAGE);
	assert_int_equal(xlate(h, 0xd000, ACC_STORE, &pa), EXC_STORE_PAGE);
	assert_int_equal(xlate(h, 0xd000, ACC_FETCH, &pa), EXC_INSN_PAGE);
	h->sstatus |= SSTATUS_SUM;
	xlate_ok(h, 0xd000, ACC_LOAD);
	xlate_ok(h, 0xd000, ACC_STORE);
	assert_int_equal(xlate(h, 0xd000, ACC_FETCH, &pa), EXC_INSN_PAGE);
	/* SUM + MXR reach a user X-only page */
	assert_int_equal(xlate(h, 0xe000, ACC_LOAD, &pa), EXC_LOAD_PAGE);
	h->sstatus |= SSTATUS_MXR;
	xlate_ok(h, 0xe000, ACC_LOAD);
	h->sstatus &= ~(SSTATUS_SUM | SSTATUS_MXR);

	/* from U: U pages yes, S pages never (SUM does not matter) */
	h->priv = PRV_U;
	h->sstatus |= SSTATUS_SUM;
	xlate_ok(h, 0xd000, ACC_LOAD);
	xlate_ok(h, 0xd000, ACC_STORE);
	xlate_ok(h, 0xd000, ACC_FETCH);
	expect_faults(h, 0x9000, 0);
	h->priv = PRV_S;
}

static void test_ad_bits(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	struct pt p;
	uint64_t pa;
	pt_init(&p, f, 3);
	uint64_t l1 = pt_map(&p, 0x1000, DATA, 0, PTE_V | PTE_R | PTE_W);
	uint64_t l2 = pt_map(&p, 0x2000, DATA, 0, PTE_V | PTE_R | PTE_W);
	uint64_t l3 = pt_map(&p, 0x3000, DATA, 0, PTE_V | PTE_R | PTE_X);
	uint64_t l4 = pt_map(&p, 0x4000, DATA, 0, PTE_V | PTE_R);
	uint64_t l5 = pt_map(&p, 0x40000000, RAM_BASE + 0x200000, 1, PTE_V | PTE_R | PTE_W);
	uint64_t l6 = pt_map(&p, 0x6000, DATA, 0, PTE_V | PTE_R | PTE_W | PTE_A);
	pt_enable(&p);

	xlate_ok(h, 0x1000, ACC_LOAD);
	assert_int_equal(rd64(f, l1) & (PTE_A | PTE_D), PTE_A);
	xlate_ok(h, 0x1000, ACC_STORE);
	assert_int_equal(rd64(f, l1) & (PTE_A | PTE_D), PTE_A | PTE_D);
	xlate_ok(h, 0x2008, ACC_STORE);
	assert_int_equal(rd64(f, l2) & (PTE_A | PTE_D), PTE_A | PTE_D);
	xlate_ok(h, 0x3000, ACC_FETCH);
	assert_int_equal(rd64(f, l3) & (PTE_A | PTE_D), PTE_A);
	/* a faulting access leaves the PTE alone */
	assert_int_equal(xlate(h, 0x4000, ACC_STORE, &pa), EXC_STORE_PAGE);
	assert_int_equal(rd64(f, l4) & (PTE_A | PTE_D), 0);
	/* superpage leaves get A/D too; other PTE bits survive */
	xlate_ok(h, 0x40001000, ACC_STORE);
	assert_int_equal(rd64(f, l5), pte_of(RAM_BASE + 0x200000, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D));
	/* A already set: a store adds D */
	xlate_ok(h, 0x6000, ACC_STORE);
	assert_int_equal(rd64(f, l6), pte_of(DATA, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D));
}

static void test_pte_outside_ram(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	/* root table at physical 0x1000: nothing there */
	set_satp(h, (8ull << 60) | 1);
	expect_faults(h, 0x1000, 1);
	set_satp(h, (9ull << 60) | 1);
	expect_faults(h, 0x1000, 1);

	/* a non-leaf pointing below RAM */
	struct pt p;
	pt_init(&p, f, 3);
	wr64(f, p.root + 8 * 1, pte_of(0x20000000, PTE_V));    /* VA 1 GiB..2 GiB */
	/* a non-leaf pointing just past the end of RAM */
	wr64(f, p.root + 8 * 2, pte_of(RAM_BASE + RAM_SIZE, PTE_V));
	pt_enable(&p);
	expect_faults(h, 0x40000000, 1);
	expect_faults(h, 0x80000000, 1);
}

/* ---- execution: TLB behaviour ---- */

static uint64_t exec_load(struct fx *f, uint64_t va)
{
	f->h->x[6] = va;
	f->h->x[5] = JUNK;
	fx_exec1(f, LD(5, 6, 0));
	return f->h->x[5];
}

static void test_tlb_and_sfence(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	struct pt p;
	paged(f, &p, 3);
	const uint64_t va = 0x10000;
	wr64(f, DATA, 0x1111);
	wr64(f, DATA + 8, 0x1313);
	wr64(f, DATA + 0x1000, 0x2222);
	wr64(f, DATA + 0x1008, 0x2323);
	uint64_t leaf = pt_map(&p, va, DATA, 0, RW_AD);

	assert_int_equal(exec_load(f, va), 0x1111);
	/* change the PTE without sfence.vma: the cached translation may (and
	 * here does) still be used */
	wr64(f, leaf, pte_of(DATA + 0x1000, RW_AD));
	assert_int_equal(exec_load(f, va), 0x1111);
	/* sfence.vma x0, x0 */
	fx_exec1(f, SFENCE_VMA(0, 0));
	assert_int_equal(exec_load(f, va), 0x2222);

	/* sfence.vma rs1=va flushes that page */
	wr64(f, leaf, pte_of(DATA, RW_AD));
	assert_int_equal(exec_load(f, va + 8), 0x2323);   /* still stale */
	h->x[7] = va + 0x123;
	fx_exec1(f, SFENCE_VMA(7, 0));
	assert_int_equal(exec_load(f, va), 0x1111);

	/* invalidated PTE + sfence: the load faults */
	wr64(f, leaf, 0);
	fx_exec1(f, SFENCE_VMA(0, 0));
	h->x[6] = va + 16;
	h->x[5] = JUNK;
	assert_int_equal(fx_trap1(f, LD(5, 6, 0)), EXC_LOAD_PAGE);
	assert_int_equal(h->stval, va + 16);
	assert_int_equal(h->x[5], JUNK);

	/* tlb_flush_all is the host-side equivalent */
	wr64(f, leaf, pte_of(DATA, RW_AD));
	fx_exec1(f, SFENCE_VMA(0, 0));
	assert_int_equal(exec_load(f, va), 0x1111);
	wr64(f, leaf, pte_of(DATA + 0x1000, RW_AD));
	tlb_flush_all(h);
	assert_int_equal(exec_load(f, va), 0x2222);
}

/* Paging on and the block compiler on; returns the pc of
 * `1: ld x5, 0(x6); j 1b`, one compiled load site in a loop. */
static uint64_t jit_load_site(struct fx *f, struct pt *p)
{
	f->h->jit = jit_new(1u << 20);
	assert_non_null(f->h->jit);
	paged(f, p, 3);
	const uint32_t prog[] = { LD(5, 6, 0), 0xffdff06fu };   /* a loop: memos are for loops */
	return fx_code(f, prog, 2);
}

static void jit_off(struct fx *f)
{
	jit_free(f->h->jit);
	f->h->jit = NULL;
}

/* A compiled load keeps a copy of the TLB entry it last hit (its load
 * memo); sfence.vma, with or without an address, and tlb_flush_all must
 * drop that copy as they drop the TLB's own entry. */
static void test_jit_load_memo_follows_sfence(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	struct pt p;
	uint64_t pc = jit_load_site(f, &p);
	const uint64_t va = 0x10000;
	wr64(f, DATA, 0x1111);
	wr64(f, DATA + 0x1000, 0x2222);
	uint64_t leaf = pt_map(&p, va, DATA, 0, RW_AD);
	h->x[6] = va;
	for (int i = 0; i < 3; i++) {       /* slow path, memo refill, memo hit */
		h->x[5] = JUNK;
		fx_run(f, pc, 2);
		assert_int_equal(h->x[5], 0x1111);
	}
	wr64(f, leaf, pte_of(DATA + 0x1000, RW_AD));
	h->x[7] = va + 0x10;
	fx_exec1(f, SFENCE_VMA(7, 0));       /* this page only */
	fx_run(f, pc, 2);
	assert_int_equal(h->x[5], 0x2222);
	fx_run(f, pc, 2);
	wr64(f, leaf, pte_of(DATA, RW_AD));
	fx_exec1(f, SFENCE_VMA(0, 0));       /* everything */
	fx_run(f, pc, 2);
	assert_int_equal(h->x[5], 0x1111);
	fx_run(f, pc, 2);
	wr64(f, leaf, pte_of(DATA + 0x1000, RW_AD));
	tlb_flush_all(h);
	fx_run(f, pc, 2);
	assert_int_equal(h->x[5], 0x2222);
	jit_off(f);
}

/* A compiled load whose memo holds the second page of a pair must not
 * take it for an access that starts in the first page and crosses into the
 * second: the two pages are not adjacent in guest RAM. Misaligned loads
 * inside one page stay right too. */
static void test_jit_load_memo_page_crossing(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	struct pt p;
	uint64_t pc = jit_load_site(f, &p);
	pt_map(&p, 0x60000, DATA + 0x6000, 0, RW_AD);
	pt_map(&p, 0x61000, DATA + 0x9000, 0, RW_AD);
	wr64(f, DATA + 0x6ff8, 0x8877665544332211ull);
	wr64(f, DATA + 0x8ff8, 0x7777777777777777ull);   /* what the bug read */
	wr64(f, DATA + 0x9000, 0xffeeddccbbaa9988ull);
	wr64(f, DATA + 0x9008, 0x0706050403020100ull);
	h->x[6] = 0x61000;
	for (int i = 0; i < 3; i++) {       /* slow path, memo refill, memo hit */
		h->x[5] = JUNK;
		fx_run(f, pc, 2);
		assert_int_equal(h->x[5], 0xffeeddccbbaa9988ull);
	}
	for (int i = 0; i < 2; i++) {
		h->x[6] = 0x60ffc;               /* crosses into 0x61000 */
		h->x[5] = JUNK;
		fx_run(f, pc, 2);
		assert_int_equal(h->x[5], 0xbbaa998888776655ull);
		h->x[6] = 0x61004;               /* misaligned, one page */
		fx_run(f, pc, 2);
		assert_int_equal(h->x[5], 0x03020100ffeeddccull);
		h->x[6] = 0x61000;
		fx_run(f, pc, 2);
		assert_int_equal(h->x[5], 0xffeeddccbbaa9988ull);
	}
	jit_off(f);
}

/* sfence.vma rs1=va must drop every cached translation that came from the
 * leaf PTE for va; for a superpage that includes the entries for its other
 * 4 KiB pieces (privileged spec, "SFENCE.VMA": "invalidates all
 * address-translation cache entries that contain leaf page table entries
 * corresponding to the virtual address in rs1"). Linux flushes a huge
 * mapping with one sfence.vma per huge page. */
static void test_sfence_superpage(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	struct pt p;
	paged(f, &p, 3);
	const uint64_t va = 0x40000000;
	uint64_t leaf = pt_map(&p, va, RAM_BASE + 0x200000, 1, RW_AD);   /* 2 MiB */
	wr64(f, RAM_BASE + 0x200000 + 0x5000, 0xaaaa);
	wr64(f, RAM_BASE + 0x5000, 0xbbbb);

	assert_int_equal(exec_load(f, va + 0x5000), 0xaaaa);
	/* An sfence.vma for a page outside every superpage the TLB holds
	 * pieces of keeps those pieces: the next load needs no page walk. */
	pt_map(&p, 0x7000, DATA, 0, RW_AD);
	h->x[7] = 0x7000;
	fx_exec1(f, SFENCE_VMA(7, 0));
	uint64_t walks = h->n_walks;
	assert_int_equal(exec_load(f, va + 0x5000), 0xaaaa);
	assert_int_equal(h->n_walks, walks);

	wr64(f, leaf, pte_of(RAM_BASE, RW_AD));
	h->x[7] = va;                            /* the superpage's base */
	fx_exec1(f, SFENCE_VMA(7, 0));
	assert_int_equal(exec_load(f, va + 0x5000), 0xbbbb);
}

/* The TLB has no ASIDs: a satp write, or an sfence.vma for one ASID
 * (rs1 = x0, rs2 != x0), drops every entry but those of global mappings,
 * which are the same in every address space; sfence.vma x0, x0 drops
 * those too. Counted by page walks: a kept entry needs none. */
static void test_global_entries_survive_asid_switch(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	struct pt p;
	paged(f, &p, 3);
	wr64(f, DATA + 0x1000, 0x6161);
	wr64(f, DATA + 0x2000, 0x7171);
	const uint64_t gva = 0x10000, lva = 0x20000;
	pt_map(&p, gva, DATA + 0x1000, 0, RW_AD | PTE_G);
	pt_map(&p, lva, DATA + 0x2000, 0, RW_AD);
	assert_int_equal(exec_load(f, gva), 0x6161);
	assert_int_equal(exec_load(f, lva), 0x7171);

	/* the same tables under another ASID; a nop first refills the fetch
	 * entry of the (non-global) code page */
	set_satp(h, h->satp | (5ull << 44));
	fx_exec1(f, 0x00000013);
	uint64_t walks = h->n_walks;
	assert_int_equal(exec_load(f, gva), 0x6161);
	assert_int_equal(h->n_walks, walks);
	assert_int_equal(exec_load(f, lva), 0x7171);
	assert_int_equal(h->n_walks, walks + 1);

	/* sfence.vma x0, asid: the same */
	h->x[9] = 5;
	fx_exec1(f, SFENCE_VMA(0, 9));
	fx_exec1(f, 0x00000013);
	walks = h->n_walks;
	assert_int_equal(exec_load(f, gva), 0x6161);
	assert_int_equal(exec_load(f, lva), 0x7171);
	assert_int_equal(h->n_walks, walks + 1);

	/* translation off (Bare): no entry of Sv39, global or not, may serve a
	 * fetch or a load; the global page's address is RAM-less there */
	uint64_t sv39 = h->satp;
	set_satp(h, 0);
	h->x[6] = gva;
	assert_int_equal(fx_trap1(f, LD(5, 6, 0)), EXC_LOAD_ACCESS);
	set_satp(h, sv39);

	/* a changed global PTE is seen after sfence.vma x0, x0 */
	pt_map(&p, gva, DATA + 0x2000, 0, RW_AD | PTE_G);
	fx_exec1(f, SFENCE_VMA(0, 0));
	assert_int_equal(exec_load(f, gva), 0x7171);
}

/* A TLB entry filled under one set of permissions must not be reused once
 * SUM, MXR, the privilege level or the access type changes. */
static void test_tlb_permissions(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	struct pt p;
	paged(f, &p, 3);
	wr64(f, DATA + 0x2000, 0x2020);
	wr64(f, DATA + 0x3000, 0x3030);
	wr64(f, DATA + 0x4000, 0x4040);
	wr64(f, DATA + 0x5000, 0x5050);
	wr64(f, DATA + 0x6000, 0x6060);
	pt_map(&p, 0x20000, DATA + 0x2000, 0, RW_AD | PTE_U);
	pt_map(&p, 0x30000, DATA + 0x3000, 0, PTE_V | PTE_X | PTE_A);
	uint64_t dleaf = pt_map(&p, 0x40000, DATA + 0x4000, 0, PTE_V | PTE_R | PTE_W | PTE_A);
	pt_map(&p, 0x50000, DATA + 0x5000, 0, PTE_V | PTE_R | PTE_A);
	pt_map(&p, 0x60000, DATA + 0x6000, 0, RW_AD);

	/* SUM */
	h->x[8] = SSTATUS_SUM;
	fx_exec1(f, CSRRS(0, CSR_SSTATUS, 8));
	assert_int_equal(exec_load(f, 0x20000), 0x2020);
	fx_exec1(f, CSRRC(0, CSR_SSTATUS, 8));
	h->x[6] = 0x20000;
	assert_int_equal(fx_trap1(f, LD(5, 6, 0)), EXC_LOAD_PAGE);
	assert_int_equal(h->stval, 0x20000);

	/* SUM set, then a trap (which recomputes the TLB match mode), then SUM
	 * cleared: the U entry filled in between must stop matching */
	h->x[8] = SSTATUS_SUM;
	fx_exec1(f, CSRRS(0, CSR_SSTATUS, 8));
	assert_int_equal(fx_trap1(f, 0xffffffff), EXC_ILLEGAL);
	assert_int_equal(exec_load(f, 0x20008), 0);
	fx_exec1(f, CSRRC(0, CSR_SSTATUS, 8));
	h->x[6] = 0x20008;
	assert_int_equal(fx_trap1(f, LD(5, 6, 0)), EXC_LOAD_PAGE);

	/* MXR */
	h->x[8] = SSTATUS_MXR;
	fx_exec1(f, CSRRS(0, CSR_SSTATUS, 8));
	assert_int_equal(exec_load(f, 0x30000), 0x3030);
	fx_exec1(f, CSRRC(0, CSR_SSTATUS, 8));
	h->x[6] = 0x30000;
	assert_int_equal(fx_trap1(f, LD(5, 6, 0)), EXC_LOAD_PAGE);

	/* a load does not make a clean page writable without setting D */
	assert_int_equal(exec_load(f, 0x40000), 0x4040);
	assert_int_equal(rd64(f, dleaf) & PTE_D, 0);
	h->x[6] = 0x40000;
	h->x[7] = 0x4141;
	fx_exec1(f, SD(7, 6, 0));
	assert_true(rd64(f, dleaf) & PTE_D);
	assert_int_equal(rd64(f, DATA + 0x4000), 0x4141);

	/* a read-only page stays read-only after a load filled the TLB */
	assert_int_equal(exec_load(f, 0x50000), 0x5050);
	h->x[6] = 0x50000;
	h->x[7] = 0x5151;
	assert_int_equal(fx_trap1(f, SD(7, 6, 0)), EXC_STORE_PAGE);
	assert_int_equal(h->stval, 0x50000);
	assert_int_equal(rd64(f, DATA + 0x5000), 0x5050);

	/* S filled the TLB for an S page; U must not use it. U code runs
	 * through the UCODE_VA alias. */
	assert_int_equal(exec_load(f, 0x60000), 0x6060);
	uint32_t u_ld = LD(5, 6, 0);
	uint64_t code = fx_code(f, &u_ld, 1);
	uint64_t upc = code - RAM_BASE + UCODE_VA;
	h->priv = PRV_U;
	tlb_update_mode(h);
	h->x[6] = 0x60000;
	fx_run(f, upc, 1);
	assert_int_equal(h->scause, EXC_LOAD_PAGE);
	assert_int_equal(h->sepc, upc);
	assert_int_equal(h->stval, 0x60000);
	/* while a U page is fine from U ... */
	code = fx_code(f, &u_ld, 1);
	upc = code - RAM_BASE + UCODE_VA;
	h->priv = PRV_U;
	tlb_update_mode(h);
	h->x[6] = 0x20000;
	h->x[5] = JUNK;
	fx_run(f, upc, 1);
	assert_int_equal(h->scause, SENTINEL);
	assert_int_equal(h->x[5], 0x2020);
	assert_int_equal(h->priv, PRV_U);
	/* ... and S without SUM may not reuse U's entry */
	h->priv = PRV_S;
	tlb_update_mode(h);
	h->x[6] = 0x20000;
	assert_int_equal(fx_trap1(f, LD(5, 6, 0)), EXC_LOAD_PAGE);
	/* S cannot execute U code, even with SUM */
	h->sstatus |= SSTATUS_SUM;
	tlb_update_mode(h);
	fx_run(f, upc, 1);
	assert_int_equal(h->scause, EXC_INSN_PAGE);
	assert_int_equal(h->stval, upc);
}

/* Accesses that straddle a page boundary. */
static void test_page_crossing(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	struct pt p;
	paged(f, &p, 3);
	/* 0x60000 and 0x61000 map to non-adjacent frames; 0x5f000 and 0x62000 are unmapped */
	pt_map(&p, 0x60000, DATA + 0x6000, 0, RW_AD);
	pt_map(&p, 0x61000, DATA + 0x9000, 0, RW_AD);
	pt_map(&p, 0x63000, DATA + 0xb000, 0, RW_AD);
	pt_map(&p, 0x64000, DATA + 0xc000, 0, PTE_V | PTE_R | PTE_A);   /* read-only */
	wr64(f, DATA + 0x6ff8, 0x8877665544332211ull);
	wr64(f, DATA + 0x9000, 0xffeeddccbbaa9988ull);
	wr64(f, DATA + 0x9ff8, 0x0706050403020100ull);

	uint64_t v = JUNK;
	assert_int_equal(mmu_load_slow(h, 0x60ffc, 8, &v), 0);
	assert_int_equal(v, 0xbbaa998888776655ull);
	assert_int_equal(mmu_store_slow(h, 0x60ffa, 8, 0x0123456789abcdefull), 0);
	assert_int_equal(rd64(f, DATA + 0x6ff8), 0x456789abcdef2211ull);
	assert_int_equal(rd64(f, DATA + 0x9000), 0xffeeddccbbaa0123ull);

	/* second page unmapped: page fault, stval in the faulting page */
	h->pc = 0x80001234;
	h->scause = SENTINEL;
	assert_int_equal(mmu_load_slow(h, 0x61ffc, 8, &v), 1);
	assert_int_equal(h->scause, EXC_LOAD_PAGE);
	assert_int_equal(h->stval, 0x62000);
	assert_int_equal(h->sepc, 0x80001234);
	assert_int_equal(h->pc, TRAP_VEC);
	h->scause = SENTINEL;
	assert_int_equal(mmu_store_slow(h, 0x61ffc, 8, ~0ull), 1);
	assert_int_equal(h->scause, EXC_STORE_PAGE);
	assert_int_equal(h->stval, 0x62000);
	assert_int_equal(rd64(f, DATA + 0x9ff8), 0x0706050403020100ull);   /* untouched */
	/* first page unmapped */
	h->scause = SENTINEL;
	assert_int_equal(mmu_load_slow(h, 0x5fffe, 4, &v), 1);
	assert_int_equal(h->scause, EXC_LOAD_PAGE);
	assert_int_equal(h->stval, 0x5fffe);
	h->scause = SENTINEL;
	assert_int_equal(mmu_store_slow(h, 0x5fffe, 4, ~0ull), 1);
	assert_int_equal(h->scause, EXC_STORE_PAGE);
	assert_int_equal(h->stval, 0x5fffe);
	assert_int_equal(rd64(f, DATA + 0x6000), 0);
	/* second page read-only: store faults, first page untouched */
	wr64(f, DATA + 0xbff8, 0x1111111111111111ull);
	h->scause = SENTINEL;
	assert_int_equal(mmu_store_slow(h, 0x63ffc, 8, 0), 1);
	assert_int_equal(h->scause, EXC_STORE_PAGE);
	assert_int_equal(h->stval, 0x64000);
	assert_int_equal(rd64(f, DATA + 0xbff8), 0x1111111111111111ull);

	/* the same through executed loads and stores */
	h->x[6] = 0x61ffc;
	h->x[7] = ~0ull;
	h->x[5] = JUNK;
	assert_int_equal(fx_trap1(f, LD(5, 6, 0)), EXC_LOAD_PAGE);
	assert_int_equal(h->stval, 0x62000);
	assert_int_equal(h->x[5], JUNK);
	assert_int_equal(fx_trap1(f, SD(7, 6, 0)), EXC_STORE_PAGE);
	assert_int_equal(h->stval, 0x62000);
	assert_int_equal(rd64(f, DATA + 0x9ff8), 0x0706050403020100ull);
	h->x[6] = 0x60ffe;
	fx_exec1(f, LW(5, 6, 0));
	assert_int_equal(h->x[5], 0x01234567);   /* 67 45 | 23 01 */
	wr16(f, DATA + 0x9000, 0x8899);
	fx_exec1(f, LW(5, 6, 0));
	assert_int_equal(h->x[5], 0xffffffff88994567ull);   /* sign-extended */
}

/* A 32-bit instruction straddling two virtual pages that map to
 * non-adjacent frames; and one whose second page is not executable. */
static void test_fetch_crossing(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	struct pt p;
	paged(f, &p, 3);
	uint64_t a = DATA + 0x10000, b = DATA + 0x14000;
	uint32_t insn = ADDI(5, 0, 0x321);
	pt_map(&p, 0x90000, a, 0, PTE_V | PTE_R | PTE_X | PTE_A);
	pt_map(&p, 0x91000, b, 0, PTE_V | PTE_R | PTE_X | PTE_A);
	pt_map(&p, 0x93000, a, 0, PTE_V | PTE_R | PTE_X | PTE_A);
	pt_map(&p, 0x94000, b, 0, PTE_V | PTE_R | PTE_A);          /* not executable */
	wr16(f, a + 0xffe, (uint16_t)insn);
	wr16(f, b, (uint16_t)(insn >> 16));
	wr32(f, b + 2, ADDI(6, 5, 1));

	h->x[5] = h->x[6] = 0;
	fx_run(f, 0x90ffe, 2);
	assert_int_equal(h->scause, SENTINEL);
	assert_int_equal(h->x[5], 0x321);
	assert_int_equal(h->x[6], 0x322);
	assert_int_equal(h->pc, 0x91006);

	/* second half unmapped / not executable: fault on the second page,
	 * reported at the instruction's address (sepc) with stval in the
	 * page that faulted, as the guest must fault that page in */
	static const uint64_t starts[] = { 0x91ffe, 0x93ffe };
	wr16(f, b + 0xffe, (uint16_t)insn);
	for (unsigned i = 0; i < 2; i++) {
		h->x[5] = JUNK;
		fx_run(f, starts[i], 1);
		assert_int_equal(h->scause, EXC_INSN_PAGE);
		assert_int_equal(h->sepc, starts[i]);
		assert_int_equal(h->stval, starts[i] + 2);
		assert_int_equal(h->x[5], JUNK);
	}
}

/* ---- MMIO ---- */

#define MMIO_BASE 0x10000000ull
#define MMIO_SIZE 0x1000ull
#define UNMAPPED  0x20000000ull

struct fake_dev {
	int reads, writes, fail;
	uint64_t off;
	unsigned size;
	uint64_t val;
};

static int fake_read(void *dev, uint64_t off, unsigned size, uint64_t *val)
{
	struct fake_dev *d = dev;
	d->reads++;
	d->off = off;
	d->size = size;
	if (d->fail)
		return -EFAULT;
	uint64_t v = 0xfedcba9876543210ull;
	*val = size == 8 ? v : v & ((1ull << (8 * size)) - 1);
	return 0;
}

static int fake_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct fake_dev *d = dev;
	d->writes++;
	d->off = off;
	d->size = size;
	d->val = val;
	return d->fail ? -EFAULT : 0;
}

static const struct dev_ops fake_ops = {
	.name = "fake",
	.read = fake_read,
	.write = fake_write,
};

static void test_mmio(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	struct fake_dev dev = { 0 };
	assert_int_equal(vm_add_mmio(f->vm, MMIO_BASE, MMIO_SIZE, &fake_ops, &dev), 0);
	uint64_t v;

	/* bare mode, slow paths */
	assert_int_equal(mmu_load_slow(h, MMIO_BASE + 0x10, 4, &v), 0);
	assert_int_equal(dev.reads, 1);
	assert_int_equal(dev.off, 0x10);
	assert_int_equal(dev.size, 4);
	assert_int_equal(v & 0xffffffff, 0x76543210);
	assert_int_equal(mmu_store_slow(h, MMIO_BASE + 0x18, 8, 0x0123456789abcdefull), 0);
	assert_int_equal(dev.writes, 1);
	assert_int_equal(dev.off, 0x18);
	assert_int_equal(dev.size, 8);
	assert_int_equal(dev.val, 0x0123456789abcdefull);

	/* executed loads sign/zero-extend device data */
	h->x[6] = MMIO_BASE;
	fx_exec1(f, LW(5, 6, 0x24));
	assert_int_equal(h->x[5], 0x76543210);
	fx_exec1(f, LB(5, 6, 0x20));
	assert_int_equal(h->x[5], 0x10);
	dev.reads = 0;
	fx_exec1(f, enc_i(4, 6, 1, 5, 0x03));                 /* lh */
	assert_int_equal(h->x[5], 0x3210);
	fx_exec1(f, LD(5, 6, 8));
	assert_int_equal(h->x[5], 0xfedcba9876543210ull);
	fx_exec1(f, LD(5, 6, 8));                             /* never cached in the TLB */
	assert_int_equal(dev.reads, 3);
	/* executed stores reach the device every time */
	h->x[7] = 0xabcd;
	dev.writes = 0;
	fx_exec1(f, SW(7, 6, 0x40));
	fx_exec1(f, SW(7, 6, 0x40));
	fx_exec1(f, SB(7, 6, 0x43));
	assert_int_equal(dev.writes, 3);
	assert_int_equal(dev.off, 0x43);
	assert_int_equal(dev.size, 1);
	assert_int_equal(dev.val & 0xff, 0xcd);

	/* the device refuses: access fault */
	dev.fail = 1;
	h->x[5] = JUNK;
	assert_int_equal(fx_trap1(f, LW(5, 6, 0x30)), EXC_LOAD_ACCESS);
	assert_int_equal(h->stval, MMIO_BASE + 0x30);
	assert_int_equal(h->x[5], JUNK);
	assert_int_equal(fx_trap1(f, SW(7, 6, 0x30)), EXC_STORE_ACCESS);
	assert_int_equal(h->stval, MMIO_BASE + 0x30);
	dev.fail = 0;

	/* unmapped physical addresses: load 5, store 7, fetch 1 */
	h->x[6] = UNMAPPED;
	assert_int_equal(fx_trap1(f, LD(5, 6, 8)), EXC_LOAD_ACCESS);
	assert_int_equal(h->stval, UNMAPPED + 8);
	assert_int_equal(fx_trap1(f, SD(7, 6, 8)), EXC_STORE_ACCESS);
	assert_int_equal(h->stval, UNMAPPED + 8);
	h->x[6] = RAM_BASE + RAM_SIZE;                            /* just past RAM */
	assert_int_equal(fx_trap1(f, LB(5, 6, 0)), EXC_LOAD_ACCESS);
	h->x[6] = RAM_BASE;
	assert_int_equal(fx_trap1(f, LB(5, 6, -1)), EXC_LOAD_ACCESS); /* just below */
	fx_run(f, UNMAPPED, 1);
	assert_int_equal(h->scause, EXC_INSN_ACCESS);
	assert_int_equal(h->sepc, UNMAPPED);
	fx_run(f, MMIO_BASE, 1);                                  /* no fetch from devices */
	assert_int_equal(h->scause, EXC_INSN_ACCESS);
	assert_int_equal(mmu_load_slow(h, UNMAPPED, 4, &v), 1);
	assert_int_equal(h->scause, EXC_LOAD_ACCESS);
	assert_int_equal(mmu_store_slow(h, UNMAPPED, 4, 0), 1);
	assert_int_equal(h->scause, EXC_STORE_ACCESS);

	/* atomics need RAM: access fault on MMIO, device untouched */
	h->x[6] = MMIO_BASE;
	dev.reads = dev.writes = 0;
	assert_int_equal(fx_trap1(f, AMO(0x00, 2, 5, 6, 7)), EXC_STORE_ACCESS);
	assert_int_equal(fx_trap1(f, AMO(0x02, 2, 5, 6, 0)), EXC_LOAD_ACCESS);
	assert_int_equal(dev.writes, 0);

	/* through page tables: VA -> device, VA -> hole */
	struct pt p;
	paged(f, &p, 3);
	pt_map(&p, 0x70000, MMIO_BASE, 0, RW_AD);
	pt_map(&p, 0x71000, UNMAPPED, 0, RW_AD);
	h->x[6] = 0x70000;
	dev.reads = 0;
	fx_exec1(f, LW(5, 6, 0x8));
	assert_int_equal(dev.reads, 1);
	assert_int_equal(dev.off, 8);
	assert_int_equal(h->x[5], 0x76543210);
	h->x[6] = 0x71000;
	assert_int_equal(fx_trap1(f, LW(5, 6, 0x8)), EXC_LOAD_ACCESS);
	assert_int_equal(h->stval, 0x71008);
	assert_int_equal(fx_trap1(f, SW(5, 6, 0x8)), EXC_STORE_ACCESS);
	assert_int_equal(h->stval, 0x71008);
}

/* Sign extension of MMIO data for narrow signed loads. */
static int neg_read(void *dev, uint64_t off, unsigned size, uint64_t *val)
{
	*val = size == 8 ? 0x8000000000000080ull : (0x80ull << (8 * (size - 1)));
	return 0;
}

static const struct dev_ops neg_ops = { .name = "neg", .read = neg_read };

static void test_mmio_sign(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	assert_int_equal(vm_add_mmio(f->vm, MMIO_BASE, MMIO_SIZE, &neg_ops, NULL), 0);
	h->x[6] = MMIO_BASE;
	fx_exec1(f, LB(5, 6, 0));
	assert_int_equal(h->x[5], 0xffffffffffffff80ull);
	fx_exec1(f, LBU(5, 6, 0));
	assert_int_equal(h->x[5], 0x80);
	fx_exec1(f, enc_i(0, 6, 1, 5, 0x03));   /* lh */
	assert_int_equal(h->x[5], 0xffffffffffff8000ull);
	fx_exec1(f, LW(5, 6, 0));
	assert_int_equal(h->x[5], 0xffffffff80000000ull);
	fx_exec1(f, enc_i(0, 6, 6, 5, 0x03));   /* lwu */
	assert_int_equal(h->x[5], 0x80000000);
	/* no write handler: stores are access faults */
	assert_int_equal(fx_trap1(f, SW(5, 6, 0)), EXC_STORE_ACCESS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FX_TEST(test_sv39_page_sizes),
		FX_TEST(test_sv48_page_sizes),
		FX_TEST(test_fault_rules),
		FX_TEST(test_ad_bits),
		FX_TEST(test_pte_outside_ram),
		FX_TEST(test_tlb_and_sfence),
		FX_TEST(test_sfence_superpage),
		FX_TEST(test_global_entries_survive_asid_switch),
		FX_TEST(test_tlb_permissions),
		FX_TEST(test_jit_load_memo_follows_sfence),
		FX_TEST(test_jit_load_memo_page_crossing),
		FX_TEST(test_page_crossing),
		FX_TEST(test_fetch_crossing),
		FX_TEST(test_mmio),
		FX_TEST(test_mmio_sign),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
