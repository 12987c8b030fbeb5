/* RISC-V M-extension arithmetic with the ISA's edge cases (division by
 * zero, INT_MIN / -1, high products), shared by the interpreter (exec.c)
 * and the block compiler (jit.c, which calls them from host code). */
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
#endif
