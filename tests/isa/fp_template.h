/* Shared body of fp.c (F) and fpd.c (D): one function per instruction and
 * rounding mode, swept over the includer's operand tables, printing
 * result/fflags pairs. The includer defines FT, FMVF/FMVX, FX, FMASK, tables. */
#include "rt.h"

static u64 g_fl;   /* fflags raised by the last op (read and cleared) */
static int nvals;

#define FPASM(body, r, a, b, c)                                               \
    asm volatile("csrwi fflags, 0\n"                                          \
                 FMVF " ft0, %2\n" FMVF " ft1, %3\n" FMVF " ft2, %4\n"        \
                 body "\n"                                                    \
                 "csrrw %1, fflags, zero"                                     \
                 : "=&r"(r), "=&r"(g_fl) : "r"(a), "r"(b), "r"(c)             \
                 : "ft0", "ft1", "ft2", "ft3", "memory")
#define F3(name, body) \
    static u64 name(u64 a, u64 b, u64 c) { u64 r; FPASM(body, r, a, b, c); return r; }
typedef u64 (*fop)(u64, u64, u64);

#define ALLRM(X, op) X(op, rne) X(op, rtz) X(op, rdn) X(op, rup) X(op, rmm) X(op, dyn)
#define RMTAB(op) { op##_rne, op##_rtz, op##_rdn, op##_rup, op##_rmm, op##_dyn }

#define DEF_BIN(op, rm) F3(op##_##rm, "f" #op "." FT " ft3, ft0, ft1, " #rm "\n" FMVX " %0, ft3")
#define DEF_UN(op, rm)  F3(op##_##rm, "f" #op "." FT " ft3, ft0, " #rm "\n" FMVX " %0, ft3")
#define DEF_FMA(op, rm) F3(op##_##rm, "f" #op "." FT " ft3, ft0, ft1, ft2, " #rm "\n" FMVX " %0, ft3")
#define DEF_CVTI(t, rm) F3(cvti_##t##_##rm, "fcvt." #t "." FT " %0, ft0, " #rm)
/* int -> float via .insn: the assembler refuses an rm on the exact
 * fcvt.d.w/wu, but the field exists and the test wants all encodings */
#define XSTR_(x) #x
#define XSTR(x) XSTR_(x)
#define RM_rne 0
#define RM_rtz 1
#define RM_rdn 2
#define RM_rup 3
#define RM_rmm 4
#define RM_dyn 7
#define CVTF_w 0
#define CVTF_wu 1
#define CVTF_l 2
#define CVTF_lu 3
#define DEF_CVTF(t, rm) F3(cvtf_##t##_##rm, ".insn r 0x53, " XSTR(RM_##rm) ", " XSTR(FUNCT7_CVTF) \
                           ", ft3, %2, x" XSTR(CVTF_##t) "\n" FMVX " %0, ft3")

ALLRM(DEF_BIN, add) ALLRM(DEF_BIN, sub) ALLRM(DEF_BIN, mul) ALLRM(DEF_BIN, div)
ALLRM(DEF_UN, sqrt)
ALLRM(DEF_FMA, madd) ALLRM(DEF_FMA, msub) ALLRM(DEF_FMA, nmadd) ALLRM(DEF_FMA, nmsub)
ALLRM(DEF_CVTI, w) ALLRM(DEF_CVTI, wu) ALLRM(DEF_CVTI, l) ALLRM(DEF_CVTI, lu)
ALLRM(DEF_CVTF, w) ALLRM(DEF_CVTF, wu) ALLRM(DEF_CVTF, l) ALLRM(DEF_CVTF, lu)

F3(f_min,   "fmin."   FT " ft3, ft0, ft1\n" FMVX " %0, ft3")
F3(f_max,   "fmax."   FT " ft3, ft0, ft1\n" FMVX " %0, ft3")
F3(f_sgnj,  "fsgnj."  FT " ft3, ft0, ft1\n" FMVX " %0, ft3")
F3(f_sgnjn, "fsgnjn." FT " ft3, ft0, ft1\n" FMVX " %0, ft3")
F3(f_sgnjx, "fsgnjx." FT " ft3, ft0, ft1\n" FMVX " %0, ft3")
F3(f_feq,   "feq."    FT " %0, ft0, ft1")
F3(f_flt,   "flt."    FT " %0, ft0, ft1")
F3(f_fle,   "fle."    FT " %0, ft0, ft1")
F3(f_class, "fclass." FT " %0, ft0")

static const char *const rmname[6] = { "rne", "rtz", "rdn", "rup", "rmm", "dyn" };

/* Print one row: name, row index, then result/flags for every column. */
static void row_begin(const char *op, const char *rm, int frm, unsigned i)
{
    pr("%s.%s", op, rm);
    if (frm >= 0)
        pr("%d", frm);
    pr(" %02x:", i);
}

static void val(u64 r, int isfp)
{
    if (isfp)
        pr(" " FX "/%02lx", r & FMASK, g_fl);
    else
        pr(" %lx/%02lx", r, g_fl);
    nvals += 2;
}

/* Binary op over table t (n entries) as rows x columns; frm>=0 sets frm. */
static void sweep2(const char *op, const char *rm, int frm, fop fn,
                   const u64 *t, unsigned n, int isfp)
{
    for (unsigned i = 0; i < n; i++) {
        row_begin(op, rm, frm, i);
        for (unsigned j = 0; j < n; j++) {
            if (frm >= 0)
                csr_write(frm, frm);
            val(fn(t[i], t[j], 0), isfp);
        }
        pr("\n");
    }
}

/* Unary op over table t on one line. */
static void sweep1(const char *op, const char *rm, int frm, fop fn,
                   const u64 *t, unsigned n, int isfp)
{
    row_begin(op, rm, frm, 0);
    for (unsigned i = 0; i < n; i++) {
        if (frm >= 0)
            csr_write(frm, frm);
        val(fn(t[i], 0, 0), isfp);
    }
    pr("\n");
}

static void sweep3(const char *op, const char *rm, int frm, fop fn,
                   const u64 *t, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        for (unsigned j = 0; j < n; j++) {
            row_begin(op, rm, frm, i * 16 + j);
            for (unsigned k = 0; k < n; k++) {
                if (frm >= 0)
                    csr_write(frm, frm);
                val(fn(t[i], t[j], t[k]), 1);
            }
            pr("\n");
        }
}

/* Static rounding modes 0..4 on table t, then dyn with frm = 0..4. */
static void rm_sweep2(const char *op, const fop fns[6], const u64 *t, unsigned n)
{
    for (int rm = 1; rm < 5; rm++)
        sweep2(op, rmname[rm], -1, fns[rm], t, n, 1);
    for (int frm = 0; frm < 5; frm++)
        sweep2(op, "dyn", frm, fns[5], t, n, 1);
}

static void test_arith(void)
{
    static const struct { const char *name; fop fns[6]; } bins[] = {
        { "fadd", RMTAB(add) }, { "fsub", RMTAB(sub) },
        { "fmul", RMTAB(mul) }, { "fdiv", RMTAB(div) },
    };
    csr_write(frm, 0);
    for (unsigned k = 0; k < NELEM(bins); k++) {
        sweep2(bins[k].name, "rne", -1, bins[k].fns[0], FULL, NELEM(FULL), 1);
        rm_sweep2(bins[k].name, bins[k].fns, RMV, NELEM(RMV));
    }
    static const fop sq[6] = RMTAB(sqrt);
    sweep1("fsqrt", "rne", -1, sq[0], FULL, NELEM(FULL), 1);
    for (int rm = 1; rm < 5; rm++)
        sweep1("fsqrt", rmname[rm], -1, sq[rm], RMV, NELEM(RMV), 1);
    for (int frm = 0; frm < 5; frm++)
        sweep1("fsqrt", "dyn", frm, sq[5], RMV, NELEM(RMV), 1);
}

static void test_nonrm(void)
{
    csr_write(frm, 0);
    sweep2("fmin", "-", -1, f_min, FULL, NELEM(FULL), 1);
    sweep2("fmax", "-", -1, f_max, FULL, NELEM(FULL), 1);
    sweep2("fsgnj", "-", -1, f_sgnj, FULL, NELEM(FULL), 1);
    sweep2("fsgnjn", "-", -1, f_sgnjn, FULL, NELEM(FULL), 1);
    sweep2("fsgnjx", "-", -1, f_sgnjx, FULL, NELEM(FULL), 1);
    sweep2("feq", "-", -1, f_feq, FULL, NELEM(FULL), 0);
    sweep2("flt", "-", -1, f_flt, FULL, NELEM(FULL), 0);
    sweep2("fle", "-", -1, f_fle, FULL, NELEM(FULL), 0);
    sweep1("fclass", "-", -1, f_class, FULL, NELEM(FULL), 0);
    sweep1("fclass", "-", -1, f_class, CVT, NELEM(CVT), 0);
}

static void test_fma(void)
{
    static const struct { const char *name; fop fns[6]; } fmas[] = {
        { "fmadd", RMTAB(madd) }, { "fmsub", RMTAB(msub) },
        { "fnmadd", RMTAB(nmadd) }, { "fnmsub", RMTAB(nmsub) },
    };
    csr_write(frm, 0);
    for (unsigned k = 0; k < NELEM(fmas); k++) {
        sweep3(fmas[k].name, "rne", -1, fmas[k].fns[0], FMAV, NELEM(FMAV));
        for (int rm = 1; rm < 5; rm++)
            sweep3(fmas[k].name, rmname[rm], -1, fmas[k].fns[rm], FMARM, NELEM(FMARM));
        sweep3(fmas[k].name, "dyn", 3, fmas[k].fns[5], FMARM, NELEM(FMARM));
        /* inf * 0 + qNaN: invalid even though the addend is a quiet NaN */
        row_begin(fmas[k].name, "inf*0+qnan", -1, 0);
        val(fmas[k].fns[0](F_INF, F_ZERO, F_QNAN), 1);
        val(fmas[k].fns[0](F_ZERO, F_NINF, F_QNAN), 1);
        val(fmas[k].fns[0](F_QNAN, F_ZERO, F_INF), 1);
        pr("\n");
    }
}

static void test_cvt(void)
{
    static const struct { const char *name; fop fns[6]; } toi[] = {
        { "fcvt.w", RMTAB(cvti_w) }, { "fcvt.wu", RMTAB(cvti_wu) },
        { "fcvt.l", RMTAB(cvti_l) }, { "fcvt.lu", RMTAB(cvti_lu) },
    }, tof[] = {
        { "fcvt.from.w", RMTAB(cvtf_w) }, { "fcvt.from.wu", RMTAB(cvtf_wu) },
        { "fcvt.from.l", RMTAB(cvtf_l) }, { "fcvt.from.lu", RMTAB(cvtf_lu) },
    };
    csr_write(frm, 0);
    for (unsigned k = 0; k < NELEM(toi); k++) {
        for (int rm = 0; rm < 5; rm++)
            sweep1(toi[k].name, rmname[rm], -1, toi[k].fns[rm], CVT, NELEM(CVT), 0);
        for (int frm = 0; frm < 5; frm++)
            sweep1(toi[k].name, "dyn", frm, toi[k].fns[5], CVT, NELEM(CVT), 0);
    }
    for (unsigned k = 0; k < NELEM(tof); k++) {
        for (int rm = 0; rm < 5; rm++)
            sweep1(tof[k].name, rmname[rm], -1, tof[k].fns[rm], INTS, NELEM(INTS), 1);
        sweep1(tof[k].name, "dyn", 2, tof[k].fns[5], INTS, NELEM(INTS), 1);
    }
}

/* Reserved rounding modes: rm field 5 or 6 in the instruction, or frm 5..7
 * with a dynamic-rm instruction, is an illegal instruction. frm itself
 * holds any 3-bit value. Only scause is printed: whether stval carries the
 * instruction bits for this runtime-detected case varies. */
static void test_bad_rm(void)
{
    u64 r;
    for (int frm = 5; frm < 8; frm++) {
        csr_write(frm, frm);
        pr("frm=%d reads %lx\n", frm, csr_read(frm));
        trap_arm(1, 4);
        r = add_dyn(FULL[2], FULL[2], 0);
        trap_disarm();
        pr("dyn add with frm=%d: %s scause=%lx\n", frm, trap_count ? "trap" : "no trap", trap_cause);
        trap_arm(1, 4);
        r = add_rne(FULL[2], FULL[2], 0);
        trap_disarm();
        pr("rne add with frm=%d: %s result " FX "\n", frm, trap_count ? "trap" : "no trap", r & FMASK);
        nvals += 4;
    }
    csr_write(frm, 0);
    trap_arm(1, 4);
    asm volatile(".insn r 0x53, 5, %0, ft3, ft0, ft1" :: "i"(FUNCT7_ADD) : "ft3");
    trap_disarm();
    pr("static rm=5: %s scause=%lx\n", trap_count ? "trap" : "no trap", trap_cause);
    trap_arm(1, 4);
    asm volatile(".insn r 0x53, 6, %0, ft3, ft0, ft1" :: "i"(FUNCT7_ADD) : "ft3");
    trap_disarm();
    pr("static rm=6: %s scause=%lx\n", trap_count ? "trap" : "no trap", trap_cause);
    nvals += 2;
    (void)r;
}

static void fp_common(void)
{
    test_arith();
    test_nonrm();
    test_fma();
    test_cvt();
    test_bad_rm();
}
