/* RV64M differential test: every multiply/divide over an operand table with
 * signs, zero divisors, INT_MIN/-1 overflow and W-form sign extension. */
#include "rt.h"

static const u64 V[] = {
    0, 1, 2, 3, 7, 0xffffffffffffffff, 0xfffffffffffffffd,
    0x7fffffff, 0x80000000, 0xffffffff, 0xffffffff80000000,
    0x7fffffffffffffff, 0x8000000000000000, 0x123456789abcdef0,
    0xfedcba9876543211, 0x00000001ffffffff,
};
#define NV NELEM(V)

#define RR(op) \
    static u64 f_##op(u64 a, u64 b) { u64 r; asm volatile(#op " %0, %1, %2" : "=r"(r) : "r"(a), "r"(b)); return r; }
RR(mul) RR(mulh) RR(mulhsu) RR(mulhu) RR(div) RR(divu) RR(rem) RR(remu)
RR(mulw) RR(divw) RR(divuw) RR(remw) RR(remuw)

static const struct { const char *name; u64 (*fn)(u64, u64); } ops[] = {
#define E(op) { #op, f_##op },
    E(mul) E(mulh) E(mulhsu) E(mulhu) E(div) E(divu) E(rem) E(remu)
    E(mulw) E(divw) E(divuw) E(remw) E(remuw)
#undef E
};

int main(void)
{
    int n = 0;
    begin();
    for (unsigned k = 0; k < NELEM(ops); k++)
        for (unsigned i = 0; i < NV; i++)
            for (unsigned j = 0; j < NV; j++) {
                pr("%s %02x %02x %016lx\n", ops[k].name, i, j, ops[k].fn(V[i], V[j]));
                n++;
            }
    /* rd overlapping a source: the result must use the old operand values */
    u64 a = 0x123456789, b = 0x987654321;
    asm volatile("mul %0, %0, %1" : "+r"(a) : "r"(b));
    u64 c = 0xfffffffffffffff0ull;
    asm volatile("divu %0, %0, %0" : "+r"(c));
    u64 d = 0;
    asm volatile("rem %0, %0, %0" : "+r"(d));
    pr("overlap mul %016lx divu %016lx rem %016lx\n", a, c, d);
    n += 3;
    pr("muldiv: %d values\n", n);
    end();
    return 0;
}
