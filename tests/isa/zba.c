/* Zba differential test (address generation): sh1add, sh2add, sh3add and
 * their .uw forms, add.uw, slli.uw, over edge values, aliased registers and
 * pseudo-random operands. */
#include "bitmanip.h"

RR(sh1add, sh1add) RR(sh2add, sh2add) RR(sh3add, sh3add) RR(add.uw, add_uw)
RR(sh1add.uw, sh1add_uw) RR(sh2add.uw, sh2add_uw) RR(sh3add.uw, sh3add_uw)
RI(slli.uw, slliuw0, 0) RI(slli.uw, slliuw1, 1) RI(slli.uw, slliuw31, 31)
RI(slli.uw, slliuw32, 32) RI(slli.uw, slliuw63, 63)
/* zext.w is add.uw rd, rs1, zero */
UN(zext.w, zext_w)

int main(void)
{
    begin();
    BIN(sh1add); BIN(sh2add); BIN(sh3add); BIN(add_uw);
    BIN(sh1add_uw); BIN(sh2add_uw); BIN(sh3add_uw);
    UNARY(slliuw0); UNARY(slliuw1); UNARY(slliuw31); UNARY(slliuw32); UNARY(slliuw63);
    UNARY(zext_w);
    /* an x0 destination is discarded */
    u64 r;
    asm volatile(ARCH_ON "li %0, 5\n sh3add x0, %0, %0\n mv %0, x0" ARCH_OFF : "=r"(r));
    pr("x0 dest %lx\n", r);
    end();
    return 0;
}
