/* Block compiler tests: random integer programs run on two harts, one with
 * the JIT and one interpreting, must leave identical registers, memory and
 * pc; plus the edge cases that only the compiled path has (TLB-miss stubs,
 * page-crossing accesses, traps in mid-block, self-modifying code, x0). */
#include "cpu_fixture.h"
#include "cpu/jit.h"
#include "cpu/mmu.h"
#include "core/ramlog.h"

#define BASE_REG 10     /* x10 = DATA, never written by generated code */
#define EDGE_REG 11     /* x11 = DATA + 4096 - 8: accesses may cross a page */
#define LOOP_REG 12     /* the loop counter of looping programs (not written) */

static struct fx *fx_new_jit(void)
{
	struct fx *f = fx_new();
	f->h->jit = jit_new(1u << 20);
	assert_non_null(f->h->jit);
	return f;
}

static void fx_free_jit(struct fx *f)
{
	jit_free(f->h->jit);
	f->h->jit = NULL;
	fx_free(f);
}

static uint64_t rng_state;
static int fp_enabled;      /* generate F/D instructions too */
static int bm_enabled;      /* and Zba/Zbb/Zbc/Zbs/Zicond */
static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}

static unsigned rand_rd(void)
{
	unsigned r;
	do r = rnd() % 16; while (r == BASE_REG || r == EDGE_REG || r == LOOP_REG);
	return r;       /* may be x0 */
}
static unsigned rand_rs(void) { return rnd() % 16; }

/* One random Zba/Zbb/Zbc/Zbs/Zicond instruction. */
static uint32_t rand_bitmanip(void)
{
	static const unsigned r_ops[][2] = {      /* f7, f3 for OP (0x33) */
		{0x10, 2}, {0x10, 4}, {0x10, 6},                          /* sh1add.. */
		{0x20, 7}, {0x20, 6}, {0x20, 4},                          /* andn orn xnor */
		{0x05, 4}, {0x05, 5}, {0x05, 6}, {0x05, 7},               /* min minu max maxu */
		{0x30, 1}, {0x30, 5},                                     /* rol ror */
		{0x05, 1}, {0x05, 2}, {0x05, 3},                          /* clmul clmulr clmulh */
		{0x24, 1}, {0x24, 5}, {0x34, 1}, {0x14, 1},               /* bclr bext binv bset */
		{0x07, 5}, {0x07, 7},                                     /* czero.eqz czero.nez */
	};
	static const unsigned w_ops[][2] = {      /* f7, f3 for OP-32 (0x3b) */
		{0x04, 0}, {0x10, 2}, {0x10, 4}, {0x10, 6}, {0x30, 1}, {0x30, 5},
	};
	static const int unary[] = { 0x600, 0x601, 0x602, 0x604, 0x605 };
	static const int imm_ops[][3] = {         /* opcode, f3, imm12 base */
		{0x1b, 1, 0x080}, {0x13, 5, 0x600}, {0x13, 1, 0x480}, {0x13, 1, 0x280},
		{0x13, 1, 0x680}, {0x13, 5, 0x480},   /* slli.uw rori bclri bseti binvi bexti */
	};
	switch (rnd() % 7) {
	case 0: case 1: case 2: {
		const unsigned *o = r_ops[rnd() % (sizeof(r_ops) / sizeof(r_ops[0]))];
		return enc_r(o[0], rand_rs(), rand_rs(), o[1], rand_rd(), 0x33);
	}
	case 3: {
		const unsigned *o = w_ops[rnd() % (sizeof(w_ops) / sizeof(w_ops[0]))];
		if (rnd() % 7 == 0)
			return enc_r(0x04, 0, rand_rs(), 4, rand_rd(), 0x3b);   /* zext.h */
		return enc_r(o[0], rand_rs(), rand_rs(), o[1], rand_rd(), 0x3b);
	}
	case 4:                                   /* clz ctz cpop sext.b sext.h, *w */
		if (rnd() & 1)
			return enc_i(unary[rnd() % 5], rand_rs(), 1, rand_rd(), 0x13);
		return enc_i(0x600 + (int)(rnd() % 3), rand_rs(), 1, rand_rd(), 0x1b);
	case 5:
		switch (rnd() % 3) {
		case 0: return enc_i(0x287, rand_rs(), 5, rand_rd(), 0x13);        /* orc.b */
		case 1: return enc_i(0x6b8, rand_rs(), 5, rand_rd(), 0x13);        /* rev8 */
		default: return enc_i(0x600 | (int)(rnd() % 32), rand_rs(), 5, rand_rd(), 0x1b); /* roriw */
		}
	default: {
		const int *o = imm_ops[rnd() % (sizeof(imm_ops) / sizeof(imm_ops[0]))];
		return enc_i(o[2] | (int)(rnd() % 64), rand_rs(), (unsigned)o[1], rand_rd(), (unsigned)o[0]);
	}
	}
}

/* One random instruction at index i of n (branches jump forward only). */
static uint32_t rand_insn(unsigned i, unsigned n)
{
	static const unsigned r_ops[][2] = {      /* f7, f3 for OP (0x33) */
		{0, 0}, {0x20, 0}, {0, 1}, {0, 2}, {0, 3}, {0, 4}, {0, 5}, {0x20, 5}, {0, 6}, {0, 7},
		{1, 0}, {1, 1}, {1, 2}, {1, 3}, {1, 4}, {1, 5}, {1, 6}, {1, 7},
	};
	static const unsigned w_ops[][2] = {      /* f7, f3 for OP-32 (0x3b) */
		{0, 0}, {0x20, 0}, {0, 1}, {0, 5}, {0x20, 5}, {1, 0}, {1, 4}, {1, 5}, {1, 6}, {1, 7},
	};
	unsigned left = n - 1 - i;                /* instructions after this one */
	int32_t imm = (int32_t)(rnd() % 4096) - 2048;
	if (bm_enabled && rnd() % 2)
		return rand_bitmanip();
	switch (rnd() % (fp_enabled ? 15 : 12)) {
	case 12: {                                /* fld/flw/fsd/fsw */
		unsigned f3 = 2 + rnd() % 2;
		int32_t off = (int32_t)(rnd() % 2040);
		if (rnd() & 1)
			return enc_i(off, BASE_REG, f3, rnd() % 32, 0x07);
		return enc_s(off, rnd() % 32, BASE_REG, f3, 0x27);
	}
	case 13: {                                /* fadd/fsub/fmul/fdiv .s/.d, fsgnj, fmadd & co */
		static const unsigned f7s[] = { 0x00, 0x04, 0x08, 0x0c, 0x01, 0x05, 0x09, 0x0d, 0x11,
						0x2d, 0x2c };
		unsigned f7 = f7s[rnd() % 11];
		unsigned rm = f7 == 0x11 ? rnd() % 3 : ((rnd() & 1) ? 7 : rnd() % 5);
		if (rnd() % 3 == 0) {                 /* fmadd/fmsub/fnmsub/fnmadd .s/.d */
			static const unsigned opc[] = { 0x43, 0x47, 0x4b, 0x4f };
			rm = (rnd() & 1) ? 7 : rnd() % 5;
			return (rnd() % 32) << 27 | (rnd() % 2) << 25 | (rnd() % 32) << 20 |
			       (rnd() % 32) << 15 | rm << 12 | (rnd() % 32) << 7 | opc[rnd() % 4];
		}
		if (f7 == 0x2d || f7 == 0x2c)         /* fsqrt.d / fsqrt.s: rs2 = 0 */
			return enc_r(f7, 0, rnd() % 32, rm, rnd() % 32, 0x53);
		return enc_r(f7, rnd() % 32, rnd() % 32, rm, rnd() % 32, 0x53);
	}
	case 14:                                  /* fmv.x.d / fmv.d.x */
		if (rnd() & 1)
			return enc_r(0x71, 0, rnd() % 32, 0, rand_rd(), 0x53);
		return enc_r(0x79, 0, rand_rs(), 0, rnd() % 32, 0x53);
	case 0: case 1: {
		const unsigned *o = r_ops[rnd() % (sizeof(r_ops) / sizeof(r_ops[0]))];
		return enc_r(o[0], rand_rs(), rand_rs(), o[1], rand_rd(), 0x33);
	}
	case 2: {
		const unsigned *o = w_ops[rnd() % (sizeof(w_ops) / sizeof(w_ops[0]))];
		return enc_r(o[0], rand_rs(), rand_rs(), o[1], rand_rd(), 0x3b);
	}
	case 3: case 4: {
		unsigned f3 = rnd() % 8;
		if (f3 == 1) imm &= 63;
		if (f3 == 5) imm = (int32_t)((rnd() % 64) | ((rnd() & 1) ? 0x400 : 0));
		return enc_i(imm, rand_rs(), f3, rand_rd(), 0x13);
	}
	case 5: {
		static const unsigned f3s[] = { 0, 1, 5 };
		unsigned f3 = f3s[rnd() % 3];
		if (f3 == 1) imm &= 31;
		if (f3 == 5) imm = (int32_t)((rnd() % 32) | ((rnd() & 1) ? 0x400 : 0));
		return enc_i(imm, rand_rs(), f3, rand_rd(), 0x1b);
	}
	case 6:
		return enc_u(rnd(), rand_rd(), (rnd() & 1) ? 0x37 : 0x17);
	case 7: case 8: {                         /* load */
		static const unsigned f3s[] = { 0, 1, 2, 3, 4, 5, 6 };
		unsigned base = (rnd() & 3) ? BASE_REG : EDGE_REG;
		int32_t off = base == BASE_REG ? (int32_t)(rnd() % 2040) : (int32_t)(rnd() % 16);
		return enc_i(off, base, f3s[rnd() % 7], rand_rd(), 0x03);
	}
	case 9: {                                 /* store */
		unsigned base = (rnd() & 3) ? BASE_REG : EDGE_REG;
		int32_t off = base == BASE_REG ? (int32_t)(rnd() % 2040) : (int32_t)(rnd() % 16);
		return enc_s(off, rand_rs(), base, rnd() % 4, 0x23);
	}
	case 10:
		if (left >= 1) {                      /* forward branch */
			static const unsigned f3s[] = { 0, 1, 4, 5, 6, 7 };
			int32_t to = 4 * (int32_t)(1 + rnd() % (left < 6 ? left : 6));
			return enc_b(to, rand_rs(), rand_rs(), f3s[rnd() % 6]);
		}
		return ADDI(0, 0, 0);
	default:
		if (left >= 1)                        /* forward jal, maybe linking */
			return enc_j(4 * (int32_t)(1 + rnd() % (left < 4 ? left : 4)), (rnd() & 1) ? rand_rd() : 0);
		return ADDI(1, 1, 1);
	}
}

static void seed_state(struct fx *f, uint64_t seed)
{
	rng_state = seed;
	for (int r = 1; r < 32; r++)
		f->h->x[r] = ((uint64_t)rnd() << 32) ^ rnd() ^ ((rnd() & 1) ? 0x8000000000000000ull : 0);
	/* Doubles of every class, so that the JIT's SSE fast path meets the
	 * cases it must leave to fpu_exec: zeros, subnormals, infinities,
	 * NaNs, and operands whose result overflows or underflows. */
	static const uint64_t special[] = {
		0, 0x8000000000000000ull, 1, 0x000fffffffffffffull, 0x0010000000000000ull,
		0x7fefffffffffffffull, 0x7ff0000000000000ull, 0xfff0000000000000ull,
		0x7ff8000000000000ull, 0x7ff4000000000000ull, 0x3ff0000000000000ull,
		0x0020000000000000ull, 0x7fe0000000000000ull, 0xffffffff3f800000ull,
	};
	for (int r = 0; r < 32; r++)
		f->h->f[r] = (rnd() % 3) ? ((uint64_t)rnd() << 32) ^ rnd()
					 : special[rnd() % (sizeof(special) / sizeof(special[0]))];
	/* NX already set (the fast path's condition) or not; RNE or RTZ */
	f->h->fflags = (seed & 2) ? FFLAG_NX : 0;
	f->h->frm = (seed & 4) ? 1 : 0;
	f->h->sstatus |= fp_enabled ? FS_DIRTY : 0;
	f->h->x[BASE_REG] = DATA;
	f->h->x[EDGE_REG] = DATA + 4096 - 8;
	f->h->x[LOOP_REG] = 4;
	uint8_t *d = fx_ram(f, DATA, 8192);
	for (int i = 0; i < 8192; i++)
		d[i] = (uint8_t)rnd();
}

/* host: the JIT_HOST_* instructions the JIT may use. */
static void random_programs(int with_fp, int with_bm, unsigned host)
{
	fp_enabled = with_fp;
	bm_enabled = with_bm;
	for (uint64_t seed = 1; seed <= 400; seed++) {
		struct fx *fi = fx_new(), *fj = fx_new_jit();
		jit_limit_host(fj->h->jit, host);
		uint32_t prog[48];
		unsigned n = 8 + (unsigned)(seed % 40);
		rng_state = seed * 0x9e3779b97f4a7c15ull;
		if (seed & 1) {
			for (unsigned i = 0; i < n - 1; i++)
				prog[i] = rand_insn(i, n);
		} else {
			/* a loop run 4 times: the body's forward branches land at
			 * most on the counter's addi, then bne back to the start
			 * (the JIT keeps registers in host registers across the
			 * iterations of a block that loops to itself) */
			unsigned body = n - 3;
			for (unsigned i = 0; i < body; i++)
				prog[i] = rand_insn(i, body + 1);
			prog[body] = ADDI(LOOP_REG, LOOP_REG, -1);
			prog[body + 1] = enc_b(-4 * (int32_t)(body + 1), LOOP_REG, 0, 1);
		}
		prog[n - 1] = INSN_J_SELF;
		uint64_t pi = fx_code(fi, prog, n), pj = fx_code(fj, prog, n);
		assert_int_equal(pi, pj);
		seed_state(fi, seed);
		seed_state(fj, seed);
		fx_run(fi, pi, 1000);
		fx_run(fj, pj, 1000);
		for (int r = 0; r < 32; r++) {
			if (fi->h->x[r] != fj->h->x[r]) {
				for (unsigned i = 0; i < n; i++)
					print_message("  .word 0x%08x\n", prog[i]);
				fail_msg("seed %llu: x%d interp %llx jit %llx", (unsigned long long)seed, r,
					 (unsigned long long)fi->h->x[r], (unsigned long long)fj->h->x[r]);
			}
		}
		for (int r = 0; r < 32; r++) {
			if (fi->h->f[r] != fj->h->f[r])
				fail_msg("seed %llu: f%d interp %llx jit %llx", (unsigned long long)seed, r,
					 (unsigned long long)fi->h->f[r], (unsigned long long)fj->h->f[r]);
		}
		assert_int_equal(fi->h->fflags, fj->h->fflags);
		assert_int_equal(fi->h->sstatus, fj->h->sstatus);
		assert_int_equal(fi->h->pc, fj->h->pc);
		assert_int_equal(fi->h->scause, fj->h->scause);
		assert_memory_equal(fx_ram(fi, DATA, 8192), fx_ram(fj, DATA, 8192), 8192);
		fx_free(fi);
		fx_free_jit(fj);
	}
}

static void test_random_programs_match_interpreter(void **state)
{
	(void)state;
	random_programs(0, 0, ~0u);
}

static void test_random_fp_programs_match_interpreter(void **state)
{
	(void)state;
	random_programs(1, 0, ~0u);
}

/* Zba/Zbb/Zbc/Zbs/Zicond with the host's BMI1/LZCNT/POPCNT/PCLMULQDQ, and
 * again with the fallbacks for a host without them. */
static void test_random_bitmanip_programs_match_interpreter(void **state)
{
	(void)state;
	random_programs(0, 1, ~0u);
	random_programs(0, 1, 0);
}

/* With sstatus.FS Off, an FP instruction in mid-block raises an illegal-
 * instruction trap after the instructions before it retired. */
static void test_fp_off_traps(void **state)
{
	(void)state;
	struct fx *f = fx_new_jit();
	uint32_t fadd = enc_r(0x01, 2, 1, 7, 3, 0x53);      /* fadd.d f3, f1, f2 */
	uint32_t prog[] = { ADDI(5, 0, 7), fadd, ADDI(6, 0, 9), INSN_J_SELF };
	uint64_t pc = fx_code(f, prog, 4);
	f->h->sstatus &= ~SSTATUS_FS;
	f->h->x[6] = 0;
	fx_run(f, pc, 2);
	assert_int_equal(f->h->x[5], 7);
	assert_int_equal(f->h->x[6], 0);
	assert_int_equal(f->h->scause, EXC_ILLEGAL);
	assert_int_equal(f->h->stval, fadd);
	assert_int_equal(f->h->sepc, pc + 4);
	fx_free_jit(f);
}

/* A load whose TLB probe misses, one that crosses a page, a store to a
 * fresh page: all through the stubs, results as in the interpreter. */
static void test_slow_paths(void **state)
{
	(void)state;
	struct fx *f = fx_new_jit();
	wr64(f, DATA + 4092, 0x1122334455667788ull);
	wr64(f, DATA + 4100, 0x99aabbccddeeff00ull);
	uint32_t prog[] = {
		LD(5, 10, 0),          /* x10 = DATA + 4092: crosses into the next page */
		LW(6, 10, 4),          /* page-aligned, next page */
		SD(5, 11, 0),          /* x11 = DATA + 0x3000: store slow path ends the block */
		LD(7, 11, 0),
		INSN_J_SELF,
	};
	uint64_t pc = fx_code(f, prog, 5);
	f->h->x[10] = DATA + 4092;
	f->h->x[11] = DATA + 0x3000;
	fx_run(f, pc, 100);
	assert_int_equal(f->h->x[5], 0x1122334455667788ull);
	assert_int_equal(f->h->x[6], 0x11223344);        /* bytes 4096..4099 */
	assert_int_equal(f->h->x[7], 0x1122334455667788ull);
	assert_int_equal(rd64(f, DATA + 0x3000), 0x1122334455667788ull);
	assert_int_equal(f->h->pc, pc + 16);
	assert_int_equal(f->h->scause, SENTINEL);
	fx_free_jit(f);
}

/* A fault in the middle of a block: earlier instructions have retired,
 * later ones have not, sepc/stval name the faulting load. */
static void test_trap_mid_block(void **state)
{
	(void)state;
	struct fx *f = fx_new_jit();
	uint32_t prog[] = {
		ADDI(5, 0, 7),
		LD(6, 10, 0),          /* x10 is outside RAM: access fault */
		ADDI(7, 0, 9),
		INSN_J_SELF,
	};
	uint64_t pc = fx_code(f, prog, 4);
	f->h->x[10] = 0x4000;
	f->h->x[7] = 0;
	uint64_t n = fx_run(f, pc, 2);
	assert_int_equal(n, 2);
	assert_int_equal(f->h->x[5], 7);
	assert_int_equal(f->h->x[7], 0);
	assert_int_equal(f->h->scause, EXC_LOAD_ACCESS);
	assert_int_equal(f->h->stval, 0x4000);
	assert_int_equal(f->h->sepc, pc + 4);
	assert_int_equal(f->h->pc, TRAP_VEC);
	fx_free_jit(f);
}

/* Code that rewrites an instruction later in its own page: the new
 * instruction must run, not the compiled old one. */
static void test_self_modifying_code(void **state)
{
	(void)state;
	struct fx *f = fx_new_jit();
	uint32_t prog[] = {
		SW(6, 10, 0),          /* x10 = address of the slot below */
		ADDI(0, 0, 0),
		ADDI(5, 0, 1),         /* overwritten with addi x5, x0, 2 */
		INSN_J_SELF,
	};
	uint64_t pc = fx_code(f, prog, 4);
	/* Run it once unmodified so the block is compiled, then rewrite. */
	f->h->x[10] = DATA;
	f->h->x[6] = 0;
	fx_run(f, pc, 10);
	assert_int_equal(f->h->x[5], 1);
	f->h->x[10] = pc + 8;
	f->h->x[6] = ADDI(5, 0, 2);
	fx_run(f, pc, 10);
	assert_int_equal(f->h->x[5], 2);
	fx_free_jit(f);
}

/* Writes to x0 are dropped; reads of x0 give 0; jalr computes its target
 * before linking when rd == rs1. */
/* Forward branches inside a block: one over a single op (if-converted to a
 * cmov) and one over two ops (a jump ahead), taken and not taken in turn
 * in a loop; registers and the instruction count as the interpreter's. */
static void test_inner_branches(void **state)
{
	(void)state;
	const uint32_t prog[] = {
		enc_i(1, 5, 7, 6, 0x13),                /* andi x6, x5, 1 (loop:) */
		enc_b(8, 0, 6, 0),                      /* beq x6, x0, +8 */
		enc_r(0, 5, 7, 4, 7, 0x33),             /* xor x7, x7, x5 */
		enc_b(12, 0, 6, 1),                     /* bne x6, x0, +12 */
		ADDI(9, 9, 3),
		enc_r(0, 5, 9, 0, 9, 0x33),             /* add x9, x9, x5 */
		enc_b(8, 0, 6, 1),                      /* bne x6, x0, +8 */
		ADDI(10, 0, -7),                        /* li x10, -7 (x5 even) */
		enc_r(0, 10, 11, 0, 11, 0x33),          /* add x11, x11, x10 */
		ADDI(5, 5, 1),
		enc_b(-40, 8, 5, 1),                    /* bne x5, x8, loop */
		0x00000073,                             /* ecall: hart_run stops */
	};
	uint64_t counts[2], x7[2], x9[2], x10[2], instret[2];
	for (int jit = 0; jit < 2; jit++) {
		struct fx *f = jit ? fx_new_jit() : fx_new();
		uint64_t pc = fx_code(f, prog, 12);
		f->h->x[5] = 0;
		f->h->x[7] = 0x55;
		f->h->x[8] = 9;
		f->h->x[9] = 0;
		f->h->x[10] = 5;
		f->h->x[11] = 0;
		counts[jit] = fx_run(f, pc, 1000);
		x10[jit] = f->h->x[10] + 1000 * f->h->x[11];
		x7[jit] = f->h->x[7];
		x9[jit] = f->h->x[9];
		instret[jit] = f->h->instret;
		assert_int_equal(f->h->pc, pc + 48);      /* past the ecall */
		if (jit) fx_free_jit(f); else fx_free(f);
	}
	assert_int_equal(x7[0], 0x55 ^ 1 ^ 3 ^ 5 ^ 7);
	assert_int_equal(x9[0], 3 * 5 + 0 + 2 + 4 + 6 + 8);
	/* x10: 5 until the first even x5 (0), -7 from then on */
	assert_int_equal(x10[0], (uint64_t)-7 + 1000 * (uint64_t)(-7 * 9));
	assert_int_equal(x10[1], x10[0]);
	assert_int_equal(x7[1], x7[0]);
	assert_int_equal(x9[1], x9[0]);
	assert_int_equal(counts[1], counts[0]);
	assert_int_equal(instret[1], instret[0]);
}

/* A kick from another thread (hart_kick) ends a running slice at the next
 * return to the dispatcher, at most JIT_CHAIN_LIMIT instructions on,
 * instead of at its end. */
static void test_kick_ends_slice(void **state)
{
	(void)state;
	struct fx *f = fx_new_jit();
	const uint32_t prog[] = { ADDI(5, 5, 1), enc_b(-4, 0, 0, 0) };   /* loop: beq x0, x0, loop */
	uint64_t pc = fx_code(f, prog, 2);
	assert_true(fx_run(f, pc, 50000) >= 50000);
	hart_kick(f->h);
	uint64_t n = fx_run(f, pc, 50000);
	assert_true(n >= 1 && n <= JIT_CHAIN_LIMIT + 2 * JIT_MAX_INSNS);
	fx_free_jit(f);
}

/* A jalr goes straight into its target's block through the jump cache;
 * when the target's code is rewritten, the cache forgets it, and the TLB
 * flush empties it. */
static void test_jump_cache_follows_code(void **state)
{
	(void)state;
	struct fx *f = fx_new_jit();
	const uint32_t target[] = { ADDI(5, 5, 1), 0x00000073 };   /* ...; ecall */
	uint64_t pb = fx_code(f, target, 2);
	const uint32_t jump[] = { enc_i(0, 10, 0, 0, 0x67) };       /* jalr x0, 0(x10) */
	uint64_t pa = fx_code(f, jump, 1);
	f->h->x[10] = pb;
	for (int i = 0; i < 3; i++) {      /* the cache fills, then is used */
		f->h->x[5] = 0;
		fx_run(f, pa, 100);
		assert_int_equal(f->h->x[5], 1);
		assert_int_equal(f->h->pc, pb + 8);
	}
	assert_int_equal(f->h->jump_cache[(pb >> 1) & (JIT_JUMP_CACHE - 1)].tag, pb);
	const uint32_t add7 = ADDI(5, 5, 7);
	memcpy(fx_ram(f, pb, 4), &add7, 4);
	ram_written(f->vm, f->h, pb - RAM_BASE, 4);    /* as a store or DMA reports it */
	f->h->x[5] = 0;
	fx_run(f, pa, 100);
	assert_int_equal(f->h->x[5], 7);
	tlb_flush_all(f->h);
	for (int i = 0; i < JIT_JUMP_CACHE; i++)
		assert_null(f->h->jump_cache[i].body);
	fx_free_jit(f);
}

/* A loop that straddles a page boundary: its two blocks (one per page)
 * cannot be chained, so each exit to the other page goes through the jump
 * cache (a loop like this ran through the dispatcher every iteration).
 * Rewriting the first page's half must be seen on the next run. */
static void test_loop_across_pages(void **state)
{
	(void)state;
	struct fx *f = fx_new_jit();
	uint64_t a = fx_alloc_code(f, 3 * PAGE_SIZE);
	uint64_t edge = ((a + PAGE_SIZE - 1) & PAGE_MASK) + PAGE_SIZE;
	const uint32_t loop[] = {
		ADDI(5, 5, 1),                  /* edge - 8 */
		ADDI(6, 6, -1),
		enc_b(-8, 0, 6, 1),             /* edge: bne x6, x0, edge - 8 */
		0x00000073,                     /* ecall */
	};
	memcpy(fx_ram(f, edge - 8, sizeof(loop)), loop, sizeof(loop));
	for (int i = 0; i < 2; i++) {
		f->h->x[5] = 0;
		f->h->x[6] = 10000;
		fx_run(f, edge - 8, 100000);
		assert_int_equal(f->h->x[5], 10000);
		assert_int_equal(f->h->x[6], 0);
	}
	assert_int_equal(f->h->jump_cache[((edge - 8) >> 1) & (JIT_JUMP_CACHE - 1)].tag, edge - 8);
	assert_int_equal(f->h->jump_cache[(edge >> 1) & (JIT_JUMP_CACHE - 1)].tag, edge);
	const uint32_t add3 = ADDI(5, 5, 3);
	memcpy(fx_ram(f, edge - 8, 4), &add3, 4);
	ram_written(f->vm, f->h, edge - 8 - RAM_BASE, 4);
	f->h->x[5] = 0;
	f->h->x[6] = 100;
	fx_run(f, edge - 8, 100000);
	assert_int_equal(f->h->x[5], 300);
	fx_free_jit(f);
}

/* slli + add into the same rd is compiled as one lea (Zba's sh*add); the
 * forms that must not be fused (both operands the shifted register, or a
 * different rd, so the shifted value stays live) keep their meaning. */
static void test_shift_add_fusion(void **state)
{
	(void)state;
	struct fx *f = fx_new_jit();
	const uint32_t prog[] = {
		enc_i(2, 6, 1, 5, 0x13),        /* slli x5, x6, 2 */
		enc_r(0, 7, 5, 0, 5, 0x33),     /* add x5, x5, x7 */
		enc_i(3, 8, 1, 8, 0x13),        /* slli x8, x8, 3 */
		enc_r(0, 8, 9, 0, 8, 0x33),     /* add x8, x9, x8 */
		enc_i(1, 6, 1, 10, 0x13),       /* slli x10, x6, 1 */
		enc_r(0, 10, 10, 0, 10, 0x33),  /* add x10, x10, x10 */
		enc_i(2, 6, 1, 11, 0x13),       /* slli x11, x6, 2 */
		enc_r(0, 7, 11, 0, 12, 0x33),   /* add x12, x11, x7 */
		enc_i(3, 6, 1, 13, 0x13),       /* slli x13, x6, 3 */
		enc_r(0, 13, 13, 0, 14, 0x33),  /* add x14, x13, x13 */
		0x00000073,                     /* ecall */
	};
	uint64_t pc = fx_code(f, prog, 11);
	for (int i = 0; i < 2; i++) {
		f->h->x[6] = 0x123456789;
		f->h->x[7] = 1000;
		f->h->x[8] = 0x10;
		f->h->x[9] = 7;
		fx_run(f, pc, 20);
		assert_int_equal(f->h->x[5], 1000 + (0x123456789ull << 2));
		assert_int_equal(f->h->x[8], 7 + (0x10 << 3));
		assert_int_equal(f->h->x[10], 0x123456789ull << 2);
		assert_int_equal(f->h->x[11], 0x123456789ull << 2);
		assert_int_equal(f->h->x[12], 1000 + (0x123456789ull << 2));
		assert_int_equal(f->h->x[13], 0x123456789ull << 3);
		assert_int_equal(f->h->x[14], 0x123456789ull << 4);
		assert_int_equal(f->h->pc, pc + 44);
	}
	fx_free_jit(f);
}

/* A register written with an immediate (li, lui) right after rax was left
 * holding it: the next read must see the immediate, not rax. */
static void test_imm_write_forgets_rax(void **state)
{
	(void)state;
	struct fx *f = fx_new_jit();
	const uint32_t prog[] = {
		enc_r(0, 7, 6, 0, 5, 0x33),     /* add x5, x6, x7: rax = x5 */
		ADDI(5, 0, 5),                  /* li x5, 5 */
		ADDI(8, 5, 1),                  /* addi x8, x5, 1 */
		0x00000073,                     /* ecall */
	};
	uint64_t pc = fx_code(f, prog, 4);
	f->h->x[6] = 100;
	f->h->x[7] = 200;
	fx_run(f, pc, 10);
	assert_int_equal(f->h->x[5], 5);
	assert_int_equal(f->h->x[8], 6);
	fx_free_jit(f);
}

static void test_x0_and_jalr(void **state)
{
	(void)state;
	struct fx *f = fx_new_jit();
	uint64_t target = fx_alloc_code(f, 8);
	uint32_t tcode[] = { ADDI(8, 0, 3), INSN_J_SELF };
	memcpy(fx_ram(f, target, 8), tcode, 8);
	uint32_t prog[] = {
		ADDI(0, 0, 5),
		enc_r(0, 0, 0, 0, 6, 0x33),        /* add x6, x0, x0 */
		LD(0, 10, 0),                      /* load into x0: discarded */
		enc_i(0, 7, 0, 7, 0x67),           /* jalr x7, 0(x7) */
	};
	uint64_t pc = fx_code(f, prog, 4);
	f->h->x[6] = 99;
	f->h->x[7] = target;
	f->h->x[10] = DATA;
	fx_run(f, pc, 10);
	assert_int_equal(f->h->x[0], 0);
	assert_int_equal(f->h->x[6], 0);
	assert_int_equal(f->h->x[7], pc + 16);
	assert_int_equal(f->h->x[8], 3);
	assert_int_equal(f->h->pc, target + 4);
	fx_free_jit(f);
}

#define CBO(fn, rs1) enc_i((fn), (rs1), 2, 0, 0x0f)

/* cbo.zero zeroes the aligned 64-byte block holding x[rs1] and nothing
 * else; it faults as a store on the block's address; menvcfg (the VMM)
 * and, in U-mode, senvcfg gate it; clean/flush/inval only check access.
 * The same program runs interpreted and compiled. */
static void test_cbo(void **state)
{
	(void)state;
	for (int jit = 0; jit < 2; jit++) {
		struct fx *f = jit ? fx_new_jit() : fx_new();
		struct hart *h = f->h;
		memset(fx_ram(f, DATA, 256), 0xa5, 256);
		uint32_t prog[] = {
			CBO(4, 10), CBO(1, 10), CBO(2, 10), CBO(0, 10),
			ADDI(5, 0, 7), INSN_J_SELF,
		};
		uint64_t pc = fx_code(f, prog, 6);
		h->x[10] = DATA + 0x47;
		h->x[5] = 0;
		fx_run(f, pc, 5);
		assert_int_equal(h->scause, SENTINEL);
		assert_int_equal(h->x[5], 7);
		uint8_t *m = fx_ram(f, DATA, 256);
		assert_int_equal(m[0x3f], 0xa5);
		for (int i = 0x40; i < 0x80; i++)
			assert_int_equal(m[i], 0);
		assert_int_equal(m[0x80], 0xa5);

		/* outside RAM: a store access fault at the block address, after
		 * the instruction before it retired */
		uint32_t fault[] = { ADDI(5, 0, 9), CBO(4, 10), ADDI(5, 0, 1), INSN_J_SELF };
		pc = fx_code(f, fault, 4);
		h->x[10] = 0x4010;
		assert_int_equal(fx_run(f, pc, 2), 2);
		assert_int_equal(h->scause, EXC_STORE_ACCESS);
		assert_int_equal(h->stval, 0x4000);
		assert_int_equal(h->sepc, pc + 4);
		assert_int_equal(h->x[5], 9);
		h->x[10] = 0x4010;              /* clean on it faults as a store too */
		pc = fx_code(f, (uint32_t[]){ CBO(1, 10), INSN_J_SELF }, 2);
		fx_run(f, pc, 1);
		assert_int_equal(h->scause, EXC_STORE_ACCESS);

		/* disabled by M-mode: illegal in S-mode */
		h->x[10] = DATA;
		h->menvcfg &= ~ENVCFG_CBZE;
		pc = fx_code(f, (uint32_t[]){ CBO(4, 10), INSN_J_SELF }, 2);
		fx_run(f, pc, 1);
		assert_int_equal(h->scause, EXC_ILLEGAL);
		assert_int_equal(h->stval, CBO(4, 10));
		h->menvcfg |= ENVCFG_CBZE;

		/* U-mode needs senvcfg.CBZE as well */
		pc = fx_code(f, (uint32_t[]){ CBO(4, 10), INSN_J_SELF }, 2);
		h->senvcfg = 0;
		h->priv = PRV_U;
		tlb_update_mode(h);
		fx_run(f, pc, 1);
		assert_int_equal(h->scause, EXC_ILLEGAL);
		h->senvcfg = ENVCFG_CBZE;
		h->priv = PRV_U;
		tlb_update_mode(h);
		wr64(f, DATA, 1);
		fx_run(f, pc, 1);
		assert_int_equal(h->scause, SENTINEL);
		assert_int_equal(rd64(f, DATA), 0);
		h->priv = PRV_S;
		tlb_update_mode(h);
		if (jit) fx_free_jit(f); else fx_free(f);
	}
}

/* A full code buffer is flushed and compilation goes on. */
static void test_buffer_full_flushes(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	f->h->jit = jit_new(4096);
	assert_non_null(f->h->jit);
	uint32_t prog[40];
	for (int i = 0; i < 39; i++)
		prog[i] = ADDI(5, 5, 1);
	prog[39] = INSN_J_SELF;
	for (int k = 0; k < 20; k++) {     /* each copy is a new block */
		uint64_t pc = fx_code(f, prog, 40);
		f->h->x[5] = 0;
		fx_run(f, pc, 60);
		assert_int_equal(f->h->x[5], 39);
	}
	jit_free(f->h->jit);
	f->h->jit = NULL;
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_programs_match_interpreter),
		cmocka_unit_test(test_random_fp_programs_match_interpreter),
		cmocka_unit_test(test_random_bitmanip_programs_match_interpreter),
		cmocka_unit_test(test_fp_off_traps),
		cmocka_unit_test(test_slow_paths),
		cmocka_unit_test(test_trap_mid_block),
		cmocka_unit_test(test_self_modifying_code),
		cmocka_unit_test(test_inner_branches),
		cmocka_unit_test(test_kick_ends_slice),
		cmocka_unit_test(test_jump_cache_follows_code),
		cmocka_unit_test(test_loop_across_pages),
		cmocka_unit_test(test_shift_add_fusion),
		cmocka_unit_test(test_imm_write_forgets_rax),
		cmocka_unit_test(test_x0_and_jalr),
		cmocka_unit_test(test_buffer_full_flushes),
		cmocka_unit_test(test_cbo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
