/* RV64I differential test: ALU ops (incl. *W and masked shifts), LUI/AUIPC,
 * branches, loads/stores of all widths (misaligned too), JAL/JALR, x0, fence.i
 * on self-modifying code. */
#include "rt.h"

static const u64 V[] = {
    0, 1, 31, 32, 63, 0xffffffffffffffff, 0xfffffffe,
    0x7fffffff, 0x80000000, 0xffffffff,
    0x7fffffffffffffff, 0x8000000000000000, 0x123456789abcdef0,
    0xfedcba9876543211,
};
#define NV NELEM(V)

#define RR(op) \
    static u64 f_##op(u64 a, u64 b) { u64 r; asm volatile(#op " %0, %1, %2" : "=r"(r) : "r"(a), "r"(b)); return r; }
RR(add) RR(sub) RR(sll) RR(srl) RR(sra) RR(slt) RR(sltu) RR(xor) RR(or) RR(and)
RR(addw) RR(subw) RR(sllw) RR(srlw) RR(sraw)

static const struct { const char *name; u64 (*fn)(u64, u64); } rr_ops[] = {
#define E(op) { #op, f_##op },
    E(add) E(sub) E(sll) E(srl) E(sra) E(slt) E(sltu) E(xor) E(or) E(and)
    E(addw) E(subw) E(sllw) E(srlw) E(sraw)
#undef E
};

static int nvals;

static void test_rr(void)
{
    for (unsigned k = 0; k < NELEM(rr_ops); k++)
        for (unsigned i = 0; i < NV; i++)
            for (unsigned j = 0; j < NV; j++) {
                pr("%s %02x %02x %016lx\n", rr_ops[k].name, i, j, rr_ops[k].fn(V[i], V[j]));
                nvals++;
            }
}

#define TI(op, imm) do {                                                        \
        for (unsigned i = 0; i < NV; i++) {                                     \
            u64 r;                                                              \
            asm volatile(#op " %0, %1, %2" : "=r"(r) : "r"(V[i]), "i"(imm));    \
            pr("%s %02x %s %016lx\n", #op, i, #imm, r);                          \
            nvals++;                                                            \
        }                                                                       \
    } while (0)
#define TI6(op) TI(op, 0); TI(op, 1); TI(op, -1); TI(op, 2047); TI(op, -2048); TI(op, 0x555)

static void test_imm(void)
{
    TI6(addi); TI6(slti); TI6(sltiu); TI6(xori); TI6(ori); TI6(andi);
    TI(addiw, 0); TI(addiw, 1); TI(addiw, -1); TI(addiw, 2047); TI(addiw, -2048);
    TI(slli, 0); TI(slli, 1); TI(slli, 31); TI(slli, 32); TI(slli, 63);
    TI(srli, 0); TI(srli, 1); TI(srli, 31); TI(srli, 32); TI(srli, 63);
    TI(srai, 0); TI(srai, 1); TI(srai, 31); TI(srai, 32); TI(srai, 63);
    TI(slliw, 0); TI(slliw, 1); TI(slliw, 15); TI(slliw, 31);
    TI(srliw, 0); TI(srliw, 1); TI(srliw, 15); TI(srliw, 31);
    TI(sraiw, 0); TI(sraiw, 1); TI(sraiw, 15); TI(sraiw, 31);
}

#define TLUI(imm) do {                                                          \
        u64 r, d;                                                               \
        asm volatile("lui %0, %1" : "=r"(r) : "i"(imm));                        \
        asm volatile(".option push\n.option norvc\n"                            \
                     "1: auipc %0, %1\n"                                        \
                     "la t0, 1b\n sub %0, %0, t0\n.option pop"                  \
                     : "=r"(d) : "i"(imm) : "t0");                              \
        pr("lui %s %016lx auipc-pc %016lx\n", #imm, r, d);                       \
        nvals += 2;                                                             \
    } while (0)

static void test_lui(void)
{
    TLUI(0); TLUI(1); TLUI(0x7ffff); TLUI(0x80000); TLUI(0xfffff); TLUI(0x12345);
    TLUI(0xabcde);
}

static unsigned branches(u64 a, u64 b)
{
    u64 m;
    /* Bit set = branch NOT taken (fell through to the ori). */
    asm volatile("li %0, 0\n"
                 "beq  %1, %2, 1f\n ori %0, %0, 1\n1:\n"
                 "bne  %1, %2, 1f\n ori %0, %0, 2\n1:\n"
                 "blt  %1, %2, 1f\n ori %0, %0, 4\n1:\n"
                 "bge  %1, %2, 1f\n ori %0, %0, 8\n1:\n"
                 "bltu %1, %2, 1f\n ori %0, %0, 16\n1:\n"
                 "bgeu %1, %2, 1f\n ori %0, %0, 32\n1:\n"
                 : "=&r"(m) : "r"(a), "r"(b));
    return (unsigned)m;
}

static void test_branch(void)
{
    for (unsigned i = 0; i < NV; i++) {
        pr("br %02x:", i);
        for (unsigned j = 0; j < NV; j++) {
            pr(" %02x", branches(V[i], V[j]));
            nvals++;
        }
        pr("\n");
    }
    /* backward branch loop: count down */
    u64 n = 0, c = 37;
    asm volatile("1: addi %0, %0, 3\n addi %1, %1, -1\n bnez %1, 1b" : "+r"(n), "+r"(c));
    pr("loop %lx\n", n);
    nvals++;
}

static uint8_t buf[64] __attribute__((aligned(16)));
static uint8_t pgbuf[8192] __attribute__((aligned(4096)));

static void fill(uint8_t *p, unsigned n)
{
    for (unsigned k = 0; k < n; k++)
        p[k] = (uint8_t)(k * 0x37 + 0x81);
}

#define LD(op, off, base) ({ u64 __r; asm volatile(#op " %0, " #off "(%1)" : "=r"(__r) : "r"(base) : "memory"); __r; })

static void test_loads(void)
{
    fill(buf, sizeof buf);
    for (unsigned o = 0; o < 9; o++) {
        uint8_t *p = buf + 8 + o;
        pr("ld+%x lb %016lx lbu %016lx lh %016lx lhu %016lx\n", o,
           LD(lb, 0, p), LD(lbu, 0, p), LD(lh, 0, p), LD(lhu, 0, p));
        pr("ld+%x lw %016lx lwu %016lx ld %016lx\n", o,
           LD(lw, 0, p), LD(lwu, 0, p), LD(ld, 0, p));
        pr("ld+%x neg lb %016lx lh %016lx lw %016lx ld %016lx\n", o,
           LD(lb, -8, p), LD(lh, -7, p), LD(lw, -5, p), LD(ld, -8, p));
        nvals += 11;
    }
    uint8_t *q = buf + 4;
    pr("ld imm lbu %016lx ld %016lx\n", LD(lbu, 59, q - 0), LD(ld, 2040, (uintptr_t)q - 2040 + 8));
    nvals += 2;
    /* misaligned across a page boundary */
    fill(pgbuf, sizeof pgbuf);
    for (unsigned o = 4089; o < 4096; o++) {
        uint8_t *p = pgbuf + o;
        pr("pgx+%x lh %016lx lw %016lx lwu %016lx ld %016lx\n", o,
           LD(lh, 0, p), LD(lw, 0, p), LD(lwu, 0, p), LD(ld, 0, p));
        nvals += 4;
    }
}

#define ST(op, v, base) asm volatile(#op " %0, 0(%1)" :: "r"(v), "r"(base) : "memory")

static void dump16(const char *what, unsigned o, const uint8_t *p)
{
    pr("%s+%x", what, o);
    for (unsigned k = 0; k < 16; k++)
        pr(" %02x", p[k]);
    pr("\n");
    nvals += 16;
}

static void test_stores(void)
{
    const u64 v = 0x0123456789abcdefull;
    for (unsigned o = 0; o < 9; o++) {
        memset(buf, 0xee, sizeof buf);
        ST(sb, v, buf + o);
        dump16("sb", o, buf);
        memset(buf, 0xee, sizeof buf);
        ST(sh, v, buf + o);
        dump16("sh", o, buf);
        memset(buf, 0xee, sizeof buf);
        ST(sw, v, buf + o);
        dump16("sw", o, buf);
        memset(buf, 0xee, sizeof buf);
        ST(sd, v, buf + o);
        dump16("sd", o, buf);
    }
    /* store then load back with all widths through the same address */
    memset(buf, 0, sizeof buf);
    ST(sd, 0xfedcba9876543210ull, buf + 3);
    ST(sh, 0x8001ull, buf + 5);
    pr("mix ld %016lx lw %016lx lhu %016lx\n", LD(ld, 0, buf + 3), LD(lw, 0, buf + 1),
       LD(lhu, 0, buf + 4));
    nvals += 3;
    /* misaligned stores across a page boundary */
    for (unsigned o = 4089; o < 4096; o++) {
        memset(pgbuf + 4080, 0x11, 32);
        ST(sd, v, pgbuf + o);
        ST(sh, 0xa5c3ull, pgbuf + o - 3);
        dump16("pgx", o, pgbuf + 4088);
    }
}

static void test_jumps(void)
{
    u64 link, reached;
    /* jalr to an odd address: bit 0 is cleared, link = pc + 4 */
    asm volatile(".option push\n.option norvc\n"
                 "la t0, 1f\n addi t0, t0, 1\n"
                 "jalr t1, 0(t0)\n"
                 "2: li %1, 0\n j 3f\n"
                 "1: li %1, 1\n"
                 "3: la t2, 2b\n sub %0, t1, t2\n"
                 ".option pop"
                 : "=r"(link), "=r"(reached) :: "t0", "t1", "t2");
    pr("jalr odd: link-ret %lx reached %lx\n", link, reached);
    /* negative offset, odd sum */
    asm volatile(".option push\n.option norvc\n"
                 "la t0, 1f\n addi t0, t0, 7\n"
                 "jalr t1, -6(t0)\n"
                 "2: li %1, 0\n j 3f\n"
                 "1: li %1, 1\n"
                 "3: la t2, 2b\n sub %0, t1, t2\n"
                 ".option pop"
                 : "=r"(link), "=r"(reached) :: "t0", "t1", "t2");
    pr("jalr neg: link-ret %lx reached %lx\n", link, reached);
    /* rd == rs1: target uses the old value */
    asm volatile(".option push\n.option norvc\n"
                 "la t0, 1f\n"
                 "jalr t0, 0(t0)\n"
                 "2: li %1, 0\n j 3f\n"
                 "1: li %1, 1\n"
                 "3: la t2, 2b\n sub %0, t0, t2\n"
                 ".option pop"
                 : "=r"(link), "=r"(reached) :: "t0", "t2");
    pr("jalr rd=rs1: link-ret %lx reached %lx\n", link, reached);
    /* jal forward and backward */
    asm volatile(".option push\n.option norvc\n"
                 "j 4f\n"
                 "5: la t2, 6f\n sub %0, t1, t2\n li %1, 1\n j 7f\n"
                 "4: jal t1, 5b\n"
                 "6: li %1, 0\n"
                 "7:\n"
                 ".option pop"
                 : "=r"(link), "=r"(reached) :: "t1", "t2");
    pr("jal back: link-ret %lx reached %lx\n", link, reached);
    asm volatile(".option push\n.option norvc\n"
                 "jal t1, 1f\n"
                 "2: li %1, 0\n j 3f\n"
                 "1: li %1, 1\n"
                 "3: la t2, 2b\n sub %0, t1, t2\n"
                 ".option pop"
                 : "=r"(link), "=r"(reached) :: "t1", "t2");
    pr("jal fwd: link-ret %lx reached %lx\n", link, reached);
    /* writes to x0 are discarded */
    u64 z;
    asm volatile("addi x0, x0, 5\n lui x0, 0x12345\n jal x0, 1f\n 1: mv %0, x0" : "=r"(z));
    pr("x0 %lx\n", z);
    nvals += 11;
}

/* Code patched at run time: "addi a0, zero, N; ret". */
static u32 code[4] __attribute__((aligned(16)));

static void test_fencei(void)
{
    u64 (*fn)(void) = (u64 (*)(void))(uintptr_t)code;
    for (int n = 1; n <= 3; n++) {
        code[0] = 0x00000513u | ((u32)(n * 111) << 20);    /* addi a0, zero, n*111 */
        code[1] = 0x00008067u;                              /* ret */
        fence_i();
        pr("smc %d -> %lx\n", n, fn());
        nvals++;
    }
    asm volatile("fence\n fence rw, rw\n fence.tso\n fence iorw, iorw\n fence w, r" ::: "memory");
}

int main(void)
{
    begin();
    test_rr();
    test_imm();
    test_lui();
    test_branch();
    test_loads();
    test_stores();
    test_jumps();
    test_fencei();
    pr("int: %d values\n", nvals);
    end();
    return 0;
}
