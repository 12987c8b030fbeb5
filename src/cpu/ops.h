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
	X(MULW) X(DIVW) X(DIVUW) X(REMW) X(REMUW)
#define OP_ENUM(n) OP_##n,
enum { OPS(OP_ENUM) OP_COUNT };

/* Ops the block compiler translates; the rest run in the interpreter. */
static inline int op_compilable(int op) { return op >= OP_LUI && op <= OP_REMUW; }
/* Ops that end a block (control transfers). */
static inline int op_ends_block(int op)
{
	return op == OP_JAL || op == OP_JALR || (op >= OP_BEQ && op <= OP_BGEU);
}
#endif
