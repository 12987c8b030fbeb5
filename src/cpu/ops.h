/* The decoded-instruction opcodes shared by the interpreter (exec.c) and
 * the block compiler (jit.c). */
#ifndef TERN_OPS_H
#define TERN_OPS_H

/* Threaded-handler opcodes. The order must match the label table. */
#define OPS(X) \
	X(DECODE) X(ILLEGAL) X(GENERIC) X(CROSS) X(JIT) \
	X(LUI) X(AUIPC) X(JAL) X(JALR) \
	X(BEQ) X(BNE) X(BLT) X(BGE) X(BLTU) X(BGEU) \
	X(LB) X(LH) X(LW) X(LD) X(LBU) X(LHU) X(LWU) \
	X(SB) X(SH) X(SW) X(SD) \
	X(ADDI) X(SLTI) X(SLTIU) X(XORI) X(ORI) X(ANDI) X(SLLI) X(SRLI) X(SRAI) \
	X(ADDIW) X(SLLIW) X(SRLIW) X(SRAIW) \
	X(ADD) X(SUB) X(SLL) X(SLT) X(SLTU) X(XOR) X(SRL) X(SRA) X(OR) X(AND) \
	X(MUL) X(MULH) X(MULHSU) X(MULHU) X(DIV) X(DIVU) X(REM) X(REMU) \
	X(ADDW) X(SUBW) X(SLLW) X(SRLW) X(SRAW) \
	X(MULW) X(DIVW) X(DIVUW) X(REMW) X(REMUW) \
	X(SH1ADD) X(SH2ADD) X(SH3ADD) X(ADDUW) X(SH1ADDUW) X(SH2ADDUW) X(SH3ADDUW) \
	X(SLLIUW) X(ANDN) X(ORN) X(XNOR) X(CLZ) X(CTZ) X(CPOP) X(CLZW) X(CTZW) \
	X(CPOPW) X(MAX) X(MAXU) X(MIN) X(MINU) X(SEXTB) X(SEXTH) X(ZEXTH) \
	X(ROL) X(ROR) X(RORI) X(ROLW) X(RORW) X(RORIW) X(ORCB) X(REV8) \
	X(CLMUL) X(CLMULH) X(CLMULR) X(BCLR) X(BCLRI) X(BEXT) X(BEXTI) \
	X(BINV) X(BINVI) X(BSET) X(BSETI) X(CZEROEQZ) X(CZERONEZ) X(CBO) \
	X(FENCE) X(FLOAD) X(FSTORE) X(FPOP)
/* Instruction fields and immediates. */
#define RD(i)  (((i) >> 7) & 31)
#define RS1(i) (((i) >> 15) & 31)
#define RS2(i) (((i) >> 20) & 31)
#define F3(i)  (((i) >> 12) & 7)
#define F7(i)  ((i) >> 25)
#define IMM_I(i) ((int32_t)(i) >> 20)
/* Every immediate is a signed int32 (OR-ing in unsigned fields would make
 * the result unsigned, and adding it to a 64-bit register would then
 * zero-extend a negative offset). */
#define IMM_S(i) ((int32_t)(((int32_t)((i) & 0xfe000000u) >> 20) | (((i) >> 7) & 0x1f)))
#define IMM_B(i) ((int32_t)(((int32_t)((i) & 0x80000000u) >> 19) | (((i) >> 20) & 0x7e0) | \
		  (((i) >> 7) & 0x1e) | (((i) << 4) & 0x800)))
#define IMM_U(i) ((int32_t)((i) & 0xfffff000u))
#define IMM_J(i) ((int32_t)(((int32_t)((i) & 0x80000000u) >> 11) | ((i) & 0xff000) | \
		  (((i) >> 9) & 0x800) | (((i) >> 20) & 0x7fe)))

#define OP_ENUM(n) OP_##n,
enum { OPS(OP_ENUM) OP_COUNT };

/* Ops the block compiler translates; the rest run in the interpreter. */
static inline int op_compilable(int op) { return op >= OP_LUI && op <= OP_FPOP; }
/* Ops the interpreter hands to its generic executor, which decodes the raw
 * bits again (dinsn.imm then holds the bits reported in stval). */
static inline int op_runs_generic(int op)
{
	return op == OP_GENERIC || op == OP_FLOAD || op == OP_FSTORE || op == OP_FPOP;
}
/* Whether a FENCE orders earlier stores before later loads: the one
 * ordering the host's x86-TSO does not give, so it costs an mfence.
 * fence.tso (fm=1000) and fences without W->R do not need one. */
static inline int fence_orders_store_load(uint32_t insn)
{
	unsigned pred = (insn >> 24) & 0xf, succ = (insn >> 20) & 0xf;
	return (insn >> 28) != 8 && (pred & 1) && (succ & 2);
}

/* Whether an integer op reads x[rs1] / x[rs2]: the decoder fills both
 * fields from the raw bits, which in other formats are immediate bits. */
static inline int op_reads_rs1(int op)
{
	return op != OP_LUI && op != OP_AUIPC && op != OP_JAL;
}
static inline int op_reads_rs2(int op)
{
	switch (op) {
	case OP_BEQ: case OP_BNE: case OP_BLT: case OP_BGE: case OP_BLTU: case OP_BGEU:
	case OP_SB: case OP_SH: case OP_SW: case OP_SD:
	case OP_ADD: case OP_SUB: case OP_SLL: case OP_SLT: case OP_SLTU: case OP_XOR:
	case OP_SRL: case OP_SRA: case OP_OR: case OP_AND:
	case OP_MUL: case OP_MULH: case OP_MULHSU: case OP_MULHU: case OP_DIV: case OP_DIVU:
	case OP_REM: case OP_REMU: case OP_ADDW: case OP_SUBW: case OP_SLLW: case OP_SRLW:
	case OP_SRAW: case OP_MULW: case OP_DIVW: case OP_DIVUW: case OP_REMW: case OP_REMUW:
	case OP_SH1ADD: case OP_SH2ADD: case OP_SH3ADD: case OP_ADDUW: case OP_SH1ADDUW:
	case OP_SH2ADDUW: case OP_SH3ADDUW: case OP_ANDN: case OP_ORN: case OP_XNOR:
	case OP_MAX: case OP_MAXU: case OP_MIN: case OP_MINU: case OP_ROL: case OP_ROR:
	case OP_ROLW: case OP_RORW: case OP_CLMUL: case OP_CLMULH: case OP_CLMULR:
	case OP_BCLR: case OP_BEXT: case OP_BINV: case OP_BSET: case OP_CZEROEQZ: case OP_CZERONEZ:
		return 1;
	}
	return 0;
}

/* Ops that end a block (control transfers). */
static inline int op_ends_block(int op)
{
	return op == OP_JAL || op == OP_JALR || (op >= OP_BEQ && op <= OP_BGEU);
}

/* A conditional branch forward by at most this many bytes does not end a
 * compiled block: the block goes on with the fall-through, and the taken
 * edge jumps ahead inside the block (an if without an else), or leaves it
 * when the target is not in the block after all. */
#define JIT_FORWARD_REACH 128
/* On; -DJIT_INNER_BRANCHES=0 builds without it (see jit.c's switches). */
#ifndef JIT_INNER_BRANCHES
#define JIT_INNER_BRANCHES 1
#endif
static inline int op_ends_compiled_block(int op, int32_t imm)
{
	if (JIT_INNER_BRANCHES && op >= OP_BEQ && op <= OP_BGEU && imm > 0 && imm <= JIT_FORWARD_REACH)
		return 0;
	return op_ends_block(op);
}
#endif
