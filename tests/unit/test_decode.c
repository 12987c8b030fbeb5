/* Decode and execute tests for the interpreter (exec.c) and RVC expansion
 * (rvc.c): every immediate format, RV64IMA edge cases, illegal encodings and
 * each compressed instruction against encodings produced by GNU as. */
#include "cpu_fixture.h"

#define INT64_MIN_U 0x8000000000000000ull
#define ONES        0xffffffffffffffffull
#define JUNK        0xdeadbeefcafef00dull

/* Encoders against GNU as (riscv64-linux-gnu-as -march=rv64gc), so the
 * execution tests below feed the interpreter real encodings. */
static void test_encoders(void **state)
{
	(void)state;
	assert_int_equal(enc_i(-2048, 11, 0, 10, 0x13), 0x80058513);   /* addi a0,a1,-2048 */
	assert_int_equal(enc_i(2047, 27, 0, 31, 0x13), 0x7ffd8f93);    /* addi t6,s11,2047 */
	assert_int_equal(enc_s(-8, 12, 13, 3, 0x23), 0xfec6bc23);      /* sd a2,-8(a3) */
	assert_int_equal(enc_s(2047, 5, 2, 0, 0x23), 0x7e510fa3);      /* sb t0,2047(sp) */
	assert_int_equal(enc_b(-4096, 11, 10, 0), 0x80b50063);         /* beq a0,a1,.-4096 */
	assert_int_equal(enc_b(4094, 6, 8, 6), 0x7e646fe3);            /* bltu s0,t1,.+4094 */
	assert_int_equal(enc_b(2, 31, 0, 5), 0x01f05163);              /* bge x0,t6,.+2 */
	assert_int_equal(enc_u(0x80000, 10, 0x37), 0x80000537);        /* lui a0,0x80000 */
	assert_int_equal(enc_u(0xfffff, 1, 0x17), 0xfffff097);         /* auipc ra,0xfffff */
	assert_int_equal(enc_j(-1048576, 1), 0x800000ef);              /* jal ra,.-1M */
	assert_int_equal(enc_j(1048574, 0), 0x7ffff06f);               /* j .+1M-2 */
	assert_int_equal(enc_j(2048, 5), 0x001002ef);                  /* jal t0,.+2048 */
	assert_int_equal(enc_i(-1, 6, 0, 5, 0x67), 0xfff302e7);        /* jalr t0,-1(t1) */
	assert_int_equal(enc_i(63, 11, 1, 10, 0x13), 0x03f59513);      /* slli a0,a1,63 */
	assert_int_equal(enc_i(0x400 | 33, 11, 5, 10, 0x13), 0x4215d513); /* srai a0,a1,33 */
	assert_int_equal(enc_i(0x400 | 31, 6, 5, 5, 0x1b), 0x41f3529b);   /* sraiw t0,t1,31 */
	assert_int_equal(enc_r(0x01 << 2 | 3, 11, 12, 2, 10, 0x2f), 0x0eb6252f); /* amoswap.w.aqrl */
	assert_int_equal(AMO(0x18, 3, 5, 7, 6), 0xc063b2af);           /* amominu.d t0,t1,(t2) */
	assert_int_equal(AMO(0x02, 2, 10, 11, 0), 0x1005a52f);         /* lr.w a0,(a1) */
	assert_int_equal(AMO(0x03, 3, 28, 30, 29), 0x19df3e2f);        /* sc.d t3,t4,(t5) */
	assert_int_equal(CSRRW(5, 0x140, 6), 0x140312f3);              /* csrrw t0,sscratch,t1 */
	assert_int_equal(CSRRCI(0, 0x100, 31), 0x100ff073);            /* csrrci x0,sstatus,31 */
	assert_int_equal(enc_r(1, 12, 11, 2, 10, 0x33), 0x02c5a533);   /* mulhsu a0,a1,a2 */
	assert_int_equal(enc_r(1, 20, 19, 7, 18, 0x3b), 0x0349f93b);   /* remuw s2,s3,s4 */
	assert_int_equal(SFENCE_VMA(10, 0), 0x12050073);               /* sfence.vma a0 */
}

/* x5 = op(x6, x7) for an R-type instruction. */
static uint64_t rr(struct fx *f, uint32_t insn, uint64_t a, uint64_t b)
{
	f->h->x[5] = JUNK;
	f->h->x[6] = a;
	f->h->x[7] = b;
	fx_exec1(f, insn);
	return f->h->x[5];
}
#define OP(f7, f3)   enc_r((f7), 7, 6, (f3), 5, 0x33)
#define OP32(f7, f3) enc_r((f7), 7, 6, (f3), 5, 0x3b)

/* x5 = op(x6, imm) for an I-type instruction with rd=x5, rs1=x6. */
static uint64_t ri(struct fx *f, int32_t imm, unsigned f3, unsigned op, uint64_t a)
{
	f->h->x[5] = JUNK;
	f->h->x[6] = a;
	fx_exec1(f, enc_i(imm, 6, f3, 5, op));
	return f->h->x[5];
}

static void test_op_imm(void **state)
{
	struct fx *f = *state;
	assert_int_equal(ri(f, -2048, 0, 0x13, 0), 0xfffffffffffff800ull);   /* addi */
	assert_int_equal(ri(f, 2047, 0, 0x13, 1), 2048);
	assert_int_equal(ri(f, -1, 0, 0x13, 0), ONES);
	assert_int_equal(ri(f, -1, 2, 0x13, (uint64_t)-2), 1);                /* slti */
	assert_int_equal(ri(f, -1, 2, 0x13, (uint64_t)-1), 0);
	assert_int_equal(ri(f, 0, 2, 0x13, INT64_MIN_U), 1);
	assert_int_equal(ri(f, -1, 3, 0x13, ONES - 1), 1);                    /* sltiu: imm sign-extends */
	assert_int_equal(ri(f, -1, 3, 0x13, ONES), 0);
	assert_int_equal(ri(f, 1, 3, 0x13, 0), 1);                            /* seqz */
	assert_int_equal(ri(f, -1, 4, 0x13, 0x123), ~0x123ull);               /* xori (not) */
	assert_int_equal(ri(f, -2048, 6, 0x13, 0x1), 0xfffffffffffff801ull);  /* ori */
	assert_int_equal(ri(f, -2048, 7, 0x13, ONES), 0xfffffffffffff800ull); /* andi */
	assert_int_equal(ri(f, 2047, 7, 0x13, ONES), 0x7ff);
	/* addiw: 32-bit wrap and sign extension; upper source bits ignored */
	assert_int_equal(ri(f, 1, 0, 0x1b, 0x7fffffff), 0xffffffff80000000ull);
	assert_int_equal(ri(f, -2048, 0, 0x1b, 0x100000005ull), (uint64_t)-2043);
	assert_int_equal(ri(f, 0, 0, 0x1b, 0xffffffff7fffffffull), 0x7fffffff);  /* sext.w */
	/* writes to x0 are discarded */
	f->h->x[6] = 7;
	fx_exec1(f, ADDI(0, 6, 5));
	assert_int_equal(f->h->x[0], 0);
}

static void test_lui_auipc(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	fx_exec1(f, enc_u(0x80000, 5, 0x37));
	assert_int_equal(h->x[5], 0xffffffff80000000ull);   /* bit 31 sign-extends */
	fx_exec1(f, enc_u(0x7ffff, 5, 0x37));
	assert_int_equal(h->x[5], 0x7ffff000);
	fx_exec1(f, enc_u(0xfffff, 5, 0x37));
	assert_int_equal(h->x[5], 0xfffffffffffff000ull);
	uint64_t pc = fx_exec1(f, enc_u(0, 5, 0x17));
	assert_int_equal(h->x[5], pc);
	pc = fx_exec1(f, enc_u(1, 5, 0x17));
	assert_int_equal(h->x[5], pc + 0x1000);
	pc = fx_exec1(f, enc_u(0x80000, 5, 0x17));
	assert_int_equal(h->x[5], pc - 0x80000000ull);
	pc = fx_exec1(f, enc_u(0xfffff, 5, 0x17));
	assert_int_equal(h->x[5], pc - 0x1000);
}

/* Run one control-transfer instruction; returns (new pc - old pc). */
static int64_t jump1(struct fx *f, uint32_t insn, uint64_t *pc_out)
{
	uint64_t pc = fx_code(f, &insn, 1);
	fx_run(f, pc, 1);
	assert_int_equal(f->h->scause, SENTINEL);
	if (pc_out)
		*pc_out = pc;
	return (int64_t)(f->h->pc - pc);
}

static void test_jal(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	uint64_t pc;
	h->x[1] = JUNK;
	assert_int_equal(jump1(f, enc_j(2048, 1), &pc), 2048);
	assert_int_equal(h->x[1], pc + 4);
	assert_int_equal(jump1(f, enc_j(-8, 1), &pc), -8);
	assert_int_equal(h->x[1], pc + 4);
	h->x[5] = JUNK;
	assert_int_equal(jump1(f, enc_j(-1048576, 5), &pc), -1048576);
	assert_int_equal(h->x[5], pc + 4);
	assert_int_equal(jump1(f, enc_j(1048574, 5), &pc), 1048574);
	assert_int_equal(h->x[5], pc + 4);
	assert_int_equal(jump1(f, enc_j(2, 0), &pc), 2);   /* halfword target (RVC) */
	assert_int_equal(h->x[0], 0);
}

static void test_jalr(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	uint64_t pc;
	/* the target's bit 0 is cleared after adding the offset */
	h->x[6] = 0x80001003;
	h->x[1] = JUNK;
	jump1(f, enc_i(-2, 6, 0, 1, 0x67), &pc);
	assert_int_equal(h->pc, 0x80001000);
	assert_int_equal(h->x[1], pc + 4);
	h->x[6] = 0x80000000;
	jump1(f, enc_i(2047, 6, 0, 1, 0x67), &pc);
	assert_int_equal(h->pc, 0x800007fe);
	h->x[6] = 0x80002000;
	jump1(f, enc_i(-2048, 6, 0, 1, 0x67), &pc);
	assert_int_equal(h->pc, 0x80001800);
	/* rd == rs1: the target uses the old value */
	h->x[5] = 0x80003000;
	jump1(f, enc_i(4, 5, 0, 5, 0x67), &pc);
	assert_int_equal(h->pc, 0x80003004);
	assert_int_equal(h->x[5], pc + 4);
	/* ret: jalr x0, 0(ra) */
	h->x[1] = 0x80004002;
	jump1(f, enc_i(0, 1, 0, 0, 0x67), &pc);
	assert_int_equal(h->pc, 0x80004002);
	assert_int_equal(h->x[0], 0);
	/* funct3 != 0 is reserved */
	h->x[5] = JUNK;
	uint32_t bad = enc_i(0, 6, 1, 5, 0x67);
	assert_int_equal(fx_trap1(f, bad), EXC_ILLEGAL);
	assert_int_equal(h->stval, bad);
	assert_int_equal(h->x[5], JUNK);
}

/* 1 if the branch with offset 16 is taken, 0 if it falls through. */
static int branch(struct fx *f, unsigned f3, uint64_t a, uint64_t b)
{
	f->h->x[6] = a;
	f->h->x[7] = b;
	int64_t d = jump1(f, enc_b(16, 7, 6, f3), NULL);
	assert_true(d == 16 || d == 4);
	return d == 16;
}

static void test_branches(void **state)
{
	struct fx *f = *state;
	enum { BEQ = 0, BNE = 1, BLT = 4, BGE = 5, BLTU = 6, BGEU = 7 };
	const uint64_t m1 = ONES, imin = INT64_MIN_U, imax = INT64_MIN_U - 1;

	assert_true(branch(f, BEQ, 5, 5));
	assert_false(branch(f, BEQ, 5, 6));
	assert_false(branch(f, BEQ, 0x100000000ull, 0));   /* all 64 bits compare */
	assert_false(branch(f, BNE, 5, 5));
	assert_true(branch(f, BNE, imin, 0));

	assert_true(branch(f, BLT, m1, 1));
	assert_false(branch(f, BLT, 1, m1));
	assert_false(branch(f, BLT, 5, 5));
	assert_true(branch(f, BLT, imin, imax));
	assert_false(branch(f, BGE, m1, 1));
	assert_true(branch(f, BGE, 1, m1));
	assert_true(branch(f, BGE, 5, 5));
	assert_true(branch(f, BGE, imin, imin));

	assert_false(branch(f, BLTU, m1, 1));
	assert_true(branch(f, BLTU, 1, m1));
	assert_false(branch(f, BLTU, 5, 5));
	assert_true(branch(f, BLTU, imax, imin));
	assert_true(branch(f, BGEU, m1, 1));
	assert_false(branch(f, BGEU, 1, m1));
	assert_true(branch(f, BGEU, 5, 5));

	/* extreme offsets, both directions */
	assert_int_equal(jump1(f, enc_b(-4096, 0, 0, BEQ), NULL), -4096);
	assert_int_equal(jump1(f, enc_b(4094, 0, 0, BEQ), NULL), 4094);
	assert_int_equal(jump1(f, enc_b(-2, 0, 0, BGEU), NULL), -2);

	/* funct3 2 and 3 are reserved */
	assert_int_equal(fx_trap1(f, enc_b(16, 7, 6, 2)), EXC_ILLEGAL);
	assert_int_equal(fx_trap1(f, enc_b(16, 7, 6, 3)), EXC_ILLEGAL);
}

static uint64_t load(struct fx *f, unsigned f3, uint64_t base, int32_t imm)
{
	f->h->x[5] = JUNK;
	f->h->x[6] = base;
	fx_exec1(f, enc_i(imm, 6, f3, 5, 0x03));
	return f->h->x[5];
}

static void test_loads(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	const uint64_t D = DATA;
	/* bytes at D: 80 80 00 80 00 00 00 80 | 7f 7f 7f 7f 7f 7f 7f 7f */
	wr64(f, D, 0x8000000080008080ull);
	wr64(f, D + 8, 0x7f7f7f7f7f7f7f7full);

	assert_int_equal(load(f, 0, D, 0), 0xffffffffffffff80ull);        /* lb */
	assert_int_equal(load(f, 1, D, 0), 0xffffffffffff8080ull);        /* lh */
	assert_int_equal(load(f, 2, D, 0), 0xffffffff80008080ull);        /* lw */
	assert_int_equal(load(f, 3, D, 0), 0x8000000080008080ull);        /* ld */
	assert_int_equal(load(f, 4, D, 0), 0x80);                         /* lbu */
	assert_int_equal(load(f, 5, D, 0), 0x8080);                       /* lhu */
	assert_int_equal(load(f, 6, D, 0), 0x80008080);                   /* lwu */
	assert_int_equal(load(f, 0, D + 8, 0), 0x7f);
	assert_int_equal(load(f, 1, D + 8, 0), 0x7f7f);
	assert_int_equal(load(f, 2, D + 8, 0), 0x7f7f7f7f);
	/* extreme offsets */
	assert_int_equal(load(f, 0, D + 2048, -2048), 0xffffffffffffff80ull);
	assert_int_equal(load(f, 4, D + 8 - 2047, 2047), 0x7f);
	/* misaligned, inside a page */
	assert_int_equal(load(f, 6, D + 1, 0), 0x00800080);
	assert_int_equal(load(f, 3, D + 3, 0), 0x7f7f7f8000000080ull);
	assert_int_equal(load(f, 1, D + 7, 0), 0x7f80);
	/* rd == rs1, and rd == x0 */
	h->x[6] = D;
	fx_exec1(f, LD(6, 6, 8));
	assert_int_equal(h->x[6], 0x7f7f7f7f7f7f7f7full);
	h->x[6] = D;
	fx_exec1(f, LD(0, 6, 0));
	assert_int_equal(h->x[0], 0);
	/* funct3 7 is reserved */
	h->x[5] = JUNK;
	uint32_t bad = enc_i(0, 6, 7, 5, 0x03);
	assert_int_equal(fx_trap1(f, bad), EXC_ILLEGAL);
	assert_int_equal(h->stval, bad);
	assert_int_equal(h->x[5], JUNK);
}

static void test_stores(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	const uint64_t D = DATA + 0x100;
	uint8_t *m = fx_ram(f, D, 24);
	memset(m, 0xaa, 24);
	h->x[7] = 0x1122334455667788ull;

	h->x[6] = D + 2048;
	fx_exec1(f, SB(7, 6, -2048));
	h->x[6] = D;
	fx_exec1(f, enc_s(2, 7, 6, 1, 0x23));          /* sh */
	fx_exec1(f, SW(7, 6, 4));
	h->x[6] = D + 8 - 2047;
	fx_exec1(f, SD(7, 6, 2047));
	static const uint8_t want[24] = {
		0x88, 0xaa, 0x88, 0x77, 0x88, 0x77, 0x66, 0x55,
		0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
		0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
	};
	assert_memory_equal(m, want, 24);

	/* misaligned store inside a page */
	h->x[6] = D + 17;
	fx_exec1(f, SW(7, 6, 0));
	static const uint8_t want2[8] = { 0xaa, 0x88, 0x77, 0x66, 0x55, 0xaa, 0xaa, 0xaa };
	assert_memory_equal(m + 16, want2, 8);

	/* funct3 4 is reserved: nothing is written */
	h->x[6] = D;
	assert_int_equal(fx_trap1(f, enc_s(0, 7, 6, 4, 0x23)), EXC_ILLEGAL);
	assert_memory_equal(m, want, 16);
}

/* FP loads and stores go through the generic executor: their offsets must
 * be sign-extended like every other (a negative one once went 4 GiB up). */
static void test_fp_load_store_negative_offset(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	const uint64_t D = DATA + 0x200;
	h->sstatus |= SSTATUS_FS;                                   /* FP on */
	h->f[3] = 0x400921fb54442d18ull;                         /* pi */
	h->x[6] = D + 32;
	fx_exec1(f, enc_s(-32, 3, 6, 3, 0x27));                     /* fsd f3, -32(x6) */
	assert_int_equal(rd64(f, D), 0x400921fb54442d18ull);
	fx_exec1(f, enc_s(-24, 3, 6, 2, 0x27));                     /* fsw f3, -24(x6) */
	assert_int_equal(rd32(f, D + 8), 0x54442d18u);
	fx_exec1(f, enc_i(-32, 6, 3, 4, 0x07));                     /* fld f4, -32(x6) */
	assert_int_equal(h->f[4], 0x400921fb54442d18ull);
	fx_exec1(f, enc_i(-24, 6, 2, 5, 0x07));                     /* flw f5, -24(x6) */
	assert_int_equal(h->f[5], 0xffffffff54442d18ull);           /* NaN-boxed */
}

static void test_shifts(void **state)
{
	struct fx *f = *state;
	/* register shifts use only the low 6 (64-bit) or 5 (W) bits */
	assert_int_equal(rr(f, OP(0, 1), 1, 63), INT64_MIN_U);              /* sll */
	assert_int_equal(rr(f, OP(0, 1), 1, 64), 1);
	assert_int_equal(rr(f, OP(0, 1), 1, 65), 2);
	assert_int_equal(rr(f, OP(0, 5), INT64_MIN_U, 63), 1);              /* srl */
	assert_int_equal(rr(f, OP(0, 5), INT64_MIN_U, ONES), 1);
	assert_int_equal(rr(f, OP(0x20, 5), INT64_MIN_U, 63), ONES);        /* sra */
	assert_int_equal(rr(f, OP(0x20, 5), INT64_MIN_U, 4), 0xf800000000000000ull);
	assert_int_equal(rr(f, OP(0x20, 5), 0x4000000000000000ull, 62), 1);

	assert_int_equal(ri(f, 63, 1, 0x13, 1), INT64_MIN_U);               /* slli 63 */
	assert_int_equal(ri(f, 63, 5, 0x13, INT64_MIN_U), 1);               /* srli 63 */
	assert_int_equal(ri(f, 0, 5, 0x13, INT64_MIN_U), INT64_MIN_U);      /* srli 0 */
	assert_int_equal(ri(f, 0x400 | 63, 5, 0x13, INT64_MIN_U), ONES);    /* srai 63 */
	assert_int_equal(ri(f, 0x400 | 32, 5, 0x13, INT64_MIN_U), 0xffffffff80000000ull);
	assert_int_equal(ri(f, 0x400 | 1, 5, 0x13, 0x4000000000000000ull), 0x2000000000000000ull);

	assert_int_equal(rr(f, OP32(0, 1), 1, 31), 0xffffffff80000000ull);   /* sllw */
	assert_int_equal(rr(f, OP32(0, 1), 1, 32), 1);
	assert_int_equal(rr(f, OP32(0, 1), 1, 33), 2);
	assert_int_equal(rr(f, OP32(0, 1), 0x100000001ull, 0), 1);
	assert_int_equal(rr(f, OP32(0, 5), 0x80000000, 0), 0xffffffff80000000ull); /* srlw */
	assert_int_equal(rr(f, OP32(0, 5), 0xffffffff80000000ull, 1), 0x40000000);
	assert_int_equal(rr(f, OP32(0, 5), 0x100000000ull, 0), 0);
	assert_int_equal(rr(f, OP32(0, 5), 0x80000000, 33), 0x40000000);
	assert_int_equal(rr(f, OP32(0x20, 5), 0x80000000, 31), ONES);        /* sraw */
	assert_int_equal(rr(f, OP32(0x20, 5), 0x80000000, 4), 0xfffffffff8000000ull);
	assert_int_equal(rr(f, OP32(0x20, 5), 0xffffffff7fffffffull, 4), 0x07ffffff);

	assert_int_equal(ri(f, 31, 1, 0x1b, 1), 0xffffffff80000000ull);       /* slliw */
	assert_int_equal(ri(f, 31, 5, 0x1b, 0x80000000), 1);                  /* srliw */
	assert_int_equal(ri(f, 0, 5, 0x1b, 0x80000000), 0xffffffff80000000ull);
	assert_int_equal(ri(f, 0x400 | 31, 5, 0x1b, 0x80000000), ONES);       /* sraiw */
	assert_int_equal(ri(f, 0x400 | 0, 5, 0x1b, 0x1ffffffffull), ONES);

	/* RV64 shamt is 6 bits: bits 31:26 (other than srai's funct6) are illegal */
	uint32_t bad[] = {
		enc_i(0x400 | 1, 6, 1, 5, 0x13),   /* "slai" */
		enc_i(0x040 | 1, 6, 1, 5, 0x13),   /* slli with insn bit 26 */
		enc_i(0x040 | 1, 6, 5, 5, 0x13),   /* srli with insn bit 26 */
		enc_i(0x440 | 1, 6, 5, 5, 0x13),   /* srai with insn bit 26 */
		enc_i(0x800 | 1, 6, 1, 5, 0x13),
		enc_i(32, 6, 1, 5, 0x1b),          /* slliw with shamt[5] */
		enc_i(32, 6, 5, 5, 0x1b),          /* srliw with shamt[5] */
		enc_i(0x400 | 32, 6, 5, 5, 0x1b),  /* sraiw with shamt[5] */
		enc_i(0, 6, 2, 5, 0x1b),           /* OP-IMM-32 funct3 2 */
		enc_r(0x20, 7, 6, 1, 5, 0x3b),     /* "slaw" */
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f->h->x[5] = JUNK;
		assert_int_equal(fx_trap1(f, bad[i]), EXC_ILLEGAL);
		assert_int_equal(f->h->stval, bad[i]);
		assert_int_equal(f->h->x[5], JUNK);
	}
}

static void test_muldiv(void **state)
{
	struct fx *f = *state;
	const uint64_t imin = INT64_MIN_U, m1 = ONES;
	enum { MUL = 0, MULH, MULHSU, MULHU, DIV, DIVU, REM, REMU };

	assert_int_equal(rr(f, OP(1, MUL), imin, m1), imin);
	assert_int_equal(rr(f, OP(1, MUL), 0xffffffff, 0xffffffff), 0xfffffffe00000001ull);
	assert_int_equal(rr(f, OP(1, MULH), m1, m1), 0);
	assert_int_equal(rr(f, OP(1, MULH), imin, imin), 0x4000000000000000ull);
	assert_int_equal(rr(f, OP(1, MULH), imin, 1), m1);
	assert_int_equal(rr(f, OP(1, MULH), 1ull << 62, 4), 1);
	assert_int_equal(rr(f, OP(1, MULHSU), m1, m1), m1);
	assert_int_equal(rr(f, OP(1, MULHSU), imin, m1), imin);
	assert_int_equal(rr(f, OP(1, MULHSU), 2, imin), 1);
	assert_int_equal(rr(f, OP(1, MULHSU), (uint64_t)-2, imin), m1);
	assert_int_equal(rr(f, OP(1, MULHSU), m1, 1), m1);
	assert_int_equal(rr(f, OP(1, MULHU), m1, m1), 0xfffffffffffffffeull);
	assert_int_equal(rr(f, OP(1, MULHU), imin, 2), 1);
	assert_int_equal(rr(f, OP(1, MULHU), m1, 1), 0);

	assert_int_equal(rr(f, OP(1, DIV), 7, (uint64_t)-2), (uint64_t)-3);
	assert_int_equal(rr(f, OP(1, DIV), (uint64_t)-7, 2), (uint64_t)-3);
	assert_int_equal(rr(f, OP(1, DIV), 7, 0), m1);
	assert_int_equal(rr(f, OP(1, DIV), imin, m1), imin);
	assert_int_equal(rr(f, OP(1, DIVU), m1, 2), 0x7fffffffffffffffull);
	assert_int_equal(rr(f, OP(1, DIVU), 5, 0), m1);
	assert_int_equal(rr(f, OP(1, REM), (uint64_t)-7, 2), m1);
	assert_int_equal(rr(f, OP(1, REM), 7, (uint64_t)-2), 1);
	assert_int_equal(rr(f, OP(1, REM), 5, 0), 5);
	assert_int_equal(rr(f, OP(1, REM), (uint64_t)-5, 0), (uint64_t)-5);
	assert_int_equal(rr(f, OP(1, REM), imin, m1), 0);
	assert_int_equal(rr(f, OP(1, REMU), m1, 10), 5);
	assert_int_equal(rr(f, OP(1, REMU), m1, 0), m1);

	/* W forms: 32-bit operands, sign-extended 32-bit results */
	assert_int_equal(rr(f, OP32(1, MUL), 0x7fffffff, 2), (uint64_t)-2);
	assert_int_equal(rr(f, OP32(1, MUL), 0x100000003ull, 0x100000005ull), 15);
	assert_int_equal(rr(f, OP32(1, MUL), 0x10000, 0x10000), 0);
	assert_int_equal(rr(f, OP32(1, DIV), 0x80000000, m1), 0xffffffff80000000ull);
	assert_int_equal(rr(f, OP32(1, DIV), 0x80000000, 0xffffffff), 0xffffffff80000000ull);
	assert_int_equal(rr(f, OP32(1, DIV), 123, 0x100000000ull), m1);      /* divisor is 0 */
	assert_int_equal(rr(f, OP32(1, DIV), 0x100000006ull, 3), 2);
	assert_int_equal(rr(f, OP32(1, DIV), (uint64_t)-7, 2), (uint64_t)-3);
	assert_int_equal(rr(f, OP32(1, DIVU), 0x80000000, 1), 0xffffffff80000000ull);
	assert_int_equal(rr(f, OP32(1, DIVU), 5, 0), m1);
	assert_int_equal(rr(f, OP32(1, DIVU), 0xffffffff, 2), 0x7fffffff);
	assert_int_equal(rr(f, OP32(1, DIVU), 0x100000006ull, 3), 2);
	assert_int_equal(rr(f, OP32(1, REM), (uint64_t)-7, 2), m1);
	assert_int_equal(rr(f, OP32(1, REM), 7, (uint64_t)-2), 1);
	assert_int_equal(rr(f, OP32(1, REM), 0x80000000, m1), 0);
	assert_int_equal(rr(f, OP32(1, REM), 0x180000001ull, 0), 0xffffffff80000001ull);
	assert_int_equal(rr(f, OP32(1, REMU), 0xffffffff, 0), m1);
	assert_int_equal(rr(f, OP32(1, REMU), 0x180000001ull, 0), 0xffffffff80000001ull);
	assert_int_equal(rr(f, OP32(1, REMU), 0x80000007, 0x10), 7);
	assert_int_equal(rr(f, OP32(1, REMU), 0xfffffffe, 0xffffffff), 0xfffffffffffffffeull);
}

static void test_amo(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	const uint64_t D = DATA + 0x200;
	enum { W = 2, DW = 3 };
	enum { ADD = 0x00, SWAP = 0x01, XOR = 0x04, OR = 0x08, AND = 0x0c,
	       MIN = 0x10, MAX = 0x14, MINU = 0x18, MAXU = 0x1c };
	/* x5 = amo(x6 = D, x7) */
#define AMO_RUN(f5, width, mem_init, src) do {                   \
		if ((width) == W) { wr32(f, D, (uint32_t)(mem_init)); wr32(f, D + 4, 0xaaaaaaaa); } \
		else wr64(f, D, (mem_init));                             \
		h->x[5] = JUNK; h->x[6] = D; h->x[7] = (src);            \
		fx_exec1(f, AMO((f5), (width), 5, 6, 7));                \
	} while (0)

	AMO_RUN(SWAP, W, 0x80000000, 0x123456789ull);
	assert_int_equal(h->x[5], 0xffffffff80000000ull);   /* old value sign-extended */
	assert_int_equal(rd32(f, D), 0x23456789);
	assert_int_equal(rd32(f, D + 4), 0xaaaaaaaa);      /* .W touches 4 bytes only */
	AMO_RUN(ADD, W, 0x7fffffff, 1);
	assert_int_equal(h->x[5], 0x7fffffff);
	assert_int_equal(rd32(f, D), 0x80000000);
	AMO_RUN(ADD, DW, ONES, 1);
	assert_int_equal(h->x[5], ONES);
	assert_int_equal(rd64(f, D), 0);
	AMO_RUN(XOR, W, 0xf0f0f0f0, 0xffffffffffffffffull);
	assert_int_equal(rd32(f, D), 0x0f0f0f0f);
	assert_int_equal(h->x[5], 0xfffffffff0f0f0f0ull);
	AMO_RUN(AND, DW, 0xff00ff00ff00ff00ull, 0x0ff00ff00ff00ff0ull);
	assert_int_equal(rd64(f, D), 0x0f000f000f000f00ull);
	AMO_RUN(OR, W, 0x00000001, 0x80000000);
	assert_int_equal(rd32(f, D), 0x80000001);
	assert_int_equal(h->x[5], 1);

	AMO_RUN(MIN, W, 0xffffffff, 1);                  /* -1 < 1 signed */
	assert_int_equal(rd32(f, D), 0xffffffff);
	assert_int_equal(h->x[5], ONES);
	AMO_RUN(MIN, W, 1, 0xffffffffull);               /* rs2 is -1 as a word */
	assert_int_equal(rd32(f, D), 0xffffffff);
	AMO_RUN(MINU, W, 0xffffffff, 1);
	assert_int_equal(rd32(f, D), 1);
	assert_int_equal(h->x[5], ONES);
	AMO_RUN(MINU, W, 5, 0x100000003ull);             /* upper half of rs2 ignored */
	assert_int_equal(rd32(f, D), 3);
	AMO_RUN(MAX, W, 0x80000000, 0x7fffffff);
	assert_int_equal(rd32(f, D), 0x7fffffff);
	AMO_RUN(MAXU, W, 0x80000000, 0x7fffffff);
	assert_int_equal(rd32(f, D), 0x80000000);
	assert_int_equal(h->x[5], 0xffffffff80000000ull);
	AMO_RUN(MIN, DW, INT64_MIN_U, 0);
	assert_int_equal(rd64(f, D), INT64_MIN_U);
	AMO_RUN(MAX, DW, 1, INT64_MIN_U);
	assert_int_equal(rd64(f, D), 1);
	AMO_RUN(MAXU, DW, 1, INT64_MIN_U);
	assert_int_equal(rd64(f, D), INT64_MIN_U);
	AMO_RUN(MINU, DW, INT64_MIN_U, 5);
	assert_int_equal(rd64(f, D), 5);
	assert_int_equal(h->x[5], INT64_MIN_U);
#undef AMO_RUN

	/* rd == rs2: the source is read before rd is written */
	wr64(f, D, 111);
	h->x[6] = D;
	h->x[7] = 222;
	fx_exec1(f, AMO(SWAP, DW, 7, 6, 7));
	assert_int_equal(h->x[7], 111);
	assert_int_equal(rd64(f, D), 222);

	/* misaligned: store/AMO address misaligned, memory untouched */
	wr64(f, D, 0x1111111111111111ull);
	h->x[6] = D + 2;
	assert_int_equal(fx_trap1(f, AMO(ADD, W, 5, 6, 7)), EXC_STORE_MISALIGNED);
	assert_int_equal(h->stval, D + 2);
	h->x[6] = D + 4;
	assert_int_equal(fx_trap1(f, AMO(ADD, DW, 5, 6, 7)), EXC_STORE_MISALIGNED);
	assert_int_equal(fx_trap1(f, AMO(0x02, DW, 5, 6, 0)), EXC_LOAD_MISALIGNED);
	assert_int_equal(rd64(f, D), 0x1111111111111111ull);

	/* reserved encodings */
	h->x[6] = D;
	assert_int_equal(fx_trap1(f, AMO(0x05, W, 5, 6, 7)), EXC_ILLEGAL);
	assert_int_equal(fx_trap1(f, AMO(ADD, 0, 5, 6, 7)), EXC_ILLEGAL);   /* no byte AMOs */
	assert_int_equal(fx_trap1(f, AMO(ADD, 4, 5, 6, 7)), EXC_ILLEGAL);
	assert_int_equal(fx_trap1(f, AMO(0x02, W, 5, 6, 7)), EXC_ILLEGAL);  /* lr with rs2 != 0 */
	assert_int_equal(rd64(f, D), 0x1111111111111111ull);
}

static void test_lrsc(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	const uint64_t D = DATA + 0x300;
	enum { LR = 0x02, SC = 0x03, W = 2, DW = 3 };

	/* sc without a reservation fails and does not store */
	wr64(f, D, 0x1111111111111111ull);
	h->x[6] = D;
	h->x[7] = 0x42;
	h->x[8] = JUNK;
	fx_exec1(f, AMO(SC, DW, 8, 6, 7));
	assert_int_equal(h->x[8], 1);
	assert_int_equal(rd64(f, D), 0x1111111111111111ull);

	/* lr.w sign-extends; sc.w stores the low word and returns 0 */
	wr32(f, D, 0x80000001);
	wr32(f, D + 4, 0xaaaaaaaa);
	h->x[5] = JUNK;
	fx_exec1(f, AMO(LR, W, 5, 6, 0));
	assert_int_equal(h->x[5], 0xffffffff80000001ull);
	h->x[7] = 0x100000042ull;
	fx_exec1(f, AMO(SC, W, 8, 6, 7));
	assert_int_equal(h->x[8], 0);
	assert_int_equal(rd32(f, D), 0x42);
	assert_int_equal(rd32(f, D + 4), 0xaaaaaaaa);
	/* the reservation is consumed: a second sc fails */
	h->x[7] = 99;
	fx_exec1(f, AMO(SC, W, 8, 6, 7));
	assert_int_equal(h->x[8], 1);
	assert_int_equal(rd32(f, D), 0x42);

	/* sc to another address fails, and clears the reservation */
	fx_exec1(f, AMO(LR, DW, 5, 6, 0));
	h->x[9] = D + 8;
	h->x[7] = 7;
	fx_exec1(f, AMO(SC, DW, 8, 9, 7));
	assert_int_equal(h->x[8], 1);
	assert_int_equal(rd64(f, D + 8), 0);
	fx_exec1(f, AMO(SC, DW, 8, 6, 7));
	assert_int_equal(h->x[8], 1);

	/* lr.d / sc.d, back to back in one run */
	wr64(f, D, 0x8000000000000005ull);
	h->x[7] = 0xfedcba9876543210ull;
	uint32_t prog[] = { AMO(LR, DW, 5, 6, 0), AMO(SC, DW, 8, 6, 7) };
	fx_execn(f, prog, 2);
	assert_int_equal(h->x[5], 0x8000000000000005ull);
	assert_int_equal(h->x[8], 0);
	assert_int_equal(rd64(f, D), 0xfedcba9876543210ull);
}

static void test_illegal(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	uint32_t bad[] = {
		0xffffffff,
		enc_r(0x40, 7, 6, 0, 5, 0x33),     /* OP, funct7 0x40 */
		enc_r(0x20, 7, 6, 1, 5, 0x33),     /* OP, "sub" funct7 with sll */
		enc_r(0x02, 7, 6, 0, 5, 0x33),
		enc_r(0x01, 7, 6, 1, 5, 0x3b),     /* OP-32 funct7 1, funct3 1 */
		enc_r(0x20, 7, 6, 7, 5, 0x3b),
		enc_i(0, 6, 2, 5, 0x0f),           /* MISC-MEM funct3 2 */
		enc_i(0, 6, 4, 5, 0x73),           /* SYSTEM funct3 4 */
		enc_i(0x140, 6, 4, 5, 0x73),       /* ... even naming a real CSR */
		enc_i(0, 6, 0, 5, 0x0b),           /* custom-0 */
		0x00200073,                        /* uret */
		0x30200073,                        /* mret (no M-mode for the guest) */
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		h->x[5] = JUNK;
		assert_int_equal(fx_trap1(f, bad[i]), EXC_ILLEGAL);
		assert_int_equal(h->stval, bad[i]);
		assert_int_equal(h->x[5], JUNK);
	}
	/* all-zero parcel: illegal, stval is the (16-bit) instruction = 0 */
	assert_int_equal(fx_trap1(f, 0x00000000), EXC_ILLEGAL);
	assert_int_equal(h->stval, 0);

	/* trap state: SPP=S, SPIE=old SIE, SIE cleared */
	h->sstatus |= SSTATUS_SIE;
	assert_int_equal(fx_trap1(f, 0xffffffff), EXC_ILLEGAL);
	assert_true(h->sstatus & SSTATUS_SPP);
	assert_true(h->sstatus & SSTATUS_SPIE);
	assert_false(h->sstatus & SSTATUS_SIE);

	/* ebreak */
	assert_int_equal(fx_trap1(f, 0x00100073), EXC_BREAKPOINT);

	/* FP with FS=Off */
	h->sstatus &= ~SSTATUS_FS;
	assert_int_equal(fx_trap1(f, 0x023100d3), EXC_ILLEGAL);   /* fadd.d f1,f2,f3 */
	assert_int_equal(h->stval, 0x023100d3);
	h->x[6] = DATA;
	assert_int_equal(fx_trap1(f, enc_i(0, 6, 3, 1, 0x07)), EXC_ILLEGAL);  /* fld */
	assert_int_equal(fx_trap1(f, enc_i(0, 6, 1, 1, 0x07)), EXC_ILLEGAL);  /* "flb" even with FS on below */
	h->sstatus |= FS_DIRTY;
	assert_int_equal(fx_trap1(f, enc_i(0, 6, 1, 1, 0x07)), EXC_ILLEGAL);
	h->f[1] = 0;
	wr64(f, DATA, 0x4000000000000000ull);
	fx_exec1(f, enc_i(0, 6, 3, 1, 0x07));
	assert_int_equal(h->f[1], 0x4000000000000000ull);
}

/* Zba, Zbb, Zbc, Zbs and Zicond: known answers at the edges (zero inputs,
 * bit 63, shift amounts past the width, 32-bit forms sign-extending). */
static void test_bitmanip(void **state)
{
	struct fx *f = *state;
	/* Zba */
	assert_int_equal(rr(f, OP(0x10, 2), 3, 10), 16);                       /* sh1add */
	assert_int_equal(rr(f, OP(0x10, 4), 3, 10), 22);                       /* sh2add */
	assert_int_equal(rr(f, OP(0x10, 6), 0x8000000000000001ull, 1), 9);     /* sh3add */
	assert_int_equal(rr(f, OP32(0x04, 0), 0xffffffff80000000ull, 5), 0x80000005ull); /* add.uw */
	assert_int_equal(rr(f, OP32(0x10, 2), 0xffffffff80000000ull, 1), 0x100000001ull);
	assert_int_equal(rr(f, OP32(0x10, 4), 0xffffffff00000003ull, 0), 12);  /* sh2add.uw */
	assert_int_equal(rr(f, OP32(0x10, 6), 0xffffffffffffffffull, 0), 0x7fffffff8ull);
	assert_int_equal(ri(f, 0x080 | 4, 1, 0x1b, 0xffffffff80000001ull), 0x800000010ull); /* slli.uw */
	assert_int_equal(ri(f, 0x080 | 63, 1, 0x1b, 3), INT64_MIN_U);
	/* Zbb logic, counts, extension */
	assert_int_equal(rr(f, OP(0x20, 7), 0xff00, 0x0ff0), 0xf000);          /* andn */
	assert_int_equal(rr(f, OP(0x20, 6), 0, 0xffffffffffffff00ull), 0xff);  /* orn */
	assert_int_equal(rr(f, OP(0x20, 4), 5, 3), 0xfffffffffffffff9ull);     /* xnor */
	assert_int_equal(ri(f, 0x600, 1, 0x13, 0), 64);                        /* clz */
	assert_int_equal(ri(f, 0x600, 1, 0x13, 1), 63);
	assert_int_equal(ri(f, 0x600, 1, 0x13, INT64_MIN_U), 0);
	assert_int_equal(ri(f, 0x601, 1, 0x13, 0), 64);                        /* ctz */
	assert_int_equal(ri(f, 0x601, 1, 0x13, 0x100), 8);
	assert_int_equal(ri(f, 0x602, 1, 0x13, ONES), 64);                     /* cpop */
	assert_int_equal(ri(f, 0x602, 1, 0x13, 0xf0f0), 8);
	assert_int_equal(ri(f, 0x600, 1, 0x1b, 0xffffffff00000000ull), 32);    /* clzw */
	assert_int_equal(ri(f, 0x600, 1, 0x1b, 0x8000), 16);
	assert_int_equal(ri(f, 0x601, 1, 0x1b, 0x100000000ull), 32);           /* ctzw */
	assert_int_equal(ri(f, 0x601, 1, 0x1b, INT64_MIN_U), 32);   /* QEMU 7.2 says 63 */
	assert_int_equal(ri(f, 0x602, 1, 0x1b, ONES), 32);                     /* cpopw */
	assert_int_equal(ri(f, 0x604, 1, 0x13, 0x80), 0xffffffffffffff80ull);  /* sext.b */
	assert_int_equal(ri(f, 0x605, 1, 0x13, 0x17fff), 0x7fff);              /* sext.h */
	assert_int_equal(rr(f, enc_r(0x04, 0, 6, 4, 5, 0x3b), ONES, 0), 0xffff); /* zext.h */
	assert_int_equal(rr(f, OP(0x05, 6), ONES, 1), 1);                      /* max */
	assert_int_equal(rr(f, OP(0x05, 7), ONES, 1), ONES);                   /* maxu */
	assert_int_equal(rr(f, OP(0x05, 4), ONES, 1), ONES);                   /* min */
	assert_int_equal(rr(f, OP(0x05, 5), ONES, 1), 1);                      /* minu */
	/* Zbb rotates and byte ops */
	assert_int_equal(rr(f, OP(0x30, 1), 0x8000000000000001ull, 1), 3);     /* rol */
	assert_int_equal(rr(f, OP(0x30, 1), 0x8000000000000001ull, 65), 3);    /* amount mod 64 */
	assert_int_equal(rr(f, OP(0x30, 5), 1, 1), INT64_MIN_U);               /* ror */
	assert_int_equal(ri(f, 0x600 | 63, 5, 0x13, 1), 2);                    /* rori */
	assert_int_equal(ri(f, 0x600, 5, 0x13, 0x1234), 0x1234);
	assert_int_equal(rr(f, OP32(0x30, 1), 0x80000001, 1), 3);              /* rolw */
	assert_int_equal(rr(f, OP32(0x30, 5), 1, 33), 0xffffffff80000000ull);  /* rorw, mod 32 */
	assert_int_equal(ri(f, 0x600 | 31, 5, 0x1b, 1), 2);                    /* roriw */
	assert_int_equal(ri(f, 0x287, 5, 0x13, 0x0001000000ff0010ull), 0x00ff000000ff00ffull); /* orc.b */
	assert_int_equal(ri(f, 0x6b8, 5, 0x13, 0x0102030405060708ull), 0x0807060504030201ull); /* rev8 */
	/* Zbc */
	assert_int_equal(rr(f, OP(0x05, 1), 3, 3), 5);                         /* clmul */
	assert_int_equal(rr(f, OP(0x05, 3), INT64_MIN_U, 2), 1);               /* clmulh */
	assert_int_equal(rr(f, OP(0x05, 2), INT64_MIN_U, 2), 2);               /* clmulr */
	assert_int_equal(rr(f, OP(0x05, 2), 1, 1), 0);
	assert_int_equal(rr(f, OP(0x05, 3), ONES, ONES), 0x5555555555555555ull);
	/* Zbs */
	assert_int_equal(rr(f, OP(0x24, 1), ONES, 65), ~2ull);                 /* bclr */
	assert_int_equal(rr(f, OP(0x24, 5), 0x10, 4), 1);                      /* bext */
	assert_int_equal(rr(f, OP(0x34, 1), 0, 63), INT64_MIN_U);              /* binv */
	assert_int_equal(rr(f, OP(0x14, 1), 0, 0), 1);                         /* bset */
	assert_int_equal(ri(f, 0x480 | 63, 1, 0x13, ONES), 0x7fffffffffffffffull); /* bclri */
	assert_int_equal(ri(f, 0x480 | 63, 5, 0x13, INT64_MIN_U), 1);          /* bexti */
	assert_int_equal(ri(f, 0x680 | 32, 1, 0x13, 0), 0x100000000ull);       /* binvi */
	assert_int_equal(ri(f, 0x280 | 1, 1, 0x13, 0), 2);                     /* bseti */
	/* Zicond */
	assert_int_equal(rr(f, OP(0x07, 5), 7, 0), 0);                         /* czero.eqz */
	assert_int_equal(rr(f, OP(0x07, 5), 7, INT64_MIN_U), 7);
	assert_int_equal(rr(f, OP(0x07, 7), 7, 0), 7);                         /* czero.nez */
	assert_int_equal(rr(f, OP(0x07, 7), 7, 5), 0);
	/* Zihintpause: pause is a fence hint, a no-op */
	fx_exec1(f, 0x0100000f);
	/* Reserved neighbours stay illegal: packw (Zbkb), zext.h with rs2 != 0,
	 * rori's 32-bit sibling with imm[5] set, a cbo with rd != 0 or fn 3. */
	uint32_t bad[] = {
		enc_r(0x04, 7, 6, 4, 5, 0x3b),
		enc_i(0x600 | 32, 6, 5, 5, 0x1b),
		enc_i(0x603, 6, 1, 5, 0x13),
		enc_i(4, 6, 2, 5, 0x0f),
		enc_i(3, 6, 2, 0, 0x0f),
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(fx_trap1(f, bad[i]), EXC_ILLEGAL);
		assert_int_equal(f->h->stval, bad[i]);
	}
}

/* senvcfg keeps FIOM, CBIE, CBCFE and CBZE (CBIE's reserved 10 keeps the
 * old field); stimecmp is illegal when M-mode (menvcfg.STCE) withholds it. */
static void test_envcfg_csrs(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	h->x[6] = ~0ull;
	fx_exec1(f, CSRRW(0, 0x10a, 6));
	fx_exec1(f, CSRRS(5, 0x10a, 0));
	assert_int_equal(h->x[5], 0xf1);
	h->x[6] = 0x20;                    /* CBIE = 10: reserved */
	fx_exec1(f, CSRRW(0, 0x10a, 6));
	fx_exec1(f, CSRRS(5, 0x10a, 0));
	assert_int_equal(h->x[5], 0x30);
	h->x[6] = 0x10;
	fx_exec1(f, CSRRW(0, 0x10a, 6));
	fx_exec1(f, CSRRS(5, 0x10a, 0));
	assert_int_equal(h->x[5], 0x10);
	fx_exec1(f, CSRRS(5, 0x14d, 0));   /* stimecmp readable with STCE */
	h->menvcfg &= ~MENVCFG_STCE;
	assert_int_equal(fx_trap1(f, CSRRS(5, 0x14d, 0)), EXC_ILLEGAL);
	h->x[6] = 5;
	assert_int_equal(fx_trap1(f, CSRRW(0, 0x14d, 6)), EXC_ILLEGAL);
}

/* U-mode: ecall goes to S, privileged instructions are illegal. */
static void test_user_mode(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	uint32_t priv_only[] = {
		0x10200073,          /* sret */
		0x10500073,          /* wfi */
		SFENCE_VMA(0, 0),
		CSRRS(5, 0x100, 0),  /* csrr sstatus */
	};
	for (unsigned i = 0; i < sizeof(priv_only) / sizeof(priv_only[0]); i++) {
		h->priv = PRV_U;
		tlb_update_mode(h);
		assert_int_equal(fx_trap1(f, priv_only[i]), EXC_ILLEGAL);
		assert_int_equal(h->stval, priv_only[i]);
		assert_false(h->sstatus & SSTATUS_SPP);   /* came from U */
	}
	h->priv = PRV_U;
	tlb_update_mode(h);
	assert_int_equal(fx_trap1(f, 0x00000073), EXC_ECALL_U);
	assert_false(h->sstatus & SSTATUS_SPP);

	/* U-mode code runs (bare translation) and sret returns to it */
	h->priv = PRV_U;
	tlb_update_mode(h);
	h->x[5] = 0;
	fx_exec1(f, ADDI(5, 0, 77));
	assert_int_equal(h->x[5], 77);
	assert_int_equal(h->priv, PRV_U);
	h->priv = PRV_S;
	tlb_update_mode(h);
	uint32_t sret = 0x10200073;
	uint64_t target = fx_alloc_code(f, 4);
	h->sepc = target;
	h->sstatus = (h->sstatus & ~(SSTATUS_SPP | SSTATUS_SIE)) | SSTATUS_SPIE;
	fx_run(f, fx_code(f, &sret, 1), 1);
	assert_int_equal(h->pc, target);
	assert_int_equal(h->priv, PRV_U);
	assert_true(h->sstatus & SSTATUS_SIE);    /* SIE <- SPIE */
	assert_true(h->sstatus & SSTATUS_SPIE);
	/* SPIE=0, SPP=S: SIE <- 0, SPIE <- 1, SPP <- U, back in S */
	h->priv = PRV_S;
	tlb_update_mode(h);
	h->sstatus = (h->sstatus & ~(SSTATUS_SPIE | SSTATUS_SIE)) | SSTATUS_SPP;
	h->sepc = target;
	fx_run(f, fx_code(f, &sret, 1), 1);
	assert_int_equal(h->pc, target);
	assert_int_equal(h->priv, PRV_S);
	assert_false(h->sstatus & SSTATUS_SIE);
	assert_true(h->sstatus & SSTATUS_SPIE);
	assert_false(h->sstatus & SSTATUS_SPP);
}

/* A 32-bit instruction that straddles a page boundary. */
static void test_fetch_page_cross(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	uint64_t base = fx_alloc_code(f, 2 * PAGE_SIZE + 16);
	uint64_t pc = ((base + PAGE_SIZE) & PAGE_MASK) - 2;
	uint32_t insn = ADDI(5, 0, 0x123);
	wr16(f, pc, (uint16_t)insn);
	wr16(f, pc + 2, (uint16_t)(insn >> 16));
	wr32(f, pc + 4, ADDI(6, 5, 1));
	h->x[5] = h->x[6] = 0;
	fx_run(f, pc, 2);
	assert_int_equal(h->scause, SENTINEL);
	assert_int_equal(h->pc, pc + 8);
	assert_int_equal(h->x[5], 0x123);
	assert_int_equal(h->x[6], 0x124);

	/* system instructions straddling the boundary: a CSR read, and an
	 * illegal one whose stval must still be the full instruction */
	uint32_t csrs[] = { CSRRS(5, 0x140, 0), CSRRS(5, 0x300, 0) };
	h->sscratch = 0x5151;
	for (unsigned i = 0; i < 2; i++) {
		base = fx_alloc_code(f, 2 * PAGE_SIZE + 16);
		pc = ((base + PAGE_SIZE) & PAGE_MASK) - 2;
		wr16(f, pc, (uint16_t)csrs[i]);
		wr16(f, pc + 2, (uint16_t)(csrs[i] >> 16));
		h->x[5] = JUNK;
		fx_run(f, pc, 1);
		if (i == 0) {
			assert_int_equal(h->scause, SENTINEL);
			assert_int_equal(h->x[5], 0x5151);
			assert_int_equal(h->pc, pc + 4);
		} else {
			assert_int_equal(h->scause, EXC_ILLEGAL);
			assert_int_equal(h->stval, csrs[i]);
			assert_int_equal(h->sepc, pc);
			assert_int_equal(h->x[5], JUNK);
		}
	}
}

/* Code written by the guest (then fence.i) is what runs next, whichever
 * store path wrote it: this exercises the decoded-instruction cache. */
static void test_self_modifying(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;
	const uint32_t fence_i = 0x0000100f;

	/* 1. store into the running page, ahead of pc */
	uint64_t pc = fx_alloc_code(f, 16);
	uint32_t prog[] = { SW(7, 6, 12), fence_i, ADDI(0, 0, 0), ADDI(5, 0, 1) };
	memcpy(fx_ram(f, pc, sizeof(prog)), prog, sizeof(prog));
	h->x[6] = pc;
	h->x[7] = ADDI(5, 0, 2);
	h->x[5] = 0;
	fx_run(f, pc, 4);
	assert_int_equal(h->scause, SENTINEL);
	assert_int_equal(h->pc, pc + 16);
	assert_int_equal(h->x[5], 2);

	/* 2. a page that was written (write TLB filled) before it held code */
	uint64_t page = (fx_alloc_code(f, 2 * PAGE_SIZE) + PAGE_SIZE - 1) & PAGE_MASK;
	h->x[6] = page + 0x800;
	h->x[7] = 0;
	fx_exec1(f, SW(7, 6, 0));
	uint32_t body[] = { ADDI(5, 0, 10), INSN_J_SELF };
	memcpy(fx_ram(f, page, sizeof(body)), body, sizeof(body));
	fx_run(f, page, 1);
	assert_int_equal(h->x[5], 10);
	h->x[6] = page;
	h->x[7] = ADDI(5, 0, 11);
	fx_exec1(f, SW(7, 6, 0));                 /* may hit the write TLB */
	fx_exec1(f, fence_i);
	fx_run(f, page, 1);
	assert_int_equal(h->x[5], 11);

	/* 3. an AMO, and a misaligned store across the code word */
	h->x[7] = ADDI(5, 0, 12);
	fx_exec1(f, AMO(0x01, 2, 8, 6, 7));       /* amoswap.w */
	fx_exec1(f, fence_i);
	fx_run(f, page, 1);
	assert_int_equal(h->x[5], 12);
	uint32_t i13 = ADDI(5, 0, 13);
	h->x[6] = page + 2;
	h->x[7] = (uint64_t)(i13 >> 16) | (uint64_t)INSN_J_SELF << 16;
	fx_exec1(f, SW(7, 6, 0));                 /* rewrites the upper half only */
	fx_exec1(f, fence_i);
	fx_run(f, page, 1);
	assert_int_equal(h->x[5], 13);

	/* 4. a compressed instruction replaced by a 32-bit one */
	uint16_t cli = 0x4295;                    /* c.li t0, 5 */
	uint64_t cpage = (fx_alloc_code(f, 2 * PAGE_SIZE) + PAGE_SIZE - 1) & PAGE_MASK;
	wr16(f, cpage, cli);
	wr16(f, cpage + 2, 0x0001);               /* c.nop */
	fx_run(f, cpage, 1);
	assert_int_equal(h->x[5], 5);
	h->x[6] = cpage;
	h->x[7] = ADDI(5, 0, 14);
	fx_exec1(f, SW(7, 6, 0));
	fx_exec1(f, fence_i);
	fx_run(f, cpage, 1);
	assert_int_equal(h->x[5], 14);
	assert_int_equal(h->pc, cpage + 4);
}

/* rvc_expand against GNU as: compressed -> equivalent 32-bit encoding. */
static const struct { uint16_t c; uint32_t e; } rvc_cases[] = {
	{ 0x1fe8, 0x3fc10513 },  /* c.addi4spn a0, sp, 1020 -> addi a0, sp, 1020 */
	{ 0x0024, 0x00810493 },  /* c.addi4spn s1, sp, 8 -> addi s1, sp, 8 */
	{ 0x105c, 0x02410793 },  /* c.addi4spn a5, sp, 36 -> addi a5, sp, 36 */
	{ 0x3de8, 0x0f85b507 },  /* c.fld fa0, 248(a1) -> fld fa0, 248(a1) */
	{ 0x2404, 0x00843487 },  /* c.fld fs1, 8(s0) -> fld fs1, 8(s0) */
	{ 0x5de8, 0x07c5a503 },  /* c.lw a0, 124(a1) -> lw a0, 124(a1) */
	{ 0x40fc, 0x0444a783 },  /* c.lw a5, 68(s1) -> lw a5, 68(s1) */
	{ 0x7de8, 0x0f85b503 },  /* c.ld a0, 248(a1) -> ld a0, 248(a1) */
	{ 0x62d0, 0x0806b603 },  /* c.ld a2, 128(a3) -> ld a2, 128(a3) */
	{ 0xa550, 0x08c53427 },  /* c.fsd fa2, 136(a0) -> fsd fa2, 136(a0) */
	{ 0xc3f0, 0x04c7a223 },  /* c.sw a2, 68(a5) -> sw a2, 68(a5) */
	{ 0xdce0, 0x0684ae23 },  /* c.sw s0, 124(s1) -> sw s0, 124(s1) */
	{ 0xe764, 0x0c973423 },  /* c.sd s1, 200(a4) -> sd s1, 200(a4) */
	{ 0x0001, 0x00000013 },  /* c.nop -> addi x0, x0, 0 */
	{ 0x1501, 0xfe050513 },  /* c.addi a0, -32 -> addi a0, a0, -32 */
	{ 0x02fd, 0x01f28293 },  /* c.addi t0, 31 -> addi t0, t0, 31 */
	{ 0x117d, 0xfff10113 },  /* c.addi sp, -1 -> addi sp, sp, -1 */
	{ 0x357d, 0xfff5051b },  /* c.addiw a0, -1 -> addiw a0, a0, -1 */
	{ 0x2dc5, 0x011d8d9b },  /* c.addiw s11, 17 -> addiw s11, s11, 17 */
	{ 0x5781, 0xfe000793 },  /* c.li a5, -32 -> addi a5, x0, -32 */
	{ 0x4ffd, 0x01f00f93 },  /* c.li t6, 31 -> addi t6, x0, 31 */
	{ 0x7101, 0xe0010113 },  /* c.addi16sp sp, -512 -> addi sp, sp, -512 */
	{ 0x617d, 0x1f010113 },  /* c.addi16sp sp, 496 -> addi sp, sp, 496 */
	{ 0x6141, 0x01010113 },  /* c.addi16sp sp, 16 -> addi sp, sp, 16 */
	{ 0x715d, 0xfb010113 },  /* c.addi16sp sp, -80 -> addi sp, sp, -80 */
	{ 0x6285, 0x000012b7 },  /* c.lui t0, 1 -> lui t0, 1 */
	{ 0x64fd, 0x0001f4b7 },  /* c.lui s1, 31 -> lui s1, 31 */
	{ 0x7501, 0xfffe0537 },  /* c.lui a0, 0xfffe0 -> lui a0, 0xfffe0 */
	{ 0x70fd, 0xfffff0b7 },  /* c.lui ra, 0xfffff -> lui ra, 0xfffff */
	{ 0x917d, 0x03f55513 },  /* c.srli a0, 63 -> srli a0, a0, 63 */
	{ 0x8005, 0x00145413 },  /* c.srli s0, 1 -> srli s0, s0, 1 */
	{ 0x9581, 0x4205d593 },  /* c.srai a1, 32 -> srai a1, a1, 32 */
	{ 0x8715, 0x40575713 },  /* c.srai a4, 5 -> srai a4, a4, 5 */
	{ 0x9a01, 0xfe067613 },  /* c.andi a2, -32 -> andi a2, a2, -32 */
	{ 0x8ad5, 0x0156f693 },  /* c.andi a3, 21 -> andi a3, a3, 21 */
	{ 0x8c05, 0x40940433 },  /* c.sub s0, s1 -> sub s0, s0, s1 */
	{ 0x8d3d, 0x00f54533 },  /* c.xor a0, a5 -> xor a0, a0, a5 */
	{ 0x8dd1, 0x00c5e5b3 },  /* c.or a1, a2 -> or a1, a1, a2 */
	{ 0x8ef9, 0x00e6f6b3 },  /* c.and a3, a4 -> and a3, a3, a4 */
	{ 0x9f1d, 0x40f7073b },  /* c.subw a4, a5 -> subw a4, a4, a5 */
	{ 0x9c29, 0x00a4043b },  /* c.addw s0, a0 -> addw s0, s0, a0 */
	{ 0xaffd, 0x7fe0006f },  /* c.j .+2046 -> jal x0, .+2046 */
	{ 0xb001, 0x801ff06f },  /* c.j .-2048 -> jal x0, .-2048 */
	{ 0xa009, 0x0020006f },  /* c.j .+2 -> jal x0, .+2 */
	{ 0xb46d, 0xaabff06f },  /* c.j .-1366 -> jal x0, .-1366 */
	{ 0xd101, 0xf00500e3 },  /* c.beqz a0, .-256 -> beq a0, x0, .-256 */
	{ 0xecfd, 0x0e049f63 },  /* c.bnez s1, .+254 -> bne s1, x0, .+254 */
	{ 0xc7cd, 0x0a078563 },  /* c.beqz a5, .+170 -> beq a5, x0, .+170 */
	{ 0xf64d, 0xfa0615e3 },  /* c.bnez a2, .-86 -> bne a2, x0, .-86 */
	{ 0x157e, 0x03f51513 },  /* c.slli a0, 63 -> slli a0, a0, 63 */
	{ 0x0286, 0x00129293 },  /* c.slli t0, 1 -> slli t0, t0, 1 */
	{ 0x1d82, 0x020d9d93 },  /* c.slli s11, 32 -> slli s11, s11, 32 */
	{ 0x357e, 0x1f813507 },  /* c.fldsp fa0, 504(sp) -> fld fa0, 504(sp) */
	{ 0x20a2, 0x00813087 },  /* c.fldsp ft1, 8(sp) -> fld ft1, 8(sp) */
	{ 0x557e, 0x0fc12503 },  /* c.lwsp a0, 252(sp) -> lw a0, 252(sp) */
	{ 0x4f92, 0x00412f83 },  /* c.lwsp t6, 4(sp) -> lw t6, 4(sp) */
	{ 0x757e, 0x1f813503 },  /* c.ldsp a0, 504(sp) -> ld a0, 504(sp) */
	{ 0x60a2, 0x00813083 },  /* c.ldsp ra, 8(sp) -> ld ra, 8(sp) */
	{ 0x8082, 0x00008067 },  /* c.jr ra -> jalr x0, 0(ra) */
	{ 0x8282, 0x00028067 },  /* c.jr t0 -> jalr x0, 0(t0) */
	{ 0x852e, 0x00b00533 },  /* c.mv a0, a1 -> add a0, x0, a1 */
	{ 0x8fa2, 0x00800fb3 },  /* c.mv t6, s0 -> add t6, x0, s0 */
	{ 0x9002, 0x00100073 },  /* c.ebreak -> ebreak */
	{ 0x9502, 0x000500e7 },  /* c.jalr a0 -> jalr ra, 0(a0) */
	{ 0x9f82, 0x000f80e7 },  /* c.jalr t6 -> jalr ra, 0(t6) */
	{ 0x952e, 0x00b50533 },  /* c.add a0, a1 -> add a0, a0, a1 */
	{ 0x917e, 0x01f10133 },  /* c.add sp, t6 -> add sp, sp, t6 */
	{ 0xbfaa, 0x1ea13c27 },  /* c.fsdsp fa0, 504(sp) -> fsd fa0, 504(sp) */
	{ 0xa4ee, 0x05b13427 },  /* c.fsdsp fs11, 72(sp) -> fsd fs11, 72(sp) */
	{ 0xdfaa, 0x0ea12e23 },  /* c.swsp a0, 252(sp) -> sw a0, 252(sp) */
	{ 0xd226, 0x02912223 },  /* c.swsp s1, 36(sp) -> sw s1, 36(sp) */
	{ 0xffaa, 0x1ea13c23 },  /* c.sdsp a0, 504(sp) -> sd a0, 504(sp) */
	{ 0xe61e, 0x10713423 },  /* c.sdsp t2, 264(sp) -> sd t2, 264(sp) */
	/* HINTs are legal and expand to their no-op-ish base forms */
	{ 0x0501, 0x00050513 },  /* c.addi a0, 0 */
	{ 0x4015, 0x00500013 },  /* c.li x0, 5 */
	{ 0x6005, 0x00001037 },  /* c.lui x0, 1 */
	{ 0x802a, 0x00a00033 },  /* c.mv x0, a0 */
	{ 0x902a, 0x00a00033 },  /* c.add x0, a0 */
	{ 0x0006, 0x00101013 },  /* c.slli x0, 1 */
};

static void test_rvc_expand(void **state)
{
	(void)state;
	for (unsigned i = 0; i < sizeof(rvc_cases) / sizeof(rvc_cases[0]); i++) {
		uint32_t got = rvc_expand(rvc_cases[i].c);
		if (got != rvc_cases[i].e)
			fail_msg("rvc_expand(0x%04x) = 0x%08x, want 0x%08x",
				 rvc_cases[i].c, got, rvc_cases[i].e);
	}
}

static void test_rvc_reserved(void **state)
{
	(void)state;
	static const uint16_t reserved[] = {
		0x0000, 0x001c,          /* c.addi4spn with nzuimm 0 */
		0x4002, 0x507e,          /* c.lwsp rd=0 */
		0x6002, 0x707e,          /* c.ldsp rd=0 */
		0x8002,                  /* c.jr rs1=0 */
		0x2005, 0x307d,          /* c.addiw rd=0 */
		0x6281, 0x6501,          /* c.lui nzimm=0 */
		0x6101,                  /* c.addi16sp nzimm=0 */
		0x8000, 0x9ffc, 0x8a5c,  /* quadrant 0, funct3 4 */
		0x9c41, 0x9ffd,          /* quadrant 1 reserved ALU (funct2 2/3, bit12) */
	};
	for (unsigned i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		uint32_t got = rvc_expand(reserved[i]);
		if (got != 0)
			fail_msg("rvc_expand(0x%04x) = 0x%08x, want 0 (reserved)", reserved[i], got);
	}
}

/* Every legal expansion of a 16-bit parcel is a 32-bit encoding. */
static void test_rvc_expansions_are_wide(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 65536; i++) {
		if ((i & 3) == 3)
			continue;
		uint32_t x = rvc_expand((uint16_t)i);
		if (x && (x & 3) != 3)
			fail_msg("rvc_expand(0x%04x) = 0x%08x is not a 32-bit encoding", i, x);
	}
}

static uint64_t put16s(struct fx *f, const uint16_t *p, unsigned n)
{
	uint64_t a = fx_alloc_code(f, 2ull * n);
	memcpy(fx_ram(f, a, 2ull * n), p, 2ull * n);
	return a;
}

static void test_rvc_exec(void **state)
{
	struct fx *f = *state;
	struct hart *h = f->h;

	/* c.jalr a0 links pc+2 */
	uint16_t jalr = 0x9502;
	uint64_t pc = put16s(f, &jalr, 1);
	h->x[10] = 0x80005000;
	h->x[1] = JUNK;
	fx_run(f, pc, 1);
	assert_int_equal(h->scause, SENTINEL);
	assert_int_equal(h->pc, 0x80005000);
	assert_int_equal(h->x[1], pc + 2);
	/* c.jalr ra: rd == rs1 */
	uint16_t jalr_ra = 0x9082;
	pc = put16s(f, &jalr_ra, 1);
	h->x[1] = 0x80006000;
	fx_run(f, pc, 1);
	assert_int_equal(h->pc, 0x80006000);
	assert_int_equal(h->x[1], pc + 2);
	/* c.jr does not link */
	uint16_t jr = 0x8282;
	pc = put16s(f, &jr, 1);
	h->x[5] = 0x80007000;
	h->x[1] = JUNK;
	fx_run(f, pc, 1);
	assert_int_equal(h->pc, 0x80007000);
	assert_int_equal(h->x[1], JUNK);

	/* mixed stream: c.li a0,-32; addi a0,a0,1 (at pc+2); c.addi a0,-32 */
	uint32_t addi = ADDI(10, 10, 1);
	uint16_t mix[] = { 0x5501, (uint16_t)addi, (uint16_t)(addi >> 16), 0x1501 };
	pc = put16s(f, mix, 4);
	fx_run(f, pc, 3);
	assert_int_equal(h->scause, SENTINEL);
	assert_int_equal(h->pc, pc + 8);
	assert_int_equal(h->x[10], (uint64_t)-63);

	/* c.j backwards, c.beqz taken / not taken */
	uint16_t cj = 0xb001;
	pc = put16s(f, &cj, 1);
	fx_run(f, pc, 1);
	assert_int_equal(h->pc, pc - 2048);
	uint16_t beqz = 0xd101;   /* c.beqz a0, .-256 */
	pc = put16s(f, &beqz, 1);
	h->x[10] = 0;
	fx_run(f, pc, 1);
	assert_int_equal(h->pc, pc - 256);
	pc = put16s(f, &beqz, 1);
	h->x[10] = 1;
	fx_run(f, pc, 1);
	assert_int_equal(h->pc, pc + 2);

	/* c.lw sign-extends; c.sdsp / c.ldsp use sp */
	wr32(f, DATA + 124, 0x87654321);
	uint16_t clw = 0x5de8;    /* c.lw a0, 124(a1) */
	pc = put16s(f, &clw, 1);
	h->x[11] = DATA;
	fx_run(f, pc, 1);
	assert_int_equal(h->x[10], 0xffffffff87654321ull);
	uint16_t stld[] = { 0xffaa, 0x60a2 };   /* c.sdsp a0,504(sp); c.ldsp ra,8(sp) */
	wr64(f, DATA + 0x400 + 8, 0x1234);
	h->x[2] = DATA + 0x400;
	h->x[10] = 0xa5a5a5a5a5a5a5a5ull;
	pc = put16s(f, stld, 2);
	fx_run(f, pc, 2);
	assert_int_equal(h->scause, SENTINEL);
	assert_int_equal(rd64(f, DATA + 0x400 + 504), 0xa5a5a5a5a5a5a5a5ull);
	assert_int_equal(h->x[1], 0x1234);

	/* c.ebreak */
	uint16_t ebreak = 0x9002;
	pc = put16s(f, &ebreak, 1);
	fx_run(f, pc, 1);
	assert_int_equal(h->scause, EXC_BREAKPOINT);
	assert_int_equal(h->sepc, pc);

	/* reserved compressed encodings: illegal, stval = the 16-bit parcel */
	uint16_t lwsp0 = 0x4002;
	pc = put16s(f, &lwsp0, 1);
	fx_run(f, pc, 1);
	assert_int_equal(h->scause, EXC_ILLEGAL);
	assert_int_equal(h->stval, 0x4002);
	assert_int_equal(h->sepc, pc);
	assert_int_equal(h->pc, TRAP_VEC);
	/* c.fld with FS=Off is illegal too; stval is still 16 bits */
	h->sstatus &= ~SSTATUS_FS;
	uint16_t cfld = 0x3de8;
	pc = put16s(f, &cfld, 1);
	fx_run(f, pc, 1);
	assert_int_equal(h->scause, EXC_ILLEGAL);
	assert_int_equal(h->stval, 0x3de8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encoders),
		FX_TEST(test_op_imm),
		FX_TEST(test_lui_auipc),
		FX_TEST(test_jal),
		FX_TEST(test_jalr),
		FX_TEST(test_branches),
		FX_TEST(test_loads),
		FX_TEST(test_stores),
		FX_TEST(test_fp_load_store_negative_offset),
		FX_TEST(test_shifts),
		FX_TEST(test_muldiv),
		FX_TEST(test_amo),
		FX_TEST(test_lrsc),
		FX_TEST(test_illegal),
		FX_TEST(test_user_mode),
		FX_TEST(test_bitmanip),
		FX_TEST(test_envcfg_csrs),
		FX_TEST(test_fetch_page_cross),
		FX_TEST(test_self_modifying),
		cmocka_unit_test(test_rvc_expand),
		cmocka_unit_test(test_rvc_reserved),
		cmocka_unit_test(test_rvc_expansions_are_wide),
		FX_TEST(test_rvc_exec),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
