/* Zbs differential test (single-bit instructions): bclr, bext, binv, bset
 * and their immediate forms, with bit indices past 63 (taken mod 64), over
 * edge values, aliased registers and pseudo-random operands. */
#include "bitmanip.h"

RR(bclr, bclr) RR(bext, bext) RR(binv, binv) RR(bset, bset)
RI(bclri, bclri0, 0) RI(bclri, bclri31, 31) RI(bclri, bclri32, 32) RI(bclri, bclri63, 63)
RI(bexti, bexti0, 0) RI(bexti, bexti31, 31) RI(bexti, bexti32, 32) RI(bexti, bexti63, 63)
RI(binvi, binvi0, 0) RI(binvi, binvi31, 31) RI(binvi, binvi32, 32) RI(binvi, binvi63, 63)
RI(bseti, bseti0, 0) RI(bseti, bseti31, 31) RI(bseti, bseti32, 32) RI(bseti, bseti63, 63)

int main(void)
{
    begin();
    BIN(bclr); BIN(bext); BIN(binv); BIN(bset);
    UNARY(bclri0); UNARY(bclri31); UNARY(bclri32); UNARY(bclri63);
    UNARY(bexti0); UNARY(bexti31); UNARY(bexti32); UNARY(bexti63);
    UNARY(binvi0); UNARY(binvi31); UNARY(binvi32); UNARY(binvi63);
    UNARY(bseti0); UNARY(bseti31); UNARY(bseti32); UNARY(bseti63);
    end();
    return 0;
}
