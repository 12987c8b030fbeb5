/* The interpreter. Code is decoded once per physical page into dinsn slots
 * (dcache.c) and run with threaded dispatch (computed goto): each handler
 * ends by jumping straight to the next instruction's handler. Hot integer
 * instructions have their own handlers; system, atomic and FP instructions
 * share one generic executor. Loads and stores hit the addend TLB inline;
 * misses, MMIO and faults take the slow paths in mmu.c. */
#include <string.h>
#include "cpu/hart.h"
#include "cpu/exec.h"
#include "cpu/mmu.h"
#include "cpu/csr.h"
#include "cpu/dcache.h"
#include "cpu/ops.h"
#include "cpu/alu.h"
#include "cpu/jit.h"
#include "cpu/rvc.h"
#include "cpu/cmo.h"
#include "cpu/fpu.h"
#include "cpu/trap.h"
#include "cpu/hart_group.h"

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Outcome of the generic executor. */
enum { EX_NEXT, EX_TRAP, EX_END };

/* ---- decode ---------------------------------------------------------- */

static int decode_int(struct dinsn *d, uint32_t i)
{
	unsigned f3 = F3(i), f7 = F7(i);
	d->rd = RD(i) ? RD(i) : 32;
	d->rs1 = RS1(i);
	d->rs2 = RS2(i);
	switch (i & 0x7f) {
	case 0x37: d->imm = IMM_U(i); return OP_LUI;
	case 0x17: d->imm = IMM_U(i); return OP_AUIPC;
	case 0x6f: d->imm = IMM_J(i); return OP_JAL;
	case 0x67: d->imm = IMM_I(i); return f3 == 0 ? OP_JALR : OP_ILLEGAL;
	case 0x63: {
		static const int br[8] = { OP_BEQ, OP_BNE, OP_ILLEGAL, OP_ILLEGAL,
					   OP_BLT, OP_BGE, OP_BLTU, OP_BGEU };
		d->imm = IMM_B(i);
		return br[f3];
	}
	case 0x03: {
		static const int ld[8] = { OP_LB, OP_LH, OP_LW, OP_LD, OP_LBU, OP_LHU, OP_LWU, OP_ILLEGAL };
		d->imm = IMM_I(i);
		return ld[f3];
	}
	case 0x23: {
		static const int st[8] = { OP_SB, OP_SH, OP_SW, OP_SD, OP_ILLEGAL, OP_ILLEGAL, OP_ILLEGAL, OP_ILLEGAL };
		d->imm = IMM_S(i);
		return st[f3];
	}
	case 0x13:
		d->imm = IMM_I(i);
		switch (f3) {
		case 0: return OP_ADDI;
		case 2: return OP_SLTI;
		case 3: return OP_SLTIU;
		case 4: return OP_XORI;
		case 6: return OP_ORI;
		case 7: return OP_ANDI;
		case 1:
			switch (i >> 20) {        /* Zbb unary ops: the whole imm12 */
			case 0x600: return OP_CLZ;
			case 0x601: return OP_CTZ;
			case 0x602: return OP_CPOP;
			case 0x604: return OP_SEXTB;
			case 0x605: return OP_SEXTH;
			}
			d->imm &= 63;
			switch (i >> 26) {
			case 0x00: return OP_SLLI;
			case 0x0a: return OP_BSETI;
			case 0x12: return OP_BCLRI;
			case 0x1a: return OP_BINVI;
			}
			return OP_ILLEGAL;
		default:
			if ((i >> 20) == 0x287) return OP_ORCB;
			if ((i >> 20) == 0x6b8) return OP_REV8;
			d->imm &= 63;
			switch (i >> 26) {
			case 0x00: return OP_SRLI;
			case 0x10: return OP_SRAI;
			case 0x12: return OP_BEXTI;
			case 0x18: return OP_RORI;
			}
			return OP_ILLEGAL;
		}
	case 0x1b:
		d->imm = IMM_I(i);
		switch (f3) {
		case 0: return OP_ADDIW;
		case 1:
			switch (i >> 20) {
			case 0x600: return OP_CLZW;
			case 0x601: return OP_CTZW;
			case 0x602: return OP_CPOPW;
			}
			if ((i >> 26) == 0x02) {          /* slli.uw: 6-bit shamt */
				d->imm &= 63;
				return OP_SLLIUW;
			}
			d->imm &= 31;
			return f7 ? OP_ILLEGAL : OP_SLLIW;
		case 5:
			d->imm &= 31;
			return f7 == 0 ? OP_SRLIW : f7 == 0x20 ? OP_SRAIW : f7 == 0x30 ? OP_RORIW : OP_ILLEGAL;
		default: return OP_ILLEGAL;
		}
	case 0x33:
		switch (f7 << 3 | f3) {
		case 0x000: return OP_ADD;   case 0x100: return OP_SUB;
		case 0x001: return OP_SLL;   case 0x002: return OP_SLT;
		case 0x003: return OP_SLTU;  case 0x004: return OP_XOR;
		case 0x005: return OP_SRL;   case 0x105: return OP_SRA;
		case 0x006: return OP_OR;    case 0x007: return OP_AND;
		case 0x008: return OP_MUL;   case 0x009: return OP_MULH;
		case 0x00a: return OP_MULHSU; case 0x00b: return OP_MULHU;
		case 0x00c: return OP_DIV;   case 0x00d: return OP_DIVU;
		case 0x00e: return OP_REM;   case 0x00f: return OP_REMU;
		/* Zba */
		case 0x082: return OP_SH1ADD; case 0x084: return OP_SH2ADD;
		case 0x086: return OP_SH3ADD;
		/* Zbb */
		case 0x107: return OP_ANDN;  case 0x106: return OP_ORN;
		case 0x104: return OP_XNOR;
		case 0x02c: return OP_MIN;   case 0x02d: return OP_MINU;
		case 0x02e: return OP_MAX;   case 0x02f: return OP_MAXU;
		case 0x181: return OP_ROL;   case 0x185: return OP_ROR;
		/* Zbc */
		case 0x029: return OP_CLMUL; case 0x02a: return OP_CLMULR;
		case 0x02b: return OP_CLMULH;
		/* Zbs */
		case 0x121: return OP_BCLR;  case 0x125: return OP_BEXT;
		case 0x1a1: return OP_BINV;  case 0x0a1: return OP_BSET;
		/* Zicond */
		case 0x03d: return OP_CZEROEQZ; case 0x03f: return OP_CZERONEZ;
		}
		return OP_ILLEGAL;
	case 0x3b:
		switch (f7 << 3 | f3) {
		case 0x000: return OP_ADDW;  case 0x100: return OP_SUBW;
		case 0x001: return OP_SLLW;  case 0x005: return OP_SRLW;
		case 0x105: return OP_SRAW;  case 0x008: return OP_MULW;
		case 0x00c: return OP_DIVW;  case 0x00d: return OP_DIVUW;
		case 0x00e: return OP_REMW;  case 0x00f: return OP_REMUW;
		case 0x020: return OP_ADDUW;
		case 0x082: return OP_SH1ADDUW; case 0x084: return OP_SH2ADDUW;
		case 0x086: return OP_SH3ADDUW;
		case 0x181: return OP_ROLW;  case 0x185: return OP_RORW;
		case 0x024: return RS2(i) ? OP_ILLEGAL : OP_ZEXTH;   /* zext.h = packw rd, rs1, x0 */
		}
		return OP_ILLEGAL;
	case 0x0f:
		if (f3 == 0)
			return OP_FENCE;      /* fence, fence.tso, pause (a fence hint) */
		if (f3 == 1)
			return OP_GENERIC;    /* fence.i: ends the slice (exec_generic) */
		if (f3 == 2 && !RD(i) && (i >> 20) <= 4 && (i >> 20) != 3)
			return OP_CBO;        /* cbo.inval/clean/flush/zero */
		return OP_ILLEGAL;
	case 0x07: return (f3 == 2 || f3 == 3) ? OP_FLOAD : OP_ILLEGAL;
	case 0x27: return (f3 == 2 || f3 == 3) ? OP_FSTORE : OP_ILLEGAL;
	case 0x43: case 0x47: case 0x4b: case 0x4f: case 0x53:
		return OP_FPOP;
	case 0x2f: case 0x73:
		return OP_GENERIC;
	}
	return OP_ILLEGAL;
}

/* Decode the parcel at page offset `off` of the code page at `host`. */
static void decode_slot(struct hart *h, struct dinsn *d, const uint8_t *host, unsigned off)
{
	uint16_t lo;
	memcpy(&lo, host + off, 2);
	memset(d, 0, sizeof(*d));
	if ((lo & 3) != 3) {
		uint32_t insn = rvc_expand(lo);   /* once per slot: the result is cached */
		d->len = 2;
		d->raw = insn;
		d->imm = lo;
		if (!insn) {
			d->raw = lo;
			d->op = OP_ILLEGAL;
			return;
		}
		d->op = (uint16_t)decode_int(d, insn);
		if (d->op == OP_ILLEGAL)
			d->raw = lo;
		else if (op_runs_generic(d->op))
			d->imm = lo;   /* stval for an illegal RVC-encoded FP/system op */
		return;
	}
	d->len = 4;
	if (off == PAGE_SIZE - 2) {      /* straddles the page: never cached */
		d->op = OP_CROSS;
		return;
	}
	uint32_t insn;
	memcpy(&insn, host + off, 4);
	d->raw = insn;
	d->op = (uint16_t)decode_int(d, insn);
	if (op_runs_generic(d->op))
		d->imm = (int32_t)insn;
}

/* ---- block compilation -------------------------------------------------- */

/* Compile the block starting at the already-decoded slot at page offset
 * `off` and turn that slot into OP_JIT. The rest of the block is decoded
 * into a private array, so its other slots stay undecoded and become block
 * entries of their own if something jumps to them. Returns the page's
 * slots (a different array if a full code buffer forced a flush). */
static struct dinsn *compile_block(struct hart *h, struct dinsn *slots, const uint8_t *host, unsigned off)
{
	const struct guest_ram *ram = h->group->ram;
	struct dinsn blk[JIT_MAX_INSNS + 1];
	int n = 0;
	unsigned o = off;
	blk[n++] = slots[off >> 1];
	int chain_on = 0;      /* the fall-through may chain: next op compiles */
	/* cbo.* ends a block too: cbo.zero may zero code that follows it */
	while (!op_ends_compiled_block(blk[n - 1].op, blk[n - 1].imm) && blk[n - 1].op != OP_CBO) {
		o += blk[n - 1].len;
		if (o >= PAGE_SIZE)
			break;
		decode_slot(h, &blk[n], host, o);
		if (!op_compilable(blk[n].op))
			break;
		if (n == JIT_MAX_INSNS) {
			chain_on = 1;
			break;
		}
		n++;
	}
	uint32_t code;
	if (jit_compile(h->jit, blk, n, slots, off, chain_on, &code)) {
		/* The code buffer is full: drop every block and start over. */
		jit_reset(h->jit);
		dcache_clear(h);
		slots = dcache_page(h, (uint64_t)(host - ram->host));
		slots[off >> 1] = blk[0];
		if (jit_compile(h->jit, blk, n, slots, off, chain_on, &code))
			return slots;      /* cannot happen with an empty buffer */
	}
	jit_note_block(h->jit, code, ram->base + (uint64_t)(host - ram->host) + off);
	struct dinsn *d = &slots[off >> 1];
	d->op = OP_JIT;
	d->raw = code;
	return slots;
}

/* ---- memory helpers --------------------------------------------------- */

static inline int load_tlb(struct hart *h, uint64_t va, unsigned size, uint64_t *v, int sext)
{
	struct tlb_entry *e = &h->tlb_r[(va >> PAGE_SHIFT) & (TLB_SIZE - 1)];
	if (likely(tlb_hit(h, e, va) && (va & (PAGE_SIZE - 1)) <= PAGE_SIZE - size)) {
		const void *p = (const void *)(uintptr_t)(va + e->addend);
		switch (size) {
		case 1: *v = sext ? (uint64_t)(int64_t)*(const int8_t *)p : *(const uint8_t *)p; break;
		case 2: { uint16_t t; memcpy(&t, p, 2); *v = sext ? (uint64_t)(int64_t)(int16_t)t : t; break; }
		case 4: { uint32_t t; memcpy(&t, p, 4); *v = sext ? (uint64_t)(int64_t)(int32_t)t : t; break; }
		default: memcpy(v, p, 8); break;
		}
		return 0;
	}
	uint64_t t;
	if (mmu_load_slow(h, va, size, &t))
		return 1;
	if (sext && size < 8)
		t = (uint64_t)((int64_t)(t << (64 - 8 * size)) >> (64 - 8 * size));
	*v = t;
	return 0;
}

static inline int store_tlb(struct hart *h, uint64_t va, unsigned size, uint64_t v)
{
	struct tlb_entry *e = &h->tlb_w[(va >> PAGE_SHIFT) & (TLB_SIZE - 1)];
	if (likely(tlb_hit(h, e, va) && (va & (PAGE_SIZE - 1)) <= PAGE_SIZE - size)) {
		memcpy((void *)(uintptr_t)(va + e->addend), &v, size);   /* little-endian host */
		return 0;
	}
	return mmu_store_slow(h, va, size, v);
}

/* ---- the generic executor: system, atomics, fences, FP ---------------- */

static int64_t amo_op(unsigned f5, int64_t a, int64_t b, int wide)
{
	if (!wide) { a = (int32_t)a; b = (int32_t)b; }
	uint64_t ua = wide ? (uint64_t)a : (uint32_t)a, ub = wide ? (uint64_t)b : (uint32_t)b;
	switch (f5) {
	case 0x00: return a + b;
	case 0x01: return b;
	case 0x04: return a ^ b;
	case 0x0c: return a & b;
	case 0x08: return a | b;
	case 0x10: return a < b ? a : b;
	case 0x14: return a > b ? a : b;
	case 0x18: return ua < ub ? a : b;
	default:   return ua > ub ? a : b;   /* 0x1c maxu */
	}
}

/* An AMO as one host atomic operation; returns the old value. The
 * min/max kinds have no host instruction: compare-and-swap until it holds. */
static uint64_t amo64(void *p, unsigned f5, uint64_t src)
{
	uint64_t *q = p;
	switch (f5) {
	case 0x00: return __atomic_fetch_add(q, src, __ATOMIC_SEQ_CST);
	case 0x01: return __atomic_exchange_n(q, src, __ATOMIC_SEQ_CST);
	case 0x04: return __atomic_fetch_xor(q, src, __ATOMIC_SEQ_CST);
	case 0x0c: return __atomic_fetch_and(q, src, __ATOMIC_SEQ_CST);
	case 0x08: return __atomic_fetch_or(q, src, __ATOMIC_SEQ_CST);
	}
	uint64_t old = __atomic_load_n(q, __ATOMIC_RELAXED);
	while (!__atomic_compare_exchange_n(q, &old, (uint64_t)amo_op(f5, (int64_t)old, (int64_t)src, 1),
					    true, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
		;
	return old;
}

static uint32_t amo32(void *p, unsigned f5, uint32_t src)
{
	uint32_t *q = p;
	switch (f5) {
	case 0x00: return __atomic_fetch_add(q, src, __ATOMIC_SEQ_CST);
	case 0x01: return __atomic_exchange_n(q, src, __ATOMIC_SEQ_CST);
	case 0x04: return __atomic_fetch_xor(q, src, __ATOMIC_SEQ_CST);
	case 0x0c: return __atomic_fetch_and(q, src, __ATOMIC_SEQ_CST);
	case 0x08: return __atomic_fetch_or(q, src, __ATOMIC_SEQ_CST);
	}
	uint32_t old = __atomic_load_n(q, __ATOMIC_RELAXED);
	while (!__atomic_compare_exchange_n(q, &old,
					    (uint32_t)amo_op(f5, (int32_t)old, (int32_t)(int64_t)(int32_t)src, 0),
					    true, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
		;
	return old;
}

static int illegal(struct hart *h, uint32_t bits)
{
	hart_trap(h, EXC_ILLEGAL, bits);
	return EX_TRAP;
}

static int exec_atomic(struct hart *h, uint32_t insn, uint32_t bits)
{
	uint64_t *x = h->x;
	unsigned f5 = insn >> 27, f3 = F3(insn), rd = RD(insn);
	int wide = f3 == 3;
	unsigned size = wide ? 8 : 4;
	uint64_t va = x[RS1(insn)], pa, src = x[RS2(insn)], result;
	if (f3 != 2 && f3 != 3)
		return illegal(h, bits);
	if (f5 == 0x02) {                                      /* lr */
		if (RS2(insn))
			return illegal(h, bits);
		void *p = mmu_atomic_ptr(h, va, size, ACC_LOAD, &pa);
		if (!p)
			return EX_TRAP;
		result = wide ? __atomic_load_n((uint64_t *)p, __ATOMIC_SEQ_CST)
			      : (uint64_t)(int64_t)__atomic_load_n((int32_t *)p, __ATOMIC_SEQ_CST);
		h->resv_valid = true;
		h->resv_addr = pa;
		h->resv_value = result;
	} else if (f5 == 0x03) {                               /* sc */
		void *p = mmu_atomic_ptr(h, va, size, ACC_STORE, &pa);
		if (!p)
			return EX_TRAP;
		/* The reservation holds while the word still has the value LR
		 * read: one compare-and-swap against other harts (as QEMU). */
		result = 1;
		if (h->resv_valid && h->resv_addr == pa) {
			if (wide) {
				uint64_t want = h->resv_value;
				if (__atomic_compare_exchange_n((uint64_t *)p, &want, src, false,
								__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
					result = 0;
			} else {
				uint32_t want = (uint32_t)h->resv_value;
				if (__atomic_compare_exchange_n((uint32_t *)p, &want, (uint32_t)src, false,
								__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
					result = 0;
			}
		}
		h->resv_valid = false;
	} else {
		switch (f5) {
		case 0x00: case 0x01: case 0x04: case 0x0c: case 0x08:
		case 0x10: case 0x14: case 0x18: case 0x1c: break;
		default: return illegal(h, bits);
		}
		void *p = mmu_atomic_ptr(h, va, size, ACC_STORE, &pa);
		if (!p)
			return EX_TRAP;
		result = wide ? amo64(p, f5, src) : (uint64_t)(int64_t)(int32_t)amo32(p, f5, (uint32_t)src);
	}
	if (rd)
		x[rd] = result;
	return EX_NEXT;
}

static int exec_system(struct hart *h, uint32_t insn, uint32_t bits, uint64_t *npc,
		       uint64_t instret_now)
{
	uint64_t *x = h->x;
	unsigned f3 = F3(insn);
	if (f3 == 0) {
		if (insn == 0x00000073) {                      /* ecall */
			if (h->priv == PRV_U) {
				hart_trap(h, EXC_ECALL_U, 0);
				return EX_TRAP;
			}
			h->exit = HART_EXIT_SBI;    /* an SBI call: the VMM's */
			return EX_END;
		}
		if (insn == 0x00100073) {                      /* ebreak: stval 0, as QEMU */
			hart_trap(h, EXC_BREAKPOINT, 0);
			return EX_TRAP;
		}
		if (insn == 0x10200073) {                      /* sret */
			if (h->priv != PRV_S)
				return illegal(h, bits);
			uint64_t s = h->sstatus;
			h->priv = (s & SSTATUS_SPP) ? PRV_S : PRV_U;
			s = (s & ~SSTATUS_SIE) | ((s & SSTATUS_SPIE) ? SSTATUS_SIE : 0);
			s |= SSTATUS_SPIE;
			s &= ~SSTATUS_SPP;
			h->sstatus = s;
			tlb_update_mode(h);
			*npc = h->sepc;
			return EX_END;
		}
		if (insn == 0x10500073) {                      /* wfi */
			if (h->priv != PRV_S)
				return illegal(h, bits);
			if (!(hart_read_sip(h) & h->sie))
				h->wfi = true;
			return EX_END;
		}
		if ((insn & 0xfe007fff) == 0x12000073) {       /* sfence.vma */
			if (h->priv != PRV_S)
				return illegal(h, bits);
			/* rs2 names an ASID: its global mappings stay (the TLB
			 * has no ASIDs, so every other entry goes) */
			if (RS1(insn))
				tlb_flush_va(h, x[RS1(insn)]);
			else if (RS2(insn))
				tlb_flush_non_global(h);
			else
				tlb_flush_all(h);
			return EX_END;   /* refetch through the new mappings */
		}
		return illegal(h, bits);
	}
	if (f3 == 4)
		return illegal(h, bits);
	unsigned csr = insn >> 20, rs1 = RS1(insn);
	uint64_t src = (f3 & 4) ? rs1 : x[rs1];
	int op = f3 & 3;
	int write = op == CSR_OP_RW || rs1 != 0;
	uint64_t old;
	int flags = 0;
	h->instret = instret_now;   /* counters read exactly */
	if (csr_access(h, csr, op, src, write, &old, &flags))
		return illegal(h, bits);
	if (RD(insn))
		x[RD(insn)] = old;
	return (flags & CSR_EFFECT_END_BLOCK) ? EX_END : EX_NEXT;
}

static int fs_off(const struct hart *h) { return (h->sstatus & SSTATUS_FS) == FS_OFF; }

/* Execute one non-integer instruction. *npc is preset to pc + length. */
static int exec_generic(struct hart *h, uint32_t insn, uint32_t bits, uint64_t *npc,
			uint64_t instret_now)
{
	uint64_t *x = h->x;
	switch (insn & 0x7f) {
	case 0x0f:                                             /* fence, fence.i */
		if (F3(insn) > 1)
			return illegal(h, bits);
		/* fence.i: code other harts wrote is dropped before the next
		 * instruction is fetched (the vCPU loop serves HART_REQ_CODE
		 * before the next slice); this hart's own stores to decoded
		 * code have dropped it already. */
		if (F3(insn) == 1 && (atomic_load(&h->req) & HART_REQ_CODE))
			return EX_END;
		return EX_NEXT;
	case 0x2f:
		return exec_atomic(h, insn, bits);
	case 0x07: {                                           /* flw/fld */
		unsigned f3 = F3(insn);
		if (fs_off(h) || (f3 != 2 && f3 != 3))
			return illegal(h, bits);
		uint64_t v;
		if (load_tlb(h, x[RS1(insn)] + IMM_I(insn), f3 == 2 ? 4 : 8, &v, 0))
			return EX_TRAP;
		h->f[RD(insn)] = f3 == 2 ? (0xffffffff00000000ull | v) : v;
		h->sstatus |= FS_DIRTY;
		return EX_NEXT;
	}
	case 0x27: {                                           /* fsw/fsd */
		unsigned f3 = F3(insn);
		if (fs_off(h) || (f3 != 2 && f3 != 3))
			return illegal(h, bits);
		uint64_t va = x[RS1(insn)] + IMM_S(insn), v = h->f[RS2(insn)];
		return store_tlb(h, va, f3 == 2 ? 4 : 8, f3 == 2 ? (uint32_t)v : v) ? EX_TRAP : EX_NEXT;
	}
	case 0x43: case 0x47: case 0x4b: case 0x4f: case 0x53:
		if (fs_off(h) || fpu_exec(h, insn))
			return illegal(h, bits);
		h->sstatus |= FS_DIRTY;
		return EX_NEXT;
	case 0x73:
		return exec_system(h, insn, bits, npc, instret_now);
	}
	return illegal(h, bits);
}

/* ---- the threaded interpreter ----------------------------------------- */


/* Keep one dispatch jump per handler: GCC would otherwise merge them into a
 * single shared indirect jump, which the branch predictor cannot learn. */
__attribute__((optimize("no-gcse", "no-crossjumping")))
uint64_t hart_run(struct hart *h, uint64_t n)
{
#define OP_LABEL(name) &&op_##name,
	static const void *const labels[OP_COUNT] = { OPS(OP_LABEL) };
	const struct guest_ram *ram = h->group->ram;
	uint64_t *x = h->x;
	uint64_t pc = h->pc;
	const uint64_t instret0 = h->instret;
	uint64_t done = 0;
	uint64_t page_va = ~0ull;        /* virtual page of `slots` */
	struct dinsn *slots = NULL, *d = NULL;
	uint8_t *page_host = NULL;
	struct dinsn cross_slot;         /* a page-straddling instruction */
	const uint8_t *jit_code = h->jit ? jit_code_base(h->jit) : NULL;

#define DISPATCH() do {                                                        \
	if (unlikely(done >= n)) goto out;                                     \
	done++;                                                                \
	if (unlikely((pc & PAGE_MASK) != page_va)) goto new_page;              \
	d = &slots[(pc & (PAGE_SIZE - 1)) >> 1];                               \
	goto *labels[d->op];                                                   \
} while (0)
#define NEXT() do { pc += d->len; DISPATCH(); } while (0)
#define XR1 x[d->rs1]
#define XR2 x[d->rs2]
#define XRD x[d->rd]
#define LOAD_OP(name, size, sext) op_##name: {                                 \
	uint64_t v_;                                                           \
	h->pc = pc;                                                            \
	if (load_tlb(h, XR1 + d->imm, size, &v_, sext)) goto trapped;          \
	XRD = v_;                                                              \
	NEXT(); }
/* The store may hit this very code page and drop its decoded copy (d
 * included), so take the length first. */
#define STORE_OP(name, size) op_##name: {                                      \
	unsigned len_ = d->len;                                                \
	h->pc = pc;                                                            \
	if (store_tlb(h, XR1 + d->imm, size, XR2)) goto trapped;               \
	pc += len_;                                                            \
	DISPATCH(); }
#define BRANCH_OP(name, cond) op_##name:                                       \
	if (cond) { pc += d->imm; DISPATCH(); }                                \
	NEXT();
#define ALU_OP(name, expr) op_##name: XRD = (expr); NEXT();

	DISPATCH();

new_page:
	h->pc = pc;
	page_host = mmu_fetch_page(h, pc);
	if (!page_host)
		goto trapped;
	slots = dcache_page(h, (uint64_t)(page_host - ram->host));
	page_va = pc & PAGE_MASK;
	d = &slots[(pc & (PAGE_SIZE - 1)) >> 1];
	goto *labels[d->op];

op_DECODE: {
	/* A store may have dropped this page's decoded copy: re-claim it. */
	uint64_t off = (uint64_t)(page_host - ram->host);
	struct code_page *cp = &h->dcache->pages[(off >> 12) & (DC_PAGES - 1)];
	if (unlikely(cp->pa != ram->base + off)) {
		slots = dcache_page(h, off);
		d = &slots[(pc & (PAGE_SIZE - 1)) >> 1];
	}
	decode_slot(h, d, page_host, pc & (PAGE_SIZE - 1));
	if (h->jit && op_compilable(d->op)) {
		slots = compile_block(h, slots, page_host, pc & (PAGE_SIZE - 1));
		d = &slots[(pc & (PAGE_SIZE - 1)) >> 1];
	}
	goto *labels[d->op];
}

op_JIT: {
	/* A compiled block starts here (d->raw is its offset); a jalr in
	 * compiled code may come straight here next time (h->jump_cache). */
	h->jump_cache[(pc >> 1) & (JIT_JUMP_CACHE - 1)].tag = pc | ((h->tlb_want >> 1) & 1);
	h->jump_cache[(pc >> 1) & (JIT_JUMP_CACHE - 1)].body = jit_code + d->raw + JIT_BODY_OFFSET;
	uint32_t r = ((jit_block_fn)(void *)(jit_code + d->raw))(h, pc);
	done += (r & ~JIT_TRAPPED) - 1;
	if (unlikely(r & JIT_TRAPPED))
		goto trapped;
	pc = h->pc;
	/* Another thread wants this hart between slices (an interrupt, a
	 * remote fence): end the slice now rather than up to 20000
	 * instructions later. Compiled code comes back here at least every
	 * JIT_CHAIN_LIMIT instructions. */
	if (unlikely(atomic_load_explicit(&h->yield, memory_order_relaxed)))
		goto out;
	DISPATCH();
}

op_ILLEGAL:
	h->pc = pc;
	hart_trap(h, EXC_ILLEGAL, d->raw);
	goto trapped;

op_CROSS: {
	/* A 32-bit instruction straddling two pages: fetch the halves apart. */
	uint16_t lo, hi;
	memcpy(&lo, page_host + (PAGE_SIZE - 2), 2);
	h->pc = pc;
	if (mmu_fetch16(h, pc + 2, &hi))
		goto trapped;
	uint32_t insn = lo | (uint32_t)hi << 16;
	struct dinsn tmp = { 0 };
	tmp.op = (uint16_t)decode_int(&tmp, insn);
	tmp.len = 4;
	tmp.raw = insn;
	if (op_runs_generic(tmp.op) || tmp.op == OP_ILLEGAL)
		tmp.imm = (int32_t)insn;
	/* Run it from a private slot; the page cache never holds it. */
	cross_slot = tmp;
	d = &cross_slot;
	goto *labels[d->op];
}

op_FENCE:      /* a plain fence (fence.i runs generic) */
	if (fence_orders_store_load(d->raw))
		atomic_thread_fence(memory_order_seq_cst);
	NEXT();
op_FLOAD:
op_FSTORE:
op_FPOP:
op_GENERIC: {
	uint64_t npc = pc + d->len;
	h->pc = pc;
	int r = exec_generic(h, d->raw, (uint32_t)d->imm, &npc, instret0 + done - 1);
	if (r == EX_TRAP)
		goto trapped;
	pc = npc;
	if (r == EX_END)
		goto out;
	DISPATCH();
}

op_LUI:   XRD = (uint64_t)(int64_t)d->imm; NEXT();
op_AUIPC: XRD = pc + d->imm; NEXT();
op_JAL:   XRD = pc + d->len; pc += d->imm; DISPATCH();
op_JALR: {
	uint64_t t = (XR1 + d->imm) & ~1ull;
	XRD = pc + d->len;
	pc = t;
	DISPATCH();
}
BRANCH_OP(BEQ, XR1 == XR2)
BRANCH_OP(BNE, XR1 != XR2)
BRANCH_OP(BLT, (int64_t)XR1 < (int64_t)XR2)
BRANCH_OP(BGE, (int64_t)XR1 >= (int64_t)XR2)
BRANCH_OP(BLTU, XR1 < XR2)
BRANCH_OP(BGEU, XR1 >= XR2)
LOAD_OP(LB, 1, 1)
LOAD_OP(LH, 2, 1)
LOAD_OP(LW, 4, 1)
LOAD_OP(LD, 8, 0)
LOAD_OP(LBU, 1, 0)
LOAD_OP(LHU, 2, 0)
LOAD_OP(LWU, 4, 0)
STORE_OP(SB, 1)
STORE_OP(SH, 2)
STORE_OP(SW, 4)
STORE_OP(SD, 8)
ALU_OP(ADDI, XR1 + d->imm)
ALU_OP(SLTI, (int64_t)XR1 < (int64_t)d->imm)
ALU_OP(SLTIU, XR1 < (uint64_t)(int64_t)d->imm)
ALU_OP(XORI, XR1 ^ (uint64_t)(int64_t)d->imm)
ALU_OP(ORI, XR1 | (uint64_t)(int64_t)d->imm)
ALU_OP(ANDI, XR1 & (uint64_t)(int64_t)d->imm)
ALU_OP(SLLI, XR1 << d->imm)
ALU_OP(SRLI, XR1 >> d->imm)
ALU_OP(SRAI, (uint64_t)((int64_t)XR1 >> d->imm))
ALU_OP(ADDIW, sx32(XR1 + d->imm))
ALU_OP(SLLIW, sx32((uint32_t)XR1 << d->imm))
ALU_OP(SRLIW, sx32((uint32_t)XR1 >> d->imm))
ALU_OP(SRAIW, (uint64_t)(int64_t)((int32_t)XR1 >> d->imm))
ALU_OP(ADD, XR1 + XR2)
ALU_OP(SUB, XR1 - XR2)
ALU_OP(SLL, XR1 << (XR2 & 63))
ALU_OP(SLT, (int64_t)XR1 < (int64_t)XR2)
ALU_OP(SLTU, XR1 < XR2)
ALU_OP(XOR, XR1 ^ XR2)
ALU_OP(SRL, XR1 >> (XR2 & 63))
ALU_OP(SRA, (uint64_t)((int64_t)XR1 >> (XR2 & 63)))
ALU_OP(OR, XR1 | XR2)
ALU_OP(AND, XR1 & XR2)
ALU_OP(MUL, XR1 * XR2)
ALU_OP(MULH, rv_mulh(XR1, XR2))
ALU_OP(MULHSU, rv_mulhsu(XR1, XR2))
ALU_OP(MULHU, rv_mulhu(XR1, XR2))
ALU_OP(DIV, rv_div(XR1, XR2))
ALU_OP(DIVU, rv_divu(XR1, XR2))
ALU_OP(REM, rv_rem(XR1, XR2))
ALU_OP(REMU, rv_remu(XR1, XR2))
ALU_OP(ADDW, sx32(XR1 + XR2))
ALU_OP(SUBW, sx32(XR1 - XR2))
ALU_OP(SLLW, sx32((uint32_t)XR1 << (XR2 & 31)))
ALU_OP(SRLW, sx32((uint32_t)XR1 >> (XR2 & 31)))
ALU_OP(SRAW, (uint64_t)(int64_t)((int32_t)XR1 >> (XR2 & 31)))
ALU_OP(MULW, sx32(XR1 * XR2))
ALU_OP(DIVW, rv_divw(XR1, XR2))
ALU_OP(DIVUW, rv_divuw(XR1, XR2))
ALU_OP(REMW, rv_remw(XR1, XR2))
ALU_OP(REMUW, rv_remuw(XR1, XR2))
ALU_OP(SH1ADD, XR2 + (XR1 << 1))
ALU_OP(SH2ADD, XR2 + (XR1 << 2))
ALU_OP(SH3ADD, XR2 + (XR1 << 3))
ALU_OP(ADDUW, XR2 + (uint32_t)XR1)
ALU_OP(SH1ADDUW, XR2 + ((uint64_t)(uint32_t)XR1 << 1))
ALU_OP(SH2ADDUW, XR2 + ((uint64_t)(uint32_t)XR1 << 2))
ALU_OP(SH3ADDUW, XR2 + ((uint64_t)(uint32_t)XR1 << 3))
ALU_OP(SLLIUW, (uint64_t)(uint32_t)XR1 << d->imm)
ALU_OP(ANDN, XR1 & ~XR2)
ALU_OP(ORN, XR1 | ~XR2)
ALU_OP(XNOR, ~(XR1 ^ XR2))
ALU_OP(CLZ, rv_clz(XR1))
ALU_OP(CTZ, rv_ctz(XR1))
ALU_OP(CPOP, rv_cpop(XR1))
ALU_OP(CLZW, rv_clzw(XR1))
ALU_OP(CTZW, rv_ctzw(XR1))
ALU_OP(CPOPW, rv_cpopw(XR1))
ALU_OP(MAX, (int64_t)XR1 > (int64_t)XR2 ? XR1 : XR2)
ALU_OP(MAXU, XR1 > XR2 ? XR1 : XR2)
ALU_OP(MIN, (int64_t)XR1 < (int64_t)XR2 ? XR1 : XR2)
ALU_OP(MINU, XR1 < XR2 ? XR1 : XR2)
ALU_OP(SEXTB, (uint64_t)(int64_t)(int8_t)XR1)
ALU_OP(SEXTH, (uint64_t)(int64_t)(int16_t)XR1)
ALU_OP(ZEXTH, (uint16_t)XR1)
ALU_OP(ROL, rv_rol(XR1, XR2))
ALU_OP(ROR, rv_ror(XR1, XR2))
ALU_OP(RORI, rv_ror(XR1, (uint64_t)d->imm))
ALU_OP(ROLW, rv_rolw(XR1, XR2))
ALU_OP(RORW, rv_rorw(XR1, XR2))
ALU_OP(RORIW, rv_rorw(XR1, (uint64_t)d->imm))
ALU_OP(ORCB, rv_orc_b(XR1))
ALU_OP(REV8, rv_rev8(XR1))
ALU_OP(CLMUL, rv_clmul(XR1, XR2))
ALU_OP(CLMULH, rv_clmulh(XR1, XR2))
ALU_OP(CLMULR, rv_clmulr(XR1, XR2))
ALU_OP(BCLR, XR1 & ~(1ull << (XR2 & 63)))
ALU_OP(BCLRI, XR1 & ~(1ull << d->imm))
ALU_OP(BEXT, (XR1 >> (XR2 & 63)) & 1)
ALU_OP(BEXTI, (XR1 >> d->imm) & 1)
ALU_OP(BINV, XR1 ^ (1ull << (XR2 & 63)))
ALU_OP(BINVI, XR1 ^ (1ull << d->imm))
ALU_OP(BSET, XR1 | (1ull << (XR2 & 63)))
ALU_OP(BSETI, XR1 | (1ull << d->imm))
ALU_OP(CZEROEQZ, XR2 ? XR1 : 0)
ALU_OP(CZERONEZ, XR2 ? 0 : XR1)
op_CBO: {
	/* cbo.zero may hit this very code page and drop its decoded copy. */
	unsigned len_ = d->len;
	h->pc = pc;
	if (cmo_exec(h, d->raw))
		goto trapped;
	pc += len_;
	DISPATCH();
}

trapped:
	/* The trap changed pc and maybe privilege: fetch afresh. A trapping
	 * instruction still counts toward the slice (and instret, slightly
	 * over-counting): a guest whose trap vector itself faults must not keep
	 * hart_run from returning to the run loop. */
	pc = h->pc;
	page_va = ~0ull;
	DISPATCH();

out:
	h->pc = pc;
	h->instret = instret0 + done;
	return done;
}
