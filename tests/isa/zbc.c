/* Zbc differential test (carry-less multiplication): clmul, clmulh, clmulr
 * over edge values, aliased registers and pseudo-random operands, and a
 * CRC-32 folded with clmul against a bitwise CRC-32. */
#include "bitmanip.h"

RR(clmul, clmul) RR(clmulh, clmulh) RR(clmulr, clmulr)

/* Bitwise CRC-32 (reflected, poly 0xedb88320) of one 64-bit word. */
static u32 crc_bitwise(u32 crc, u64 w)
{
    for (int i = 0; i < 64; i++) {
        u32 bit = (crc ^ (u32)(w >> i)) & 1;
        crc = (crc >> 1) ^ (bit ? 0xedb88320u : 0);
    }
    return crc;
}

/* The same with a Barrett reduction in clmul/clmulh (reflected domain). */
static u32 crc_clmul(u32 crc, u64 w)
{
    const u64 mu = 0xb4e5b025f7011641ull;   /* floor(x^64 / P), reflected */
    const u64 p = 0x1db710641ull;           /* P, reflected, with x^32 */
    u64 t = w ^ crc, q, r;
    q = f_clmul(t, mu);
    r = f_clmulh(q, p);
    return (u32)r;
}

int main(void)
{
    begin();
    BIN(clmul); BIN(clmulh); BIN(clmulr);
    u32 a = ~0u, b = ~0u;
    for (int k = 0; k < 500; k++) {
        u64 w = bm_rand();
        a = crc_bitwise(a, w);
        b = crc_clmul(b, w);
    }
    pr("crc bitwise %x clmul %x\n", a, b);
    end();
    return 0;
}
