/* RVC differential test: each RV64C instruction via explicit c.* mnemonics
 * over operand tables, c.jalr links, and 32-bit instructions at pc%4==2 or
 * straddling a page. */
#include "rt.h"

static const u64 V[] = {
    0, 1, 0xffffffffffffffff, 0x7fffffff, 0x80000000, 0xffffffff,
    0x7fffffffffffffff, 0x8000000000000000, 0x123456789abcdef0, 0xfedcba9876543211,
};
#define NV NELEM(V)
static int n;

#define RVC(s) ".option push\n.option rvc\n" s "\n.option pop\n"

/* one-register ops with an immediate, on a0 */
#define C1(insn, imm) do {                                                     \
        pr("%s %s:", insn, #imm);                                              \
        for (unsigned i = 0; i < NV; i++) {                                    \
            register u64 r asm("a0") = V[i];                                   \
            asm volatile(RVC(insn " a0, %1") : "+r"(r) : "i"(imm));            \
            pr(" %lx", r);                                                     \
            n++;                                                               \
        }                                                                      \
        pr("\n");                                                              \
    } while (0)

/* two-register ops a0 = a0 op a1 */
#define C2(insn) do {                                                          \
        for (unsigned i = 0; i < NV; i++) {                                    \
            pr("%s %02x:", insn, i);                                           \
            for (unsigned j = 0; j < NV; j++) {                                \
                register u64 r asm("a0") = V[i];                               \
                register u64 s asm("a1") = V[j];                               \
                asm volatile(RVC(insn " a0, a1") : "+r"(r) : "r"(s));          \
                pr(" %lx", r);                                                 \
                n++;                                                           \
            }                                                                  \
            pr("\n");                                                          \
        }                                                                      \
    } while (0)

static void test_alu(void)
{
    C1("c.addi", 1); C1("c.addi", -1); C1("c.addi", 31); C1("c.addi", -32);
    C1("c.addiw", 0); C1("c.addiw", 1); C1("c.addiw", -1); C1("c.addiw", 31); C1("c.addiw", -32);
    C1("c.slli", 1); C1("c.slli", 31); C1("c.slli", 32); C1("c.slli", 63);
    C1("c.srli", 1); C1("c.srli", 31); C1("c.srli", 32); C1("c.srli", 63);
    C1("c.srai", 1); C1("c.srai", 31); C1("c.srai", 32); C1("c.srai", 63);
    C1("c.andi", 0); C1("c.andi", 1); C1("c.andi", -1); C1("c.andi", 31); C1("c.andi", -32);
    C2("c.sub"); C2("c.xor"); C2("c.or"); C2("c.and"); C2("c.subw"); C2("c.addw");
    C2("c.add"); C2("c.mv");

    /* c.li / c.lui immediates; c.lui's 6-bit field is sign-extended */
    u64 r[10];
    asm volatile(RVC("c.li a0, 0\n mv %0, a0\n c.li a0, 31\n mv %1, a0\n c.li a0, -32\n mv %2, a0\n"
                     "c.li a0, -1\n mv %3, a0\n"
                     "c.lui a0, 1\n mv %4, a0\n c.lui a0, 31\n mv %5, a0\n"
                     "c.lui a0, 0xfffe0\n mv %6, a0\n c.lui a0, 0xfffff\n mv %7, a0\n"
                     "c.lui a0, 0x10\n mv %8, a0\n c.li s0, 17\n c.lui a5, 0xffff0\n sub %9, a5, s0")
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]), "=r"(r[4]), "=r"(r[5]),
                   "=r"(r[6]), "=r"(r[7]), "=r"(r[8]), "=r"(r[9]) :: "a0", "a5", "s0");
    pr("c.li/c.lui:");
    for (int i = 0; i < 10; i++)
        pr(" %lx", r[i]);
    pr("\n");
    n += 10;
}

static void test_sp(void)
{
    u64 d1, d2, d3, d4, d5;
    /* c.addi16sp / c.addi4spn relative to the original sp */
    asm volatile("mv t0, sp\n"
                 RVC("c.addi16sp sp, -512\n sub %0, sp, t0\n"
                     "c.addi4spn a0, sp, 4\n sub %1, a0, t0\n"
                     "c.addi4spn a1, sp, 1020\n sub %2, a1, t0\n"
                     "c.addi16sp sp, 496\n sub %3, sp, t0\n"
                     "c.addi16sp sp, 16\n sub %4, sp, t0")
                 : "=r"(d1), "=r"(d2), "=r"(d3), "=r"(d4), "=r"(d5) :: "t0", "a0", "a1", "memory");
    pr("c.addi16sp/4spn: %lx %lx %lx %lx %lx\n", d1, d2, d3, d4, d5);
    n += 5;
}

static u64 mem[64] __attribute__((aligned(16)));

static void test_mem(void)
{
    for (unsigned i = 0; i < 64; i++)
        mem[i] = 0x8070605040302010ull + i * 0x0101010101010101ull;
    register u64 base asm("a1") = (u64)mem;
    u64 r[8];
    asm volatile(RVC("c.lw a0, 0(a1)\n mv %0, a0\n c.lw a0, 4(a1)\n mv %1, a0\n"
                     "c.lw a0, 124(a1)\n mv %2, a0\n c.ld a0, 0(a1)\n mv %3, a0\n"
                     "c.ld a0, 248(a1)\n mv %4, a0\n c.ld a0, 8(a1)\n mv %5, a0\n"
                     "c.lw a0, 60(a1)\n mv %6, a0\n c.ld a0, 120(a1)\n mv %7, a0")
                 : "=&r"(r[0]), "=&r"(r[1]), "=&r"(r[2]), "=&r"(r[3]), "=&r"(r[4]), "=&r"(r[5]),
                   "=&r"(r[6]), "=&r"(r[7]) : "r"(base) : "a0", "memory");
    pr("c.lw/c.ld:");
    for (int i = 0; i < 8; i++)
        pr(" %lx", r[i]);
    pr("\n");
    n += 8;

    /* register variables only hold across the asm they feed: reload after pr() */
    register u64 base2 asm("a1") = (u64)mem;
    register u64 v asm("a2") = 0xfedcba9876543210ull;
    asm volatile(RVC("c.sw a2, 0(a1)\n c.sw a2, 124(a1)\n c.sd a2, 16(a1)\n c.sd a2, 248(a1)\n"
                     "c.sw a2, 36(a1)")
                 :: "r"(base2), "r"(v) : "memory");
    pr("c.sw/c.sd: %lx %lx %lx %lx %lx %lx\n", mem[0], mem[15], mem[2], mem[31], mem[4], mem[3]);
    n += 6;

    /* sp-relative forms on a scratch frame */
    u64 s[6];
    asm volatile("addi sp, sp, -512\n"
                 "li t0, 0x1122334455667788\n sd t0, 0(sp)\n sd t0, 504(sp)\n"
                 "li t0, -0x76543211\n sd t0, 248(sp)\n sd t0, 8(sp)\n"
                 RVC("c.lwsp a0, 0(sp)\n mv %0, a0\n c.ldsp a0, 504(sp)\n mv %1, a0\n"
                     "c.lwsp a0, 252(sp)\n mv %2, a0\n c.ldsp a0, 8(sp)\n mv %3, a0\n"
                     "c.li a0, -7\n c.swsp a0, 4(sp)\n c.sdsp a0, 496(sp)\n c.swsp a0, 252(sp)\n")
                 "ld %4, 0(sp)\n ld %5, 496(sp)\n ld t0, 248(sp)\n add %5, %5, t0\n"
                 "addi sp, sp, 512\n"
                 : "=&r"(s[0]), "=&r"(s[1]), "=&r"(s[2]), "=&r"(s[3]), "=&r"(s[4]), "=&r"(s[5])
                 :: "a0", "t0", "memory");
    pr("c.*sp:");
    for (int i = 0; i < 6; i++)
        pr(" %lx", s[i]);
    pr("\n");
    n += 6;

    /* FP forms: move bit patterns through f8/f9 */
    static u64 fm[40] __attribute__((aligned(16)));
    for (unsigned i = 0; i < 40; i++)
        fm[i] = 0x7ff0000000000001ull + i;
    register u64 fb asm("a1") = (u64)fm;
    u64 f[5];
    asm volatile(RVC("c.fld fs0, 0(a1)\n c.fld fs1, 248(a1)\n c.fsd fs0, 8(a1)\n c.fsd fs1, 16(a1)\n")
                 "fmv.x.d %0, fs0\n fmv.x.d %1, fs1\n"
                 "addi sp, sp, -512\n"
                 RVC("c.fsdsp fs0, 504(sp)\n c.fsdsp fs1, 0(sp)\n c.fldsp fs0, 0(sp)\n c.fldsp fs1, 504(sp)\n")
                 "addi sp, sp, 512\n"
                 "fmv.x.d %2, fs0\n fmv.x.d %3, fs1\n"
                 : "=&r"(f[0]), "=&r"(f[1]), "=&r"(f[2]), "=&r"(f[3]) : "r"(fb) : "fs0", "fs1", "memory");
    f[4] = fm[1] ^ fm[2];
    pr("c.fld/c.fsd:");
    for (int i = 0; i < 5; i++)
        pr(" %lx", f[i]);
    pr("\n");
    n += 5;
}

static void test_ctrl(void)
{
    u64 link, reached, t;
    /* c.jalr links pc+2 */
    asm volatile("la t0, 1f\n"
                 RVC("c.jalr t0\n")
                 "2: li %1, 0\n j 3f\n"
                 "1: li %1, 1\n"
                 "3: la t1, 2b\n sub %0, ra, t1\n"
                 : "=r"(link), "=r"(reached) :: "t0", "t1", "ra");
    pr("c.jalr: link-ret %lx reached %lx\n", link, reached);
    asm volatile("la t0, 1f\n"
                 RVC("c.jr t0\n")
                 "li %0, 0\n j 3f\n"
                 "1: li %0, 1\n"
                 "3:\n"
                 : "=r"(reached) :: "t0");
    pr("c.jr: reached %lx\n", reached);
    asm volatile(RVC("c.j 1f\n") "li %0, 0\n j 3f\n" "1: li %0, 1\n" "3:\n" : "=r"(reached));
    pr("c.j: reached %lx\n", reached);
    /* backward c.j / c.bnez loop */
    register u64 cnt asm("a0") = 9;
    register u64 acc asm("a1") = 0;
    asm volatile(RVC("1: c.addi a1, 5\n c.addi a0, -1\n c.bnez a0, 1b") : "+r"(cnt), "+r"(acc));
    pr("c.bnez loop: %lx %lx\n", cnt, acc);
    n += 6;
    for (unsigned i = 0; i < NV; i++) {
        register u64 x asm("a0") = V[i];
        asm volatile("li %0, 0\n"
                     RVC("c.beqz a0, 1f\n") "ori %0, %0, 1\n 1:\n"
                     RVC("c.bnez a0, 1f\n") "ori %0, %0, 2\n 1:\n"
                     : "=&r"(t) : "r"(x));
        pr("c.beqz/bnez %02x: %lx\n", i, t);
        n++;
    }
    /* 32-bit instructions at pc % 4 == 2 interleaved with 16-bit ones */
    u64 a = 0;
    asm volatile(".balign 4\n"
                 RVC("c.nop\n") "addi %0, %0, 0x123\n"
                 RVC("c.addi %0, 1\n") "slli %0, %0, 4\n"
                 RVC("c.nop\n c.nop\n") "xori %0, %0, 0x7ff\n"
                 : "+r"(a));
    pr("mixed: %lx\n", a);
    n++;
}

/* A 32-bit instruction whose halves lie on two pages. */
extern u64 straddle(u64);
asm(".pushsection .text.straddle, \"ax\"\n"
    ".balign 4096\n"
    "straddle_page: .skip 4094\n"
    ".option push\n.option norvc\n"
    ".globl straddle\n"
    "straddle: addi a0, a0, 0x555\n"   /* at page offset 0xffe */
    "xori a0, a0, 0x0f0\n"
    "ret\n"
    ".option pop\n"
    ".popsection\n");

int main(void)
{
    begin();
    test_alu();
    test_sp();
    test_mem();
    test_ctrl();
    pr("straddle: page offset %lx result %lx\n", (u64)straddle & 0xfff, straddle(0x1000));
    n++;
    pr("compressed: %d values\n", n);
    end();
    return 0;
}
