/* A small x86-64 instruction encoder for the JIT (jit.c): just the forms
 * the block compiler uses, each as an inline function that appends bytes to
 * a code buffer. Memory operands are always [base + index + disp]. */
#ifndef TERN_X86EMIT_H
#define TERN_X86EMIT_H
#include <stdint.h>
#include <stddef.h>
#include <string.h>

enum x86_reg {
	RAX = 0, RCX, RDX, RBX, RSP, RBP, RSI, RDI,
	R8, R9, R10, R11, R12, R13, R14, R15, NOREG = -1
};

/* Condition codes (the low nibble of Jcc/SETcc). */
enum x86_cc {
	CC_B = 0x2, CC_AE = 0x3, CC_E = 0x4, CC_NE = 0x5, CC_BE = 0x6, CC_A = 0x7,
	CC_L = 0xc, CC_GE = 0xd, CC_LE = 0xe, CC_G = 0xf,
};

struct x86buf {
	uint8_t *p;        /* next byte */
	uint8_t *end;      /* one past the last usable byte */
	int overflow;      /* set when an emit did not fit */
	/* What rax is known to hold here: a tag set by the JIT (the guest
	 * register it last loaded or stored), or -1. Any emitted byte forgets
	 * it; so does a jump target (x86_label). */
	int rax_holds;
	/* The host register the JIT keeps guest register i in for this block
	 * (0 when it is only in memory). */
	uint8_t pin[33];
	uint32_t pin_dirty;   /* pinned guest registers the block writes */
};

static inline void x86_byte(struct x86buf *b, uint8_t v)
{
	b->rax_holds = -1;
	if (b->p < b->end)
		*b->p++ = v;
	else
		b->overflow = 1;
}

static inline void x86_u32(struct x86buf *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		x86_byte(b, (uint8_t)(v >> (8 * i)));
}

static inline void x86_u64(struct x86buf *b, uint64_t v)
{
	x86_u32(b, (uint32_t)v);
	x86_u32(b, (uint32_t)(v >> 32));
}

/* REX prefix: emitted when W is set or an extended register is used. */
static inline void x86_rex(struct x86buf *b, int w, int reg, int index, int base)
{
	uint8_t r = (uint8_t)(0x40 | (w ? 8 : 0) | ((reg & 8) ? 4 : 0) |
			      ((index >= 0 && (index & 8)) ? 2 : 0) | ((base & 8) ? 1 : 0));
	if (r != 0x40)
		x86_byte(b, r);
}

/* ModRM (+SIB, +displacement) for [base + index + disp]. */
static inline void x86_modrm_mem(struct x86buf *b, int reg, int base, int index, int32_t disp)
{
	int mod = (disp == 0 && (base & 7) != RBP) ? 0 : (disp >= -128 && disp <= 127) ? 1 : 2;
	if (index >= 0 || (base & 7) == RSP) {
		x86_byte(b, (uint8_t)(mod << 6 | (reg & 7) << 3 | 4));
		x86_byte(b, (uint8_t)(((index >= 0 ? index : RSP) & 7) << 3 | (base & 7)));
	} else {
		x86_byte(b, (uint8_t)(mod << 6 | (reg & 7) << 3 | (base & 7)));
	}
	if (mod == 1)
		x86_byte(b, (uint8_t)disp);
	else if (mod == 2)
		x86_u32(b, (uint32_t)disp);
}

/* [prefix] REX opcode(1-2 bytes) modrm-mem: op reg, [base+index+disp]. */
static inline void x86_op_mem(struct x86buf *b, int w, uint32_t opcode, int reg,
			      int base, int index, int32_t disp)
{
	x86_rex(b, w, reg, index, base);
	if (opcode > 0xff)
		x86_byte(b, (uint8_t)(opcode >> 8));
	x86_byte(b, (uint8_t)opcode);
	x86_modrm_mem(b, reg, base, index, disp);
}

/* REX opcode(1-2 bytes) modrm-reg: op reg, rm (register direct). */
static inline void x86_op_reg(struct x86buf *b, int w, uint32_t opcode, int reg, int rm)
{
	x86_rex(b, w, reg, -1, rm);
	if (opcode > 0xff)
		x86_byte(b, (uint8_t)(opcode >> 8));
	x86_byte(b, (uint8_t)opcode);
	x86_byte(b, (uint8_t)(0xc0 | (reg & 7) << 3 | (rm & 7)));
}

/* Opcodes of the "op r, r/m" forms (reg is the destination). */
enum {
	X86_ADD = 0x03, X86_OR = 0x0b, X86_AND = 0x23, X86_SUB = 0x2b,
	X86_XOR = 0x33, X86_CMP = 0x3b, X86_MOV_LOAD = 0x8b, X86_MOV_STORE = 0x89,
	X86_LEA = 0x8d, X86_IMUL = 0x0faf, X86_MOVSXD = 0x63,
	X86_MOVZX8 = 0x0fb6, X86_MOVZX16 = 0x0fb7, X86_MOVSX8 = 0x0fbe, X86_MOVSX16 = 0x0fbf,
};
/* The /digit of the 0x81 (imm32) group and of the shift groups. */
enum { GRP_ADD = 0, GRP_OR = 1, GRP_AND = 4, GRP_SUB = 5, GRP_XOR = 6, GRP_CMP = 7 };
enum { SH_ROL = 0, SH_ROR = 1, SH_SHL = 4, SH_SHR = 5, SH_SAR = 7 };

/* op r64, imm32 (sign-extended). */
static inline void x86_alu_imm(struct x86buf *b, int w, int grp, int reg, int32_t imm)
{
	if (imm >= -128 && imm <= 127) {
		x86_op_reg(b, w, 0x83, grp, reg);
		x86_byte(b, (uint8_t)imm);
	} else {
		x86_op_reg(b, w, 0x81, grp, reg);
		x86_u32(b, (uint32_t)imm);
	}
}

/* shift r, imm8 / shift r, cl */
static inline void x86_shift_imm(struct x86buf *b, int w, int kind, int reg, int count)
{
	x86_op_reg(b, w, 0xc1, kind, reg);
	x86_byte(b, (uint8_t)count);
}

static inline void x86_shift_cl(struct x86buf *b, int w, int kind, int reg)
{
	x86_op_reg(b, w, 0xd3, kind, reg);
}

/* mov qword [base+disp], imm32 (sign-extended) */
static inline void x86_store_imm(struct x86buf *b, int base, int32_t disp, int32_t imm)
{
	x86_op_mem(b, 1, 0xc7, 0, base, -1, disp);
	x86_u32(b, (uint32_t)imm);
}

/* mov r64, imm64 */
static inline void x86_mov_imm64(struct x86buf *b, int reg, uint64_t imm)
{
	x86_rex(b, 1, 0, -1, reg);
	x86_byte(b, (uint8_t)(0xb8 | (reg & 7)));
	x86_u64(b, imm);
}

/* mov r32, imm32 (zero-extends) */
static inline void x86_mov_imm32(struct x86buf *b, int reg, uint32_t imm)
{
	x86_rex(b, 0, 0, -1, reg);
	x86_byte(b, (uint8_t)(0xb8 | (reg & 7)));
	x86_u32(b, imm);
}

/* setcc r8 (al, cl, dl or bl only) then movzx r32, r8 */
static inline void x86_setcc_zx(struct x86buf *b, int cc, int reg)
{
	x86_byte(b, 0x0f);
	x86_byte(b, (uint8_t)(0x90 | cc));
	x86_byte(b, (uint8_t)(0xc0 | (reg & 7)));
	x86_op_reg(b, 0, X86_MOVZX8, reg, reg);
}

/* The store of a low part of reg to [base+index+disp], size 1, 2, 4 or 8
 * (reg must be rax..rbx for byte stores). */
static inline void x86_store(struct x86buf *b, int size, int reg, int base, int index, int32_t disp)
{
	if (size == 2)
		x86_byte(b, 0x66);
	x86_op_mem(b, size == 8, size == 1 ? 0x88 : 0x89, reg, base, index, disp);
}

/* Jcc rel32 / JMP rel32 with the displacement left to patch; returns the
 * address of the displacement. */
static inline uint8_t *x86_jcc32(struct x86buf *b, int cc)
{
	x86_byte(b, 0x0f);
	x86_byte(b, (uint8_t)(0x80 | cc));
	uint8_t *at = b->p;
	x86_u32(b, 0);
	return at;
}

static inline uint8_t *x86_jmp32(struct x86buf *b)
{
	x86_byte(b, 0xe9);
	uint8_t *at = b->p;
	x86_u32(b, 0);
	return at;
}

/* The current position becomes a jump target: nothing is known of rax. */
static inline void x86_label(struct x86buf *b) { b->rax_holds = -1; }

/* Point a rel32 displacement at `target`. */
static inline void x86_patch(struct x86buf *b, uint8_t *at, const uint8_t *target)
{
	if (target == b->p)
		x86_label(b);
	if (b->overflow || !at)
		return;
	int32_t rel = (int32_t)(target - (at + 4));
	memcpy(at, &rel, 4);
}

/* call an absolute address through rax */
static inline void x86_call(struct x86buf *b, const void *fn)
{
	x86_mov_imm64(b, RAX, (uint64_t)(uintptr_t)fn);
	x86_byte(b, 0xff);
	x86_byte(b, 0xd0);
}

static inline void x86_push(struct x86buf *b, int reg)
{
	x86_rex(b, 0, 0, -1, reg);
	x86_byte(b, (uint8_t)(0x50 | (reg & 7)));
}

static inline void x86_pop(struct x86buf *b, int reg)
{
	x86_rex(b, 0, 0, -1, reg);
	x86_byte(b, (uint8_t)(0x58 | (reg & 7)));
}

static inline void x86_ret(struct x86buf *b) { x86_byte(b, 0xc3); }

/* cmovcc r64, r64 */
static inline void x86_cmov(struct x86buf *b, int cc, int reg, int rm)
{
	x86_op_reg(b, 1, 0x0f40u | (unsigned)cc, reg, rm);
}

/* An F3-prefixed op reg, rm (lzcnt 0f bd, tzcnt 0f bc, popcnt 0f b8):
 * the prefix goes before REX. */
static inline void x86_f3_op_reg(struct x86buf *b, int w, uint32_t opcode, int reg, int rm)
{
	x86_byte(b, 0xf3);
	x86_op_reg(b, w, opcode, reg, rm);
}

/* lea r64, [base + index << scale] (base not rbp/r13) */
static inline void x86_lea_sib(struct x86buf *b, int reg, int base, int index, int scale)
{
	x86_rex(b, 1, reg, index, base);
	x86_byte(b, 0x8d);
	x86_byte(b, (uint8_t)((reg & 7) << 3 | 4));
	x86_byte(b, (uint8_t)(scale << 6 | (index & 7) << 3 | (base & 7)));
}

/* bswap r64 */
static inline void x86_bswap(struct x86buf *b, int reg)
{
	x86_rex(b, 1, 0, -1, reg);
	x86_byte(b, 0x0f);
	x86_byte(b, (uint8_t)(0xc8 | (reg & 7)));
}

/* BMI1 andn r64, r64, r64: reg = ~inv & rm (registers below r8 only). */
static inline void x86_andn(struct x86buf *b, int reg, int inv, int rm)
{
	x86_byte(b, 0xc4);                                  /* 3-byte VEX */
	x86_byte(b, 0xe2);                                  /* R X B set (none), map 0f38 */
	x86_byte(b, (uint8_t)(0x80 | ((~inv & 15) << 3))); /* W1, vvvv = ~inv, L0, pp 00 */
	x86_byte(b, 0xf2);
	x86_byte(b, (uint8_t)(0xc0 | (reg & 7) << 3 | (rm & 7)));
}

/* Carry-less multiply of rax by rcx with pclmulqdq (through xmm0/xmm1):
 * afterwards rax = the high half and rcx the low half of the product. */
static inline void x86_clmul_rax_rcx(struct x86buf *b)
{
	static const uint8_t code[] = {
		0x66, 0x48, 0x0f, 0x6e, 0xc0,           /* movq xmm0, rax */
		0x66, 0x48, 0x0f, 0x6e, 0xc9,           /* movq xmm1, rcx */
		0x66, 0x0f, 0x3a, 0x44, 0xc1, 0x00,     /* pclmulqdq xmm0, xmm1, 0 */
		0x66, 0x48, 0x0f, 0x7e, 0xc1,           /* movq rcx, xmm0 */
		0x66, 0x0f, 0x73, 0xd8, 0x08,           /* psrldq xmm0, 8 */
		0x66, 0x48, 0x0f, 0x7e, 0xc0,           /* movq rax, xmm0 */
	};
	for (size_t i = 0; i < sizeof(code); i++)
		x86_byte(b, code[i]);
}
#endif
