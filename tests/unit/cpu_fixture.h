/* Shared fixture for the CPU unit tests (decode, csr, mmu): a heap VM with
 * 4 MiB of RAM at 0x80000000 and one hart, instruction encoders (checked
 * against GNU as in test_decode.c) and helpers that run code on the hart. */
#ifndef TERN_TEST_CPU_FIXTURE_H
#define TERN_TEST_CPU_FIXTURE_H
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>
#include "cpu/hart.h"
#include "cpu/rvc.h"
#include "cpu/csr.h"
#include "cpu/exec.h"
#include "cpu/mmu.h"
#include "cpu/trap.h"
#include "core/vm.h"
#include "cpu/dcache.h"
#include "vm_fixture.h"

#define RAM_BASE  0x80000000ull
#define RAM_SIZE  (4ull << 20)
#define TRAP_VEC  (RAM_BASE + 0x1000)    /* stvec: holds "j ." */
#define CODE_BASE (RAM_BASE + 0x100000)  /* code is bump-allocated from here */
#define CODE_END  (RAM_BASE + 0x1f0000)
#define DATA      (RAM_BASE + 0x200000)  /* scratch data (2nd MiB-pair) */
#define SENTINEL  0x5e5e5e5e5e5eull      /* scause/stval before a run */
#define INSN_J_SELF 0x0000006fu          /* jal x0, 0 */

struct fx {
	struct vm *vm;
	struct hart *h;
	uint64_t code_next;
};

/* ---- instruction encoders ---- */
static inline uint32_t enc_r(unsigned f7, unsigned rs2, unsigned rs1, unsigned f3, unsigned rd, unsigned op)
{
	return f7 << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op;
}
static inline uint32_t enc_i(int32_t imm, unsigned rs1, unsigned f3, unsigned rd, unsigned op)
{
	return (uint32_t)(imm & 0xfff) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op;
}
static inline uint32_t enc_s(int32_t imm, unsigned rs2, unsigned rs1, unsigned f3, unsigned op)
{
	return (uint32_t)((imm >> 5) & 0x7f) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 |
	       (uint32_t)(imm & 0x1f) << 7 | op;
}
static inline uint32_t enc_b(int32_t imm, unsigned rs2, unsigned rs1, unsigned f3)
{
	uint32_t u = (uint32_t)imm;
	return ((u >> 12) & 1) << 31 | ((u >> 5) & 0x3f) << 25 | rs2 << 20 | rs1 << 15 |
	       f3 << 12 | ((u >> 1) & 0xf) << 8 | ((u >> 11) & 1) << 7 | 0x63;
}
static inline uint32_t enc_u(uint32_t imm20, unsigned rd, unsigned op)
{
	return (imm20 & 0xfffff) << 12 | rd << 7 | op;
}
static inline uint32_t enc_j(int32_t imm, unsigned rd)
{
	uint32_t u = (uint32_t)imm;
	return ((u >> 20) & 1) << 31 | ((u >> 1) & 0x3ff) << 21 | ((u >> 11) & 1) << 20 |
	       ((u >> 12) & 0xff) << 12 | rd << 7 | 0x6f;
}

#define ADDI(rd, rs1, imm)   enc_i((imm), (rs1), 0, (rd), 0x13)
#define LB(rd, rs1, imm)     enc_i((imm), (rs1), 0, (rd), 0x03)
#define LW(rd, rs1, imm)     enc_i((imm), (rs1), 2, (rd), 0x03)
#define LD(rd, rs1, imm)     enc_i((imm), (rs1), 3, (rd), 0x03)
#define LBU(rd, rs1, imm)    enc_i((imm), (rs1), 4, (rd), 0x03)
#define SB(rs2, rs1, imm)    enc_s((imm), (rs2), (rs1), 0, 0x23)
#define SW(rs2, rs1, imm)    enc_s((imm), (rs2), (rs1), 2, 0x23)
#define SD(rs2, rs1, imm)    enc_s((imm), (rs2), (rs1), 3, 0x23)
#define CSRRW(rd, csr, rs1)  enc_i((int32_t)(csr), (rs1), 1, (rd), 0x73)
#define CSRRS(rd, csr, rs1)  enc_i((int32_t)(csr), (rs1), 2, (rd), 0x73)
#define CSRRC(rd, csr, rs1)  enc_i((int32_t)(csr), (rs1), 3, (rd), 0x73)
#define CSRRWI(rd, csr, u)   enc_i((int32_t)(csr), (u), 5, (rd), 0x73)
#define CSRRSI(rd, csr, u)   enc_i((int32_t)(csr), (u), 6, (rd), 0x73)
#define CSRRCI(rd, csr, u)   enc_i((int32_t)(csr), (u), 7, (rd), 0x73)
#define SFENCE_VMA(rs1, rs2) enc_r(0x09, (rs2), (rs1), 0, 0, 0x73)
#define AMO(f5, f3, rd, rs1, rs2) enc_r((f5) << 2, (rs2), (rs1), (f3), (rd), 0x2f)

/* ---- fixture ---- */
static inline struct fx *fx_new(void)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	struct vm *vm = test_vm_new(RAM_SIZE);
	struct hart *h = vm->cpus.harts[0];
	h->stvec = TRAP_VEC;
	uint32_t j = INSN_J_SELF;
	memcpy(vm->mem.host + (TRAP_VEC - RAM_BASE), &j, 4);
	f->vm = vm;
	f->h = h;
	f->code_next = CODE_BASE;
	return f;
}

static inline void fx_free(struct fx *f)
{
	vm_free(f->vm);
	free(f);
}

static inline int fx_setup(void **state)
{
	*state = fx_new();
	return 0;
}

static inline int fx_teardown(void **state)
{
	fx_free(*state);
	return 0;
}

#define FX_TEST(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

/* ---- guest physical memory ---- */
static inline uint8_t *fx_ram(struct fx *f, uint64_t pa, uint64_t len)
{
	uint8_t *p = vm_ram_ptr(f->vm, pa, len);
	assert_non_null(p);
	return p;
}
static inline void wr16(struct fx *f, uint64_t pa, uint16_t v) { memcpy(fx_ram(f, pa, 2), &v, 2); }
static inline void wr32(struct fx *f, uint64_t pa, uint32_t v) { memcpy(fx_ram(f, pa, 4), &v, 4); }
static inline void wr64(struct fx *f, uint64_t pa, uint64_t v) { memcpy(fx_ram(f, pa, 8), &v, 8); }
static inline uint32_t rd32(struct fx *f, uint64_t pa) { uint32_t v; memcpy(&v, fx_ram(f, pa, 4), 4); return v; }
static inline uint64_t rd64(struct fx *f, uint64_t pa) { uint64_t v; memcpy(&v, fx_ram(f, pa, 8), 8); return v; }

/* Reserve len bytes of fresh code space. Code is never rewritten in place,
 * so a decoded-instruction cache cannot make a test see stale code. */
static inline uint64_t fx_alloc_code(struct fx *f, uint64_t len)
{
	uint64_t a = f->code_next;
	f->code_next = (a + len + 15) & ~15ull;
	assert_true(f->code_next <= CODE_END);
	return a;
}

static inline uint64_t fx_code(struct fx *f, const uint32_t *w, unsigned n)
{
	uint64_t a = fx_alloc_code(f, 4ull * n);
	memcpy(fx_ram(f, a, 4ull * n), w, 4ull * n);
	return a;
}

/* Run up to n instructions from pc; scause/stval are poisoned first so a
 * test can tell whether a trap happened. */
static inline uint64_t fx_run(struct fx *f, uint64_t pc, uint64_t n)
{
	f->h->pc = pc;
	f->h->scause = SENTINEL;
	f->h->stval = SENTINEL;
	return hart_run(f->h, n);
}

/* Execute one 32-bit instruction that must not trap and must fall through. */
static inline uint64_t fx_exec1(struct fx *f, uint32_t insn)
{
	uint64_t pc = fx_code(f, &insn, 1);
	fx_run(f, pc, 1);
	assert_int_equal(f->h->scause, SENTINEL);
	assert_int_equal(f->h->pc, pc + 4);
	return pc;
}

/* Execute n instructions of straight-line code that must not trap. */
static inline uint64_t fx_execn(struct fx *f, const uint32_t *w, unsigned n)
{
	uint64_t pc = fx_code(f, w, n);
	fx_run(f, pc, n);
	assert_int_equal(f->h->scause, SENTINEL);
	assert_int_equal(f->h->pc, pc + 4ull * n);
	return pc;
}

/* Execute one instruction that must trap; checks sepc/pc and returns scause. */
static inline uint64_t fx_trap1(struct fx *f, uint32_t insn)
{
	uint64_t pc = fx_code(f, &insn, 1);
	fx_run(f, pc, 1);
	assert_int_equal(f->h->pc, f->h->stvec & ~3ull);
	assert_int_equal(f->h->sepc, pc);
	assert_int_equal(f->h->priv, PRV_S);
	return f->h->scause;
}
#endif
