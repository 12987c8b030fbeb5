/* Paging differential test (Sv39, Sv48): permissions, SUM/MXR, hardware A/D
 * updates, bad PTEs, superpages, canonical VAs, sfence.vma, straddling fetches
 * and U-mode accesses; stval is printed as the faulting virtual address. */
#include "rt.h"

#define PTE_V (1ul << 0)
#define PTE_R (1ul << 1)
#define PTE_W (1ul << 2)
#define PTE_X (1ul << 3)
#define PTE_U (1ul << 4)
#define PTE_G (1ul << 5)
#define PTE_A (1ul << 6)
#define PTE_D (1ul << 7)
#define RWAD  (PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
#define RWXAD (RWAD | PTE_X)

#define PTE(pa, flags) ((((u64)(pa)) >> 12) << 10 | (flags))
#define NEXT(table) PTE(table, PTE_V)

/* Page tables and the physical pages behind the 4K test mappings. */
static u64 root[512] __attribute__((aligned(4096)));
static u64 l1[512] __attribute__((aligned(4096)));
static u64 l0[512] __attribute__((aligned(4096)));
static u64 root48[512] __attribute__((aligned(4096)));
static u64 l2hi[512] __attribute__((aligned(4096)));

/* 2 MiB of otherwise unused RAM, 16 MiB into RAM, for the megapage. */
#define MEGA_PA 0x81000000ul

#define TV      0x40000000ul                 /* 4K test pages: TV + i*4K */
#define MEGA_VA 0x40200000ul                 /* l1[1]: 2M page -> MEGA_PA */
#define MEGA_BAD 0x40400000ul                /* l1[2]: misaligned 2M page */
#define GIGA_U  0xc0000000ul                 /* root[3]: U alias of RAM */
#define GIGA_BAD 0x100000000ul               /* root[4]: misaligned 1G page */
#define HIGH_VA 0xffffffc000000000ul         /* root[256]: alias of 0 GiB.. */

enum { P_RO, P_RW, P_XO, P_NX, P_URW, P_NOA, P_NOD, P_INV, P_WO, P_RSV,
       P_HOLE, P_XNOA, P_REMAP, P_REMAP2, P_NOAD, P_NONLEAF, P_UXO, P_RX,
       P_ST0, P_ST1, P_ST2, NPAGES };
/* l0 slots for instructions straddling pages (slots beyond NPAGES) */
#define S_STA 24    /* -> page[P_ST1]; next slot -> page[P_ST0] (PA goes down) */
#define S_STB 26    /* -> page[P_ST2]; next slot invalid */
static uint8_t page[NPAGES][4096] __attribute__((aligned(4096)));

static int n;
#define CODE_RET 0x00008067u            /* ret */

static void put_code(uint8_t *p, u32 imm)
{
    u32 *w = (u32 *)p;
    w[0] = 0x00000513u | (imm << 20);  /* li a0, imm */
    w[1] = CODE_RET;
}

static void build(void)
{
    memset(root, 0, sizeof root);
    memset(l1, 0, sizeof l1);
    memset(l0, 0, sizeof l0);
    root[0] = PTE(0, RWAD);                              /* MMIO incl. UART */
    root[1] = NEXT(l1);
    root[2] = PTE(0x80000000ul, RWXAD);                  /* identity RAM */
    root[3] = PTE(0x80000000ul, RWXAD | PTE_U);          /* U alias */
    root[4] = PTE(0x80200000ul, RWAD);                   /* misaligned 1G */
    root[256] = PTE(0x80000000ul, RWAD);                 /* high-half alias */
    l1[0] = NEXT(l0);
    l1[1] = PTE(MEGA_PA, RWAD);
    l1[2] = PTE(MEGA_PA + 0x1000, RWAD);

    for (int i = 0; i < NPAGES; i++) {
        for (int k = 0; k < 4096; k += 8)
            *(u64 *)&page[i][k] = 0x1111111111111111ul * (u64)(i % 15 + 1) + (u64)k;
    }
    put_code(page[P_XO], 0x71);
    put_code(page[P_NX], 0x72);
    put_code(page[P_XNOA], 0x73);
    put_code(page[P_UXO], 0x74);
    put_code(page[P_RX], 0x75);
    fence_i();

    l0[P_RO]   = PTE(page[P_RO], PTE_V | PTE_R | PTE_A | PTE_D);
    l0[P_RW]   = PTE(page[P_RW], RWAD);
    l0[P_XO]   = PTE(page[P_XO], PTE_V | PTE_X | PTE_A);
    l0[P_NX]   = PTE(page[P_NX], RWAD);
    l0[P_URW]  = PTE(page[P_URW], RWAD | PTE_U);
    l0[P_NOA]  = PTE(page[P_NOA], PTE_V | PTE_R | PTE_W);
    l0[P_NOD]  = PTE(page[P_NOD], PTE_V | PTE_R | PTE_W | PTE_A);
    l0[P_INV]  = PTE(page[P_INV], RWAD & ~PTE_V);
    l0[P_WO]   = PTE(page[P_WO], PTE_V | PTE_W | PTE_A | PTE_D);
    l0[P_RSV]  = PTE(page[P_RSV], RWAD) | (1ul << 54);
    l0[P_HOLE] = PTE(0x90000000ul, RWAD);
    l0[P_XNOA] = PTE(page[P_XNOA], PTE_V | PTE_X | PTE_R);
    l0[P_REMAP] = PTE(page[P_REMAP], RWAD);
    l0[P_REMAP2] = PTE(page[P_REMAP2], RWAD);
    l0[P_NOAD] = PTE(page[P_NOAD], PTE_V | PTE_R | PTE_W);
    l0[P_NONLEAF] = NEXT(page[P_NONLEAF]);               /* pointer at level 0 */
    l0[P_UXO]  = PTE(page[P_UXO], PTE_V | PTE_X | PTE_A | PTE_U);
    l0[P_RX]   = PTE(page[P_RX], PTE_V | PTE_R | PTE_X | PTE_A);

    /* "li a0, 0x76" split across two VA-adjacent pages whose physical pages
     * are in the opposite order, then "ret" */
    u32 li = 0x00000513u | (0x76u << 20);
    *(uint16_t *)&page[P_ST1][0xffe] = (uint16_t)li;
    *(uint16_t *)&page[P_ST0][0] = (uint16_t)(li >> 16);
    *(u32 *)&page[P_ST0][2] = CODE_RET;
    /* same first half, but the next page is unmapped */
    *(uint16_t *)&page[P_ST2][0xffe] = (uint16_t)li;
    fence_i();
    l0[S_STA]     = PTE(page[P_ST1], PTE_V | PTE_X | PTE_A);
    l0[S_STA + 1] = PTE(page[P_ST0], PTE_V | PTE_X | PTE_A);
    l0[S_STB]     = PTE(page[P_ST2], PTE_V | PTE_X | PTE_A);
}

static void sv39_on(void)
{
    csr_write(satp, (8ul << 60) | ((u64)root >> 12));
    asm volatile("sfence.vma" ::: "memory");
}

static void paging_off(void)
{
    csr_write(satp, 0);
    asm volatile("sfence.vma" ::: "memory");
}

/* ---- access helpers: print "name: val" or "name: scause=.. stval=.." ---- */
static void report(const char *what, const char *name, u64 val, u64 epc_expect, u64 tval_base)
{
    trap_disarm();
    pr("%s %s: ", what, name);
    if (trap_count) {
        pr("scause=%lx stval=", trap_cause);
        if (tval_base)
            pr("base+%lx", trap_tval - tval_base);
        else
            pr("%lx", trap_tval);
        if (epc_expect)
            pr(" epc-ok=%d", trap_epc == epc_expect);
    } else {
        pr("ok %lx", val);
    }
    pr("\n");
    n += 2;
}

static u64 ld_at(u64 va, u64 *epc)
{
    u64 v = 0xdeadbeef, a;
    trap_arm(1, 4);
    asm volatile(".option push\n.option norvc\n la %1, 1f\n 1: ld %0, 0(%2)\n.option pop"
                 : "+&r"(v), "=&r"(a) : "r"(va) : "memory");
    *epc = a;
    return v;
}

static void st_at(u64 va, u64 val, u64 *epc)
{
    u64 a;
    trap_arm(1, 4);
    asm volatile(".option push\n.option norvc\n la %0, 1f\n 1: sd %1, 0(%2)\n.option pop"
                 : "=&r"(a) : "r"(val), "r"(va) : "memory");
    *epc = a;
}

static u64 fetch_at(u64 va)
{
    trap_arm(1, TRAP_RET_RA);
    /* bind register variables only after the call above (it clobbers them) */
    register u64 a0 asm("a0") = 0xdead;
    register u64 t asm("t1") = va;
    asm volatile("jalr ra, 0(t1)" : "+r"(a0) : "r"(t) : "ra", "memory");
    return a0;
}

static void L(const char *name, u64 va, u64 base)
{
    u64 epc, v = ld_at(va, &epc);
    report("load", name, v, epc, base);
}

static void S(const char *name, u64 va, u64 val, u64 base)
{
    u64 epc;
    st_at(va, val, &epc);
    report("store", name, 0, epc, base);
}

static void F(const char *name, u64 va, u64 base)
{
    u64 v = fetch_at(va);
    report("fetch", name, v, 0, base);
    if (trap_count)
        pr("  sepc==target %d\n", trap_epc == va);
}

static u64 pg(int i) { return TV + (u64)i * 4096; }

static void test_perms(void)
{
    L("ro", pg(P_RO) + 8, 0);
    S("ro", pg(P_RO) + 8, 1, 0);
    L("rw", pg(P_RW) + 16, 0);
    S("rw", pg(P_RW) + 16, 0x1234, 0);
    L("rw readback", pg(P_RW) + 16, 0);
    pr("rw via PA: %lx\n", *(u64 *)&page[P_RW][16]);
    L("xo", pg(P_XO), 0);
    S("xo", pg(P_XO), 0, 0);
    F("xo", pg(P_XO), 0);
    F("nx", pg(P_NX), 0);
    F("rx", pg(P_RX), 0);
    L("rx", pg(P_RX), 0);
    L("inv", pg(P_INV) + 0x18, 0);
    S("inv", pg(P_INV) + 0x18, 0, 0);
    F("inv", pg(P_INV) + 0x18, 0);
    L("w-only (reserved)", pg(P_WO), 0);
    S("w-only (reserved)", pg(P_WO), 0, 0);
    L("reserved bit 54", pg(P_RSV), 0);
    L("non-leaf at level 0", pg(P_NONLEAF), 0);
    L("ppn in hole", pg(P_HOLE) + 0x20, 0);
    S("ppn in hole", pg(P_HOLE) + 0x20, 0, 0);
    n += 2;

    /* MXR: loads from execute-only pages */
    csr_set(sstatus, SSTATUS_MXR);
    L("xo with MXR", pg(P_XO), 0);
    S("xo with MXR", pg(P_XO), 0, 0);
    csr_clear(sstatus, SSTATUS_MXR);

    /* SUM: S access to U pages */
    L("u page without SUM", pg(P_URW) + 8, 0);
    S("u page without SUM", pg(P_URW) + 8, 5, 0);
    csr_set(sstatus, SSTATUS_SUM);
    L("u page with SUM", pg(P_URW) + 8, 0);
    S("u page with SUM", pg(P_URW) + 8, 5, 0);
    L("u page with SUM readback", pg(P_URW) + 8, 0);
    F("u exec page from S with SUM", pg(P_UXO), 0);
    csr_clear(sstatus, SSTATUS_SUM);
    F("u exec page from S", pg(P_UXO), 0);
}

static void test_straddle(void)
{
    u64 va = pg(S_STA) + 0xffe;
    pr("fetch straddling VA-contiguous pages: %lx\n", fetch_at(va));
    trap_disarm();
    va = pg(S_STB) + 0xffe;
    u64 v = fetch_at(va);
    trap_disarm();
    if (trap_count)
        pr("fetch straddling into invalid page: scause=%lx stval=start+%lx sepc=start+%lx\n",
           trap_cause, trap_tval - va, trap_epc - va);
    else
        pr("fetch straddling into invalid page: no trap %lx\n", v);
    n += 4;
}

static void show_pte(const char *name, int i)
{
    pr("  pte %s flags %lx\n", name, l0[i] & 0x3ff);
    n++;
}

static void test_ad(void)
{
    show_pte("noa before", P_NOA);
    L("A=0", pg(P_NOA), 0);
    show_pte("noa after load", P_NOA);
    S("A=1 D=0", pg(P_NOD), 7, 0);
    show_pte("nod after store", P_NOD);
    L("A=0 D=0 load", pg(P_NOAD), 0);
    show_pte("noad after load", P_NOAD);
    S("A=1 D=0 store", pg(P_NOAD), 9, 0);
    show_pte("noad after store", P_NOAD);
    F("X A=0", pg(P_XNOA), 0);
    show_pte("xnoa after fetch", P_XNOA);
    /* A=0 and D=0 on a store at once */
    l0[P_NOA] = PTE(page[P_NOA], PTE_V | PTE_R | PTE_W);
    asm volatile("sfence.vma" ::: "memory");
    S("A=0 D=0 store", pg(P_NOA) + 8, 3, 0);
    show_pte("noa after store", P_NOA);
    /* faulting accesses must not set A/D */
    l0[P_NOA] = PTE(page[P_NOA], PTE_V | PTE_R);
    asm volatile("sfence.vma" ::: "memory");
    S("store to RO A=0", pg(P_NOA), 3, 0);
    show_pte("ro A=0 after faulting store", P_NOA);
    /* non-leaf entries are left alone */
    pr("  root[1] %lx l1[0] %lx\n", root[1] & 0x3ff, l1[0] & 0x3ff);
    n += 2;
}

static void test_super(void)
{
    volatile u64 *pa = (volatile u64 *)MEGA_PA;
    pa[0] = 0xabcdef01;
    pa[0x1ffff0 / 8] = 0x12345;
    L("mega +0", MEGA_VA, 0);
    L("mega +1ffff0", MEGA_VA + 0x1ffff0, 0);
    S("mega +100008", MEGA_VA + 0x100008, 0x777, 0);
    pr("mega via PA: %lx\n", pa[0x100008 / 8]);
    L("mega misaligned", MEGA_BAD + 8, 0);
    S("mega misaligned", MEGA_BAD + 8, 0, 0);
    u64 off = (u64)&page[P_RW][16] - 0x80000000ul;
    L("giga U alias with SUM=0", GIGA_U + off, GIGA_U);
    csr_set(sstatus, SSTATUS_SUM);
    L("giga U alias with SUM=1", GIGA_U + off, GIGA_U);
    csr_clear(sstatus, SSTATUS_SUM);
    L("giga misaligned", GIGA_BAD + 0x10, 0);
    L("high-half alias", HIGH_VA + off, 0);
    /* non-canonical: bits 63..39 not all equal to bit 38 */
    L("non-canonical 0x4000000000", 0x4000000000ul, 0);
    L("non-canonical 0x8000000000", 0x8000000000ul + off, 0);
    L("non-canonical 0xffff7fc000000000", 0xffff7fc000000000ul + off, 0);
    S("non-canonical store", 0x0100000000000000ul, 0, 0);
    F("non-canonical fetch", 0x8000000000ul, 0);
    n += 1;
}

static void test_sfence(void)
{
    L("remap before", pg(P_REMAP), 0);
    l0[P_REMAP] = PTE(page[P_REMAP2], RWAD);
    asm volatile("sfence.vma %0, zero" :: "r"(pg(P_REMAP)) : "memory");
    L("remap after sfence.vma va", pg(P_REMAP), 0);
    l0[P_REMAP] = PTE(page[P_REMAP], RWAD);
    asm volatile("sfence.vma zero, zero" ::: "memory");
    L("remap after sfence.vma all", pg(P_REMAP), 0);
    /* unmap, fence, access faults; map back */
    l0[P_REMAP] = 0;
    asm volatile("sfence.vma %0, zero" :: "r"(pg(P_REMAP)) : "memory");
    L("unmapped after sfence", pg(P_REMAP), 0);
    l0[P_REMAP] = PTE(page[P_REMAP], RWAD);
    asm volatile("sfence.vma zero, %0" :: "r"(0ul) : "memory");
    L("remapped after sfence asid 0", pg(P_REMAP), 0);
}

/* ---- U-mode through the U alias of RAM ---- */
static volatile u64 u_out;
static u64 ustack[512] __attribute__((aligned(16)));

static void u_load(u64 va)
{
    u64 v = 0xdead;
    asm volatile(".option push\n.option norvc\n ld %0, 0(%1)\n.option pop" : "+r"(v) : "r"(va) : "memory");
    u_out = v;
    user_exit(1);
}

static void u_store(u64 va)
{
    asm volatile(".option push\n.option norvc\n sd %0, 0(%0)\n.option pop" :: "r"(va) : "memory");
    u_out = 0x5707e;
    user_exit(2);
}

static void u_fetch(u64 va)
{
    register u64 a0 asm("a0") = 0xdead;
    register u64 t asm("t1") = va;
    asm volatile("jalr ra, 0(t1)" : "+r"(a0) : "r"(t) : "ra", "memory");
    u_out = a0;
    user_exit(3);
}

static void run_u(const char *name, void (*fn)(u64), u64 va, long skip, u64 base)
{
    u64 delta = GIGA_U - 0x80000000ul;
    u_out = 0;
    trap_arm(1, skip);
    run_user((void (*)(u64))((u64)fn + delta), va, (u64)&ustack[512] + delta);
    trap_disarm();
    pr("U %s: ", name);
    if (trap_count) {
        pr("scause=%lx stval=", trap_cause);
        if (base)
            pr("base+%lx", trap_tval - base);
        else
            pr("%lx", trap_tval);
        pr(" SPP=%d", (int)((trap_status >> 8) & 1));
    } else {
        pr("ok");
    }
    pr(" out=%lx\n", u_out);
    n += 3;
}

static void test_user(void)
{
    u64 off = (u64)&page[P_RW][16] - 0x80000000ul;
    run_u("load own alias", u_load, GIGA_U + off, 4, GIGA_U);
    run_u("load S identity", u_load, 0x80000000ul + off, 4, 0x80000000ul);
    run_u("load U page", u_load, pg(P_URW) + 8, 4, 0);
    run_u("store U page", u_store, pg(P_URW) + 0x10, 4, 0);
    run_u("store S ro page", u_store, pg(P_RO), 4, 0);
    run_u("load S page", u_load, pg(P_RW), 4, 0);
    run_u("fetch U x-only page", u_fetch, pg(P_UXO), TRAP_RET_RA, 0);
    run_u("fetch S x page", u_fetch, pg(P_XO), TRAP_RET_RA, 0);
    run_u("load U x-only page", u_load, pg(P_UXO), 4, 0);
    csr_set(sstatus, SSTATUS_MXR);
    run_u("load U x-only page with MXR", u_load, pg(P_UXO), 4, 0);
    csr_clear(sstatus, SSTATUS_MXR);
    run_u("load invalid", u_load, pg(P_INV), 4, 0);
    run_u("load non-canonical", u_load, 0x8000000000ul, 4, 0);
}

/* ---- Sv48: root48[0] reuses the Sv39 root as its level-2 table ---- */
static void test_sv48(void)
{
    memset(root48, 0, sizeof root48);
    memset(l2hi, 0, sizeof l2hi);
    root48[0] = NEXT(root);
    root48[1] = PTE(0, RWAD);                    /* 512 GiB page at VA 0x8000000000 */
    root48[2] = PTE(0x80000000ul, RWAD);         /* misaligned 512 GiB page */
    root48[0x80] = NEXT(l2hi);                   /* VA 0x400000000000 */
    root48[0x1ff] = NEXT(l2hi);                  /* VA 0xffffff8000000000 */
    l2hi[0] = PTE(0x80000000ul, RWAD);
    l2hi[5] = PTE(0x80000000ul, PTE_V | PTE_R);  /* A=0 gigapage */
    csr_write(satp, (9ul << 60) | ((u64)root48 >> 12));
    asm volatile("sfence.vma" ::: "memory");
    pr("sv48 satp mode %lx\n", csr_read(satp) >> 60);
    u64 off = (u64)&page[P_RW][16] - 0x80000000ul;
    L("sv48 4K ro", pg(P_RO) + 8, 0);
    S("sv48 4K ro", pg(P_RO) + 8, 0, 0);
    L("sv48 4K rw", pg(P_RW) + 16, 0);
    L("sv48 tera", 0x8000000000ul + 0x80000000ul + off, 0);
    L("sv48 tera misaligned", 0x10000000000ul + 8, 0);
    L("sv48 0x400000000000", 0x400000000000ul + off, 0);
    L("sv48 0xffffff8000000000", 0xffffff8000000000ul + off, 0);
    L("sv48 gigapage A=0", 0x400000000000ul + (5ul << 30) + off, 0);
    pr("  l2hi[5] flags %lx\n", l2hi[5] & 0x3ff);
    L("sv48 non-canonical 0x800000000000", 0x800000000000ul, 0);
    L("sv48 non-canonical 0xfeff800000000000", 0xfeff800000000000ul, 0);
    L("sv48 unmapped 0x300000000000", 0x300000000000ul, 0);
    n += 2;
    paging_off();
}

int main(void)
{
    begin();
    build();
    sv39_on();
    pr("sv39 satp mode %lx\n", csr_read(satp) >> 60);
    test_perms();
    test_straddle();
    test_ad();
    test_super();
    test_sfence();
    test_user();
    paging_off();
    test_sv48();
    pr("paging: %d values\n", n);
    end();
    return 0;
}
