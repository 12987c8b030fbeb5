/* CSR differential test: csrrw/rs/rc and immediate forms on the S-mode CSRs,
 * fflags/frm/fcsr aliasing, sstatus.FS transitions, counters, satp modes and
 * illegal CSR accesses with their scause/stval. */
#include "rt.h"

static int n;
#define P(name, v) do { pr("%s %lx\n", name, (u64)(v)); n++; } while (0)

static void test_sscratch(void)
{
    u64 a, b, c, d, e;
    csr_write(sscratch, 0x0123456789abcdefull);
    asm volatile("li t0, 0x5555\n"
                 "csrrw %0, sscratch, t0\n"       /* old value */
                 "li t0, 0xf0f0\n"
                 "csrrs %1, sscratch, t0\n"
                 "li t0, 0x1010\n"
                 "csrrc %2, sscratch, t0\n"
                 "csrrs %3, sscratch, x0\n"       /* read only */
                 "csrrc %4, sscratch, x0\n"
                 : "=&r"(a), "=&r"(b), "=&r"(c), "=&r"(d), "=&r"(e) :: "t0");
    P("sscratch rw old", a); P("sscratch rs old", b); P("sscratch rc old", c);
    P("sscratch rs x0", d); P("sscratch rc x0", e);
    asm volatile("csrrwi %0, sscratch, 31\n"
                 "csrrsi %1, sscratch, 0x10\n"   /* already set */
                 "csrrsi %2, sscratch, 0x0\n"
                 "csrrci %3, sscratch, 0x15\n"
                 "csrrwi x0, sscratch, 7\n"
                 "csrr %4, sscratch\n"
                 : "=&r"(a), "=&r"(b), "=&r"(c), "=&r"(d), "=&r"(e));
    P("sscratch rwi old", a); P("sscratch rsi old", b); P("sscratch rsi0", c);
    P("sscratch rci old", d); P("sscratch final", e);
    /* rd == rs1 */
    u64 x = 0xabcdef;
    asm volatile("csrrw %0, sscratch, %0" : "+r"(x));
    P("sscratch rd=rs1 old", x);
    P("sscratch rd=rs1 new", csr_read(sscratch));
    csr_write(sscratch, -1);
    P("sscratch all ones", csr_read(sscratch));
    csr_write(sscratch, 0);
}

#define SSTATUS_SHOW (SSTATUS_SIE | SSTATUS_SPIE | SSTATUS_SPP | SSTATUS_FS | \
                      SSTATUS_SUM | SSTATUS_MXR | (3ul << 32) | (1ul << 63))

static void test_sstatus(void)
{
    u64 saved = csr_read(sstatus);
    /* sie is 0, so setting SIE cannot take an interrupt */
    csr_write(sie, 0);
    csr_set(sstatus, SSTATUS_SIE | SSTATUS_SPIE | SSTATUS_SPP | SSTATUS_SUM | SSTATUS_MXR);
    P("sstatus set bits", csr_read(sstatus) & SSTATUS_SHOW);
    csr_clear(sstatus, SSTATUS_SIE | SSTATUS_SPP | SSTATUS_MXR);
    P("sstatus clear bits", csr_read(sstatus) & SSTATUS_SHOW);
    csr_write(sstatus, saved);
    P("sstatus restored", csr_read(sstatus) & SSTATUS_SHOW);
    P("sstatus UXL", (csr_read(sstatus) >> 32) & 3);

    /* FS: Initial -> Dirty on an FP write; Clean -> Dirty; SD mirrors Dirty */
    csr_clear(sstatus, SSTATUS_FS);
    csr_set(sstatus, 1ul << 13);
    u64 s = csr_read(sstatus);
    P("FS initial", (s >> 13) & 3); P("SD initial", s >> 63);
    asm volatile("fmv.w.x ft0, zero" ::: "ft0");
    s = csr_read(sstatus);
    P("FS after fmv", (s >> 13) & 3); P("SD after fmv", s >> 63);
    csr_clear(sstatus, SSTATUS_FS);
    csr_set(sstatus, 2ul << 13);
    s = csr_read(sstatus);
    P("FS clean", (s >> 13) & 3); P("SD clean", s >> 63);
    csr_write(fflags, 1);
    s = csr_read(sstatus);
    P("FS after fflags write", (s >> 13) & 3); P("SD after fflags write", s >> 63);
    csr_write(fflags, 0);

    /* FS = Off: FP instructions and FP CSRs are illegal */
    csr_clear(sstatus, SSTATUS_FS);
    P("FS off", (csr_read(sstatus) >> 13) & 3);
    trap_arm(1, 4);
    asm volatile(".option push\n.option norvc\nfadd.s ft0, ft1, ft2\n.option pop" ::: "ft0");
    trap_report("fadd with FS=off"); n += 2;
    trap_arm(1, 4);
    asm volatile(".option push\n.option norvc\ncsrr t0, fflags\n.option pop" ::: "t0");
    trap_report("csrr fflags with FS=off"); n += 2;
    trap_arm(1, 4);
    asm volatile(".option push\n.option norvc\nfld ft0, 0(sp)\n.option pop" ::: "ft0");
    trap_report("fld with FS=off"); n += 2;
    P("FS still off", (csr_read(sstatus) >> 13) & 3);
    csr_set(sstatus, 1ul << 13);
}

static void test_sie_sip(void)
{
    csr_write(sie, -1);
    P("sie all (masked 0x222)", csr_read(sie) & 0x222);
    csr_write(sie, 0);
    P("sie zero", csr_read(sie));
    csr_set(sie, SIE_SSIE | SIE_STIE);
    P("sie ssie|stie", csr_read(sie));
    csr_write(sie, 0);

    P("sip ssip before", csr_read(sip) & SIP_SSIP);
    csr_set(sip, SIP_SSIP);
    P("sip ssip set", csr_read(sip) & SIP_SSIP);
    u64 old;
    asm volatile("csrrci %0, sip, 2" : "=r"(old));
    P("sip csrrci old ssip", old & SIP_SSIP);
    P("sip ssip cleared", csr_read(sip) & SIP_SSIP);
    /* STIP and SEIP are read-only in sip */
    u64 before = csr_read(sip) & 0x220;
    csr_set(sip, 0x220);
    P("sip stip/seip unchanged by write", (csr_read(sip) & 0x220) == before);
    csr_clear(sip, 0x220);
    P("sip stip/seip unchanged by clear", (csr_read(sip) & 0x220) == before);
}

static void test_vec_regs(void)
{
    u64 saved = csr_read(stvec);
    csr_write(stvec, 0x80201000);
    P("stvec direct", csr_read(stvec));
    csr_write(stvec, 0x80201001);
    P("stvec vectored", csr_read(stvec));
    csr_write(stvec, 0x80240100);
    P("stvec direct 2", csr_read(stvec));
    csr_write(stvec, saved);

    /* Only even values: the spec says sepc[0] reads as zero, but QEMU 7.2
     * returns odd values unmasked, so odd writes would test the oracle. */
    static const u64 epcs[] = { 0x80200000, 0x80200002, 0x80200004,
                                0xfffffffffffffffe, 0x1234566, 0 };
    for (unsigned i = 0; i < NELEM(epcs); i++) {
        csr_write(sepc, epcs[i]);
        pr("sepc %lx -> %lx\n", epcs[i], csr_read(sepc));
        n++;
    }
    static const u64 causes[] = { 0, 2, 8, 0xd, 0xf, 0x8000000000000001, 0x8000000000000005,
                                  0x8000000000000009 };
    for (unsigned i = 0; i < NELEM(causes); i++) {
        csr_write(scause, causes[i]);
        pr("scause %lx -> %lx\n", causes[i], csr_read(scause));
        n++;
    }
    static const u64 tvals[] = { 0, 0x1234, 0x80200000, 0x3fffffffff, 0xffffffffc0000000 };
    for (unsigned i = 0; i < NELEM(tvals); i++) {
        csr_write(stval, tvals[i]);
        pr("stval %lx -> %lx\n", tvals[i], csr_read(stval));
        n++;
    }
    csr_write(scounteren, 7);
    P("scounteren 7", csr_read(scounteren) & 7);
    csr_write(scounteren, 0);
    P("scounteren 0", csr_read(scounteren) & 7);
    csr_write(scounteren, 7);
}

/* Identity map with 1 GiB leaves: low 4 GiB (UART and RAM). Used as Sv39
 * root and, one level down, from an Sv48 root. */
static u64 pt39[512] __attribute__((aligned(4096)));
static u64 pt48[512] __attribute__((aligned(4096)));

static void test_satp(void)
{
    for (u64 i = 0; i < 4; i++)
        pt39[i] = ((i << 30) >> 2) | 0xcf;         /* V R W X A D */
    pt48[0] = (((u64)pt39 >> 12) << 10) | 1;       /* pointer */

    P("satp initial", csr_read(satp));
    csr_write(satp, 15ul << 60);
    P("satp mode 15 ignored", csr_read(satp));
    csr_write(satp, (1ul << 60) | 0x1234);
    P("satp mode 1 ignored", csr_read(satp));
    u64 v39 = (8ul << 60) | ((u64)pt39 >> 12);
    csr_write(satp, v39);
    asm volatile("sfence.vma" ::: "memory");
    P("satp sv39 readback ok", csr_read(satp) == v39);
    P("satp sv39 mode", csr_read(satp) >> 60);
    P("satp sv39 running, load", *(volatile u64 *)&pt39[2] == pt39[2]);
    csr_write(satp, 15ul << 60);
    P("satp mode 15 ignored while sv39", csr_read(satp) == v39);
    u64 v48 = (9ul << 60) | ((u64)pt48 >> 12);
    csr_write(satp, v48);
    asm volatile("sfence.vma" ::: "memory");
    P("satp sv48 readback ok", csr_read(satp) == v48);
    P("satp sv48 running, load", *(volatile u64 *)&pt39[3] == pt39[3]);
    csr_write(satp, 0);
    asm volatile("sfence.vma" ::: "memory");
    P("satp bare", csr_read(satp));
}

static void test_fcsr(void)
{
    u64 a, b, c;
    csr_write(fcsr, 0xff);
    P("fcsr 0xff: fflags", csr_read(fflags)); P("frm", csr_read(frm)); P("fcsr", csr_read(fcsr));
    csr_write(frm, 2);
    P("frm=2: fcsr", csr_read(fcsr));
    csr_write(fflags, 3);
    P("fflags=3: fcsr", csr_read(fcsr));
    csr_write(fcsr, 0xfff);
    P("fcsr 0xfff", csr_read(fcsr));
    csr_write(fflags, 0xff);
    P("fflags 0xff", csr_read(fflags));
    csr_write(frm, 0xff);
    P("frm 0xff", csr_read(frm));
    P("fcsr now", csr_read(fcsr));
    csr_write(fcsr, 0);
    asm volatile("csrrsi %0, fflags, 4\n csrrsi %1, fflags, 0x11\n csrrci %2, fflags, 1"
                 : "=&r"(a), "=&r"(b), "=&r"(c));
    P("fflags rsi old", a); P("fflags rsi2 old", b); P("fflags rci old", c);
    P("fflags final", csr_read(fflags));
    asm volatile("fsrmi %0, 3\n frrm %1\n fsflagsi %2, 0x1f" : "=&r"(a), "=&r"(b), "=&r"(c));
    P("fsrmi old", a); P("frrm", b); P("fsflagsi old", c);
    P("fcsr after", csr_read(fcsr));
    /* an FP op accrues flags on top of existing ones */
    csr_write(fcsr, 0x02);
    asm volatile("li t0, 0x3f800000\n fmv.w.x ft0, t0\n li t0, 0x40400000\n fmv.w.x ft1, t0\n"
                 "fdiv.s ft2, ft0, ft1" ::: "t0", "ft0", "ft1", "ft2");
    P("accrued fflags", csr_read(fflags));
    csr_write(fcsr, 0);
}

static void test_counters(void)
{
    u64 t0 = csr_read(time), c0 = csr_read(cycle), i0 = csr_read(instret);
    u64 t1 = t0, c1, i1;
    for (int k = 0; k < 100000 && t1 == t0; k++)
        t1 = csr_read(time);
    c1 = csr_read(cycle);
    i1 = csr_read(instret);
    P("time nonzero", t0 != 0);
    P("time advances", t1 > t0);
    P("cycle advances", c1 > c0);
    P("instret advances", i1 > i0);
    u64 r;
    asm volatile("rdtime %0" : "=r"(r));
    P("rdtime >= t1", r >= t1);
    /* csrrs/csrrc with x0 and csrrsi with 0 do not write: legal on read-only */
    asm volatile("csrrs %0, time, x0\n csrrc %0, cycle, x0\n csrrsi %0, instret, 0\n csrrci %0, time, 0"
                 : "=r"(r));
    P("read-only reads ok", 1);

    /* stimecmp (Sstc) holds 64 bits */
    csr_write(stimecmp, -1);
    P("stimecmp", csr_read(stimecmp));
}

#define TRY(desc, insn) do {                                                   \
        u64 __v = 0x5a5a, __a;                                                 \
        trap_arm(1, 4);                                                        \
        asm volatile(".option push\n.option norvc\n"                           \
                     "1: " insn "\n"                                           \
                     "la %1, 1b\n"                                             \
                     ".option pop"                                             \
                     : "+r"(__v), "=&r"(__a) :: "memory");                      \
        trap_disarm();                                                         \
        pr_trap_outcome(desc, __a);                                            \
        n += 3;                                                                \
    } while (0)

static void test_illegal(void)
{
    TRY("csrr mstatus", "csrr %0, mstatus");
    TRY("csrw mscratch", "csrw mscratch, %0");
    TRY("csrr mepc", "csrr %0, mepc");
    TRY("csrr mhartid", "csrr %0, mhartid");
    TRY("csrr mie", "csrr %0, mie");
    TRY("csrr medeleg", "csrr %0, medeleg");
    TRY("csrs mip", "csrs mip, %0");
    TRY("csrw cycle", "csrw cycle, %0");
    TRY("csrw time", "csrw time, %0");
    TRY("csrrwi instret 0", "csrrwi %0, instret, 0");
    TRY("csrrsi time 1", "csrrsi %0, time, 1");
    TRY("csrrc cycle t", "csrrc %0, cycle, %0");
    TRY("csrr unassigned 0x1c0", "csrr %0, 0x1c0");
    TRY("csrw unassigned 0x5c0", "csrw 0x5c0, %0");
    TRY("csrr cycle (legal)", "csrr %0, cycle");
    TRY("csrr sstatus (legal)", "csrr %0, sstatus");
}

int main(void)
{
    begin();
    test_sscratch();
    test_sstatus();
    test_sie_sip();
    test_vec_regs();
    test_satp();
    test_fcsr();
    test_counters();
    test_illegal();
    pr("csr: %d values\n", n);
    end();
    return 0;
}
