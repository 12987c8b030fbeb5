/* RV64A differential test: LR/SC success and deterministic failures, every
 * AMO in .W/.D form (sign extension, aq/rl), and misaligned AMO/LR traps. */
#include "rt.h"

static const u64 V[] = {
    0, 1, 0xffffffffffffffff, 0x7fffffff, 0x80000000, 0xffffffff,
    0x7fffffffffffffff, 0x8000000000000000, 0x123456789abcdef0,
    0xfedcba9876543211,
};
#define NV NELEM(V)

static volatile u64 mem[8] __attribute__((aligned(64)));
static int n;

#define AMO(fn, insn) \
    static u64 fn(volatile void *p, u64 v) { u64 r; asm volatile(insn " %0, %2, (%1)" : "=&r"(r) : "r"(p), "r"(v) : "memory"); return r; }
AMO(swap_w, "amoswap.w") AMO(add_w, "amoadd.w") AMO(xor_w, "amoxor.w")
AMO(and_w, "amoand.w") AMO(or_w, "amoor.w") AMO(min_w, "amomin.w")
AMO(max_w, "amomax.w") AMO(minu_w, "amominu.w") AMO(maxu_w, "amomaxu.w")
AMO(swap_d, "amoswap.d") AMO(add_d, "amoadd.d") AMO(xor_d, "amoxor.d")
AMO(and_d, "amoand.d") AMO(or_d, "amoor.d") AMO(min_d, "amomin.d")
AMO(max_d, "amomax.d") AMO(minu_d, "amominu.d") AMO(maxu_d, "amomaxu.d")
AMO(add_d_aq, "amoadd.d.aq") AMO(add_d_rl, "amoadd.d.rl") AMO(add_w_aqrl, "amoadd.w.aqrl")
AMO(swap_d_aqrl, "amoswap.d.aqrl")

static const struct { const char *name; u64 (*fn)(volatile void *, u64); } ops[] = {
#define E(x) { #x, x },
    E(swap_w) E(add_w) E(xor_w) E(and_w) E(or_w) E(min_w) E(max_w) E(minu_w) E(maxu_w)
    E(swap_d) E(add_d) E(xor_d) E(and_d) E(or_d) E(min_d) E(max_d) E(minu_d) E(maxu_d)
#undef E
};

static void test_amo(void)
{
    for (unsigned k = 0; k < NELEM(ops); k++)
        for (unsigned i = 0; i < NV; i++) {
            pr("%s %02x:", ops[k].name, i);
            for (unsigned j = 0; j < NV; j++) {
                /* guard words around the target show the access width */
                mem[0] = 0x5555555555555555ull;
                mem[1] = V[i];
                mem[2] = 0xaaaaaaaaaaaaaaaaull;
                u64 old = ops[k].fn(&mem[1], V[j]);
                pr(" %lx/%lx", old, mem[1]);
                if (mem[0] != 0x5555555555555555ull || mem[2] != 0xaaaaaaaaaaaaaaaaull)
                    pr("!");
                n += 2;
            }
            pr("\n");
        }
    /* .W on the upper half of a doubleword */
    mem[1] = 0x8000000112345678ull;
    u64 r = add_w((volatile char *)&mem[1] + 4, 0x7fffffff);
    pr("add_w hi: %lx %lx\n", r, mem[1]);
    mem[1] = 5;
    u64 a = add_d_aq(&mem[1], 1), b = add_d_rl(&mem[1], 2), c = add_w_aqrl(&mem[1], 3);
    u64 d = swap_d_aqrl(&mem[1], 0xdead);
    pr("aqrl: %lx %lx %lx %lx %lx\n", a, b, c, d, mem[1]);
    /* rd = x0 still performs the memory update */
    mem[1] = 10;
    asm volatile("amoadd.d x0, %1, (%0)" :: "r"(&mem[1]), "r"(7ul) : "memory");
    pr("amo rd=x0: %lx\n", mem[1]);
    n += 8;
}

static u64 lr_d(volatile void *p) { u64 r; asm volatile("lr.d %0, (%1)" : "=r"(r) : "r"(p) : "memory"); return r; }
static u64 lr_w(volatile void *p) { u64 r; asm volatile("lr.w %0, (%1)" : "=r"(r) : "r"(p) : "memory"); return r; }
static u64 sc_d(volatile void *p, u64 v) { u64 r; asm volatile("sc.d %0, %2, (%1)" : "=&r"(r) : "r"(p), "r"(v) : "memory"); return r; }
static u64 sc_w(volatile void *p, u64 v) { u64 r; asm volatile("sc.w %0, %2, (%1)" : "=&r"(r) : "r"(p), "r"(v) : "memory"); return r; }

static void test_lrsc(void)
{
    u64 l, s;
    mem[2] = 0x1111111111111111ull;
    l = lr_d(&mem[2]);
    s = sc_d(&mem[2], 0x2222222222222222ull);
    pr("lr.d/sc.d: lr %lx sc %lx mem %lx\n", l, s, mem[2]);
    /* the SC above consumed the reservation: a second SC must fail */
    s = sc_d(&mem[2], 0x3333333333333333ull);
    pr("sc.d again: sc %lx mem %lx\n", s != 0, mem[2]);
    s = sc_w(&mem[2], 0x44444444);
    pr("sc.w no lr: sc %lx mem %lx\n", s != 0, mem[2]);

    for (unsigned i = 0; i < NV; i++) {
        mem[3] = V[i];
        l = lr_w(&mem[3]);
        s = sc_w(&mem[3], ~V[i]);
        u64 l2 = lr_w((volatile char *)&mem[3] + 4);
        s |= sc_w((volatile char *)&mem[3] + 4, 0x80000000) << 8;
        pr("lr.w/sc.w %02x: lr %lx lr-hi %lx sc %lx mem %lx\n", i, l, l2, s, mem[3]);
        mem[4] = V[i];
        l = lr_d(&mem[4]);
        s = sc_d(&mem[4], V[i] + 0x101);
        pr("lr.d/sc.d %02x: lr %lx sc %lx mem %lx\n", i, l, s, mem[4]);
        n += 7;
    }

    /* rl/aq variants and a classic retry loop (atomic increment) */
    mem[5] = 41;
    u64 tmp, fail;
    asm volatile("1: lr.d.aq %0, (%2)\n addi %0, %0, 1\n sc.d.rl %1, %0, (%2)\n bnez %1, 1b"
                 : "=&r"(tmp), "=&r"(fail) : "r"(&mem[5]) : "memory");
    asm volatile("1: lr.w.aqrl %0, (%2)\n addi %0, %0, 1\n sc.w.aqrl %1, %0, (%2)\n bnez %1, 1b"
                 : "=&r"(tmp), "=&r"(fail) : "r"(&mem[5]) : "memory");
    pr("lr/sc loop: %lx\n", mem[5]);
    n += 6;
}

/* Misaligned AMOs must raise an address-misaligned or access-fault exception
 * (no Zam). The spec says store/AMO (6/7), but QEMU 7.2 reports the load
 * cause (4) for AMOs, so for AMOs only the class is printed, not the number.
 * LR is a load: its cause (4) is printed as is. */
static void amo_report(const char *name, long off, u64 base)
{
    trap_disarm();
    const char *cls = !trap_count ? "no trap" :
        (trap_cause == 4 || trap_cause == 6) ? "misaligned" :
        (trap_cause == 5 || trap_cause == 7) ? "access-fault" : "other";
    pr("%s +%d: %s", name, (int)off, cls);
    if (trap_count)
        pr(" stval=base+%lx", trap_tval - base);
    pr("\n");
}

static void test_misaligned(void)
{
    static const long offs[] = { 1, 2, 3, 4, 6, 7 };
    u64 base = (u64)&mem[0];
    for (unsigned i = 0; i < NELEM(offs); i++) {
        long o = offs[i];
        volatile char *p = (volatile char *)&mem[0] + o;
        mem[0] = 0x0706050403020100ull;
        if (o & 3) {
            trap_arm(1, 4);
            add_w(p, 1);
            amo_report("amoadd.w", o, base);
            trap_arm(1, 4);
            swap_w(p, 1);
            amo_report("amoswap.w", o, base);
            trap_arm(1, 4);
            lr_w(p);
            pr("lr.w +%d", (int)o);
            trap_report_rel("", base);
            n += 6;
        }
        trap_arm(1, 4);
        add_d(p, 1);
        amo_report("amoadd.d", o, base);
        trap_arm(1, 4);
        maxu_d(p, 1);
        amo_report("amomaxu.d", o, base);
        trap_arm(1, 4);
        lr_d(p);
        pr("lr.d +%d", (int)o);
        trap_report_rel("", base);
        pr("mem unchanged: %lx\n", mem[0]);
        n += 7;
    }
}

int main(void)
{
    begin();
    test_lrsc();
    test_amo();
    test_misaligned();
    pr("atomic: %d values\n", n);
    end();
    return 0;
}
