/* RISC-V M-extension arithmetic with the ISA's edge cases (division by
 * zero, INT_MIN / -1, high products) and the Zbb/Zbc bit operations, shared
 * by the interpreter (exec.c) and the block compiler (jit.c, which calls
 * them from host code). */
#ifndef TERN_ALU_H
#define TERN_ALU_H
#include <stdint.h>

static inline uint64_t sx32(uint64_t v) { return (uint64_t)(int64_t)(int32_t)v; }

static inline uint64_t rv_mulh(uint64_t a, uint64_t b)
{
	return (uint64_t)(((__int128)(int64_t)a * (int64_t)b) >> 64);
}
static inline uint64_t rv_mulhu(uint64_t a, uint64_t b)
{
	return (uint64_t)(((unsigned __int128)a * b) >> 64);
}
static inline uint64_t rv_mulhsu(uint64_t a, uint64_t b)
{
	return (uint64_t)(((__int128)(int64_t)a * (unsigned __int128)b) >> 64);
}
static inline uint64_t rv_div(uint64_t a, uint64_t b)
{
	if (!b) return ~0ull;
	if ((int64_t)a == INT64_MIN && (int64_t)b == -1) return a;
	return (uint64_t)((int64_t)a / (int64_t)b);
}
static inline uint64_t rv_divu(uint64_t a, uint64_t b) { return b ? a / b : ~0ull; }
static inline uint64_t rv_rem(uint64_t a, uint64_t b)
{
	if (!b) return a;
	if ((int64_t)a == INT64_MIN && (int64_t)b == -1) return 0;
	return (uint64_t)((int64_t)a % (int64_t)b);
}
static inline uint64_t rv_remu(uint64_t a, uint64_t b) { return b ? a % b : a; }
static inline uint64_t rv_divw(uint64_t a, uint64_t b)
{
	int32_t x = (int32_t)a, y = (int32_t)b;
	if (!y) return ~0ull;
	if (x == INT32_MIN && y == -1) return sx32(a);
	return (uint64_t)(int64_t)(x / y);
}
static inline uint64_t rv_divuw(uint64_t a, uint64_t b)
{
	return (uint32_t)b ? sx32((uint32_t)a / (uint32_t)b) : ~0ull;
}
static inline uint64_t rv_remw(uint64_t a, uint64_t b)
{
	int32_t x = (int32_t)a, y = (int32_t)b;
	if (!y) return sx32(a);
	if (x == INT32_MIN && y == -1) return 0;
	return (uint64_t)(int64_t)(x % y);
}
static inline uint64_t rv_remuw(uint64_t a, uint64_t b)
{
	return (uint32_t)b ? sx32((uint32_t)a % (uint32_t)b) : sx32(a);
}
/* ---- Zbb / Zbc bit manipulation (the JIT calls these where the host
 * lacks an instruction, e.g. popcnt or pclmulqdq) ---- */
static inline uint64_t rv_clz(uint64_t a) { return a ? (uint64_t)__builtin_clzll(a) : 64; }
static inline uint64_t rv_ctz(uint64_t a) { return a ? (uint64_t)__builtin_ctzll(a) : 64; }
static inline uint64_t rv_cpop(uint64_t a) { return (uint64_t)__builtin_popcountll(a); }
static inline uint64_t rv_clzw(uint64_t a) { return (uint32_t)a ? (uint64_t)__builtin_clz((uint32_t)a) : 32; }
static inline uint64_t rv_ctzw(uint64_t a) { return (uint32_t)a ? (uint64_t)__builtin_ctz((uint32_t)a) : 32; }
static inline uint64_t rv_cpopw(uint64_t a) { return (uint64_t)__builtin_popcount((uint32_t)a); }
static inline uint64_t rv_rol(uint64_t a, uint64_t n)
{
	n &= 63;
	return n ? (a << n) | (a >> (64 - n)) : a;
}
static inline uint64_t rv_ror(uint64_t a, uint64_t n)
{
	n &= 63;
	return n ? (a >> n) | (a << (64 - n)) : a;
}
static inline uint64_t rv_rolw(uint64_t a, uint64_t n)
{
	uint32_t v = (uint32_t)a;
	n &= 31;
	return sx32(n ? (v << n) | (v >> (32 - n)) : v);
}
static inline uint64_t rv_rorw(uint64_t a, uint64_t n)
{
	uint32_t v = (uint32_t)a;
	n &= 31;
	return sx32(n ? (v >> n) | (v << (32 - n)) : v);
}
/* Each byte becomes 0xff if it was nonzero, else 0x00. */
static inline uint64_t rv_orc_b(uint64_t a)
{
	const uint64_t low7 = 0x7f7f7f7f7f7f7f7full;
	uint64_t m = (((a & low7) + low7) | a) & ~low7;   /* 0x80 per nonzero byte */
	return (m - (m >> 7)) | m;
}
static inline uint64_t rv_rev8(uint64_t a) { return __builtin_bswap64(a); }
/* The 128-bit carry-less product of a and b. */
static inline unsigned __int128 rv_clmul128(uint64_t a, uint64_t b)
{
	unsigned __int128 r = 0;
	for (int i = 0; i < 64; i++)
		if ((b >> i) & 1)
			r ^= (unsigned __int128)a << i;
	return r;
}
static inline uint64_t rv_clmul(uint64_t a, uint64_t b) { return (uint64_t)rv_clmul128(a, b); }
static inline uint64_t rv_clmulh(uint64_t a, uint64_t b) { return (uint64_t)(rv_clmul128(a, b) >> 64); }
static inline uint64_t rv_clmulr(uint64_t a, uint64_t b) { return (uint64_t)(rv_clmul128(a, b) >> 63); }
#endif
