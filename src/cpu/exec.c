/* The interpreter: fetch through the current code page, expand RVC by table,
 * execute RV64IMA + Zicsr + Zifencei (F/D ops go to fpu.c). Loads and stores
 * hit the addend TLB inline; misses, MMIO and faults take the slow paths. */
#include <string.h>
#include "cpu/hart.h"
#include "cpu/mmu.h"
#include "cpu/csr.h"
#include "machine/sbi.h"
#include "core/vm.h"

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define RD   ((insn >> 7) & 31)
#define RS1  ((insn >> 15) & 31)
#define RS2  ((insn >> 20) & 31)
#define F3   ((insn >> 12) & 7)
#define F7   (insn >> 25)
#define IMM_I ((int64_t)(int32_t)insn >> 20)
#define IMM_S (((int64_t)(int32_t)(insn & 0xfe000000u) >> 20) | ((insn >> 7) & 0x1f))
#define IMM_B (((int64_t)(int32_t)(insn & 0x80000000u) >> 19) | ((insn >> 20) & 0x7e0) | \
	       ((insn >> 7) & 0x1e) | ((insn << 4) & 0x800))
#define IMM_U ((int64_t)(int32_t)(insn & 0xfffff000u))
#define IMM_J (((int64_t)(int32_t)(insn & 0x80000000u) >> 11) | (insn & 0xff000) | \
	       ((insn >> 9) & 0x800) | ((insn >> 20) & 0x7fe))

/* Inline TLB-hit load of a C type; on a miss the slow path may trap. */
#define LOAD(type, va, dst) do {                                                   \
	uint64_t va_ = (va);                                                        \
	struct tlb_entry *e_ = &h->tlb_r[(va_ >> PAGE_SHIFT) & (TLB_SIZE - 1)];     \
	if (likely(tlb_hit(h, e_, va_) && (va_ & (PAGE_SIZE - 1)) <= PAGE_SIZE - sizeof(type))) { \
		type t_;                                                            \
		memcpy(&t_, (void *)(uintptr_t)(va_ + e_->addend), sizeof(type));  \
		dst = t_;                                                           \
	} else {                                                                    \
		uint64_t v_;                                                        \
		h->pc = pc;                                                         \
		if (mmu_load_slow(h, va_, sizeof(type), &v_))                      \
			goto trapped;                                               \
		dst = (type)v_;                                                     \
	}                                                                           \
} while (0)

#define STORE(type, va, val) do {                                                  \
	uint64_t va_ = (va);                                                        \
	struct tlb_entry *e_ = &h->tlb_w[(va_ >> PAGE_SHIFT) & (TLB_SIZE - 1)];     \
	type t_ = (type)(val);                                                      \
	if (likely(tlb_hit(h, e_, va_) && (va_ & (PAGE_SIZE - 1)) <= PAGE_SIZE - sizeof(type))) { \
		memcpy((void *)(uintptr_t)(va_ + e_->addend), &t_, sizeof(type));  \
	} else {                                                                    \
		h->pc = pc;                                                         \
		if (mmu_store_slow(h, va_, sizeof(type), (uint64_t)t_))            \
			goto trapped;                                               \
	}                                                                           \
} while (0)

#define ILLEGAL() do { cause = EXC_ILLEGAL; tval = insn_bits; goto exception; } while (0)

static uint64_t do_div(int64_t a, int64_t b)
{
	if (b == 0) return ~0ull;
	if (a == INT64_MIN && b == -1) return (uint64_t)a;
	return (uint64_t)(a / b);
}
static uint64_t do_rem(int64_t a, int64_t b)
{
	if (b == 0) return (uint64_t)a;
	if (a == INT64_MIN && b == -1) return 0;
	return (uint64_t)(a % b);
}
static uint64_t mulh(int64_t a, int64_t b) { return (uint64_t)(((__int128)a * b) >> 64); }
static uint64_t mulhu(uint64_t a, uint64_t b) { return (uint64_t)(((unsigned __int128)a * b) >> 64); }
static uint64_t mulhsu(int64_t a, uint64_t b) { return (uint64_t)(((__int128)a * (unsigned __int128)b) >> 64); }
static int64_t sx32(uint64_t v) { return (int64_t)(int32_t)v; }

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

static int fs_off(const struct hart *h) { return (h->sstatus & SSTATUS_FS) == FS_OFF; }

uint64_t hart_run(struct hart *h, uint64_t n)
{
	uint64_t *x = h->x;
	uint64_t pc = h->pc;
	uint64_t done = 0;
	const uint64_t instret0 = h->instret;
	uint32_t insn, insn_bits;
	uint64_t npc, cause, tval;

	while (done < n) {
		done++;
		if (unlikely((pc & PAGE_MASK) != h->fetch_va)) {
			h->pc = pc;
			if (mmu_fetch_page(h, pc))
				goto trapped;
		}
		uint16_t lo;
		memcpy(&lo, h->fetch_host + (pc & (PAGE_SIZE - 1)), 2);
		if ((lo & 3) == 3) {
			if (likely((pc & (PAGE_SIZE - 1)) != PAGE_SIZE - 2)) {
				memcpy(&insn, h->fetch_host + (pc & (PAGE_SIZE - 1)), 4);
			} else {
				uint16_t hi;
				h->pc = pc;
				if (mmu_fetch16(h, pc + 2, &hi))
					goto trapped;
				insn = lo | (uint32_t)hi << 16;
			}
			insn_bits = insn;
			npc = pc + 4;
		} else {
			insn = h->rvc[lo];
			insn_bits = lo;
			npc = pc + 2;
			if (unlikely(!insn)) {
				cause = EXC_ILLEGAL;
				tval = lo;
				goto exception;
			}
		}

		switch (insn & 0x7f) {
		case 0x37: x[RD] = IMM_U; break;                       /* lui */
		case 0x17: x[RD] = pc + IMM_U; break;                  /* auipc */
		case 0x6f: x[RD] = npc; npc = pc + IMM_J; break;       /* jal */
		case 0x67: {                                           /* jalr */
			if (F3 != 0) ILLEGAL();
			uint64_t t = (x[RS1] + IMM_I) & ~1ull;
			x[RD] = npc;
			npc = t;
			break;
		}
		case 0x63: {                                           /* branches */
			uint64_t a = x[RS1], b = x[RS2];
			int take;
			switch (F3) {
			case 0: take = a == b; break;
			case 1: take = a != b; break;
			case 4: take = (int64_t)a < (int64_t)b; break;
			case 5: take = (int64_t)a >= (int64_t)b; break;
			case 6: take = a < b; break;
			case 7: take = a >= b; break;
			default: ILLEGAL();
			}
			if (take)
				npc = pc + IMM_B;
			break;
		}
		case 0x03: {                                           /* loads */
			uint64_t va = x[RS1] + IMM_I, v;
			switch (F3) {
			case 0: { int8_t t; LOAD(int8_t, va, t); v = (uint64_t)(int64_t)t; break; }
			case 1: { int16_t t; LOAD(int16_t, va, t); v = (uint64_t)(int64_t)t; break; }
			case 2: { int32_t t; LOAD(int32_t, va, t); v = (uint64_t)(int64_t)t; break; }
			case 3: LOAD(uint64_t, va, v); break;
			case 4: { uint8_t t; LOAD(uint8_t, va, t); v = t; break; }
			case 5: { uint16_t t; LOAD(uint16_t, va, t); v = t; break; }
			case 6: { uint32_t t; LOAD(uint32_t, va, t); v = t; break; }
			default: ILLEGAL();
			}
			x[RD] = v;
			break;
		}
		case 0x23: {                                           /* stores */
			uint64_t va = x[RS1] + IMM_S, v = x[RS2];
			switch (F3) {
			case 0: STORE(uint8_t, va, v); break;
			case 1: STORE(uint16_t, va, v); break;
			case 2: STORE(uint32_t, va, v); break;
			case 3: STORE(uint64_t, va, v); break;
			default: ILLEGAL();
			}
			break;
		}
		case 0x13: {                                           /* op-imm */
			uint64_t a = x[RS1];
			int64_t imm = IMM_I;
			switch (F3) {
			case 0: x[RD] = a + imm; break;
			case 2: x[RD] = (int64_t)a < imm; break;
			case 3: x[RD] = a < (uint64_t)imm; break;
			case 4: x[RD] = a ^ imm; break;
			case 6: x[RD] = a | imm; break;
			case 7: x[RD] = a & imm; break;
			case 1:
				if (insn >> 26) ILLEGAL();
				x[RD] = a << (imm & 63);
				break;
			default:
				if ((insn >> 26) == 0) x[RD] = a >> (imm & 63);
				else if ((insn >> 26) == 0x10) x[RD] = (uint64_t)((int64_t)a >> (imm & 63));
				else ILLEGAL();
				break;
			}
			break;
		}
		case 0x1b: {                                           /* op-imm-32 */
			uint32_t a = (uint32_t)x[RS1];
			unsigned sh = RS2;
			switch (F3) {
			case 0: x[RD] = sx32(a + (uint32_t)IMM_I); break;
			case 1: if (F7) ILLEGAL(); x[RD] = sx32(a << sh); break;
			case 5:
				if (F7 == 0) x[RD] = sx32(a >> sh);
				else if (F7 == 0x20) x[RD] = (uint64_t)(int64_t)((int32_t)a >> sh);
				else ILLEGAL();
				break;
			default: ILLEGAL();
			}
			break;
		}
		case 0x33: {                                           /* op */
			uint64_t a = x[RS1], b = x[RS2];
			switch (F7 << 3 | F3) {
			case 0x000: x[RD] = a + b; break;
			case 0x100: x[RD] = a - b; break;
			case 0x001: x[RD] = a << (b & 63); break;
			case 0x002: x[RD] = (int64_t)a < (int64_t)b; break;
			case 0x003: x[RD] = a < b; break;
			case 0x004: x[RD] = a ^ b; break;
			case 0x005: x[RD] = a >> (b & 63); break;
			case 0x105: x[RD] = (uint64_t)((int64_t)a >> (b & 63)); break;
			case 0x006: x[RD] = a | b; break;
			case 0x007: x[RD] = a & b; break;
			case 0x008: x[RD] = a * b; break;
			case 0x009: x[RD] = mulh(a, b); break;
			case 0x00a: x[RD] = mulhsu(a, b); break;
			case 0x00b: x[RD] = mulhu(a, b); break;
			case 0x00c: x[RD] = do_div(a, b); break;
			case 0x00d: x[RD] = b ? a / b : ~0ull; break;
			case 0x00e: x[RD] = do_rem(a, b); break;
			case 0x00f: x[RD] = b ? a % b : a; break;
			default: ILLEGAL();
			}
			break;
		}
		case 0x3b: {                                           /* op-32 */
			uint32_t a = (uint32_t)x[RS1], b = (uint32_t)x[RS2];
			switch (F7 << 3 | F3) {
			case 0x000: x[RD] = sx32(a + b); break;
			case 0x100: x[RD] = sx32(a - b); break;
			case 0x001: x[RD] = sx32(a << (b & 31)); break;
			case 0x005: x[RD] = sx32(a >> (b & 31)); break;
			case 0x105: x[RD] = (uint64_t)(int64_t)((int32_t)a >> (b & 31)); break;
			case 0x008: x[RD] = sx32(a * b); break;
			case 0x00c:
				if (b == 0) x[RD] = ~0ull;
				else if ((int32_t)a == INT32_MIN && (int32_t)b == -1) x[RD] = sx32(a);
				else x[RD] = (uint64_t)(int64_t)((int32_t)a / (int32_t)b);
				break;
			case 0x00d: x[RD] = b ? (uint64_t)sx32(a / b) : ~0ull; break;
			case 0x00e:
				if (b == 0) x[RD] = sx32(a);
				else if ((int32_t)a == INT32_MIN && (int32_t)b == -1) x[RD] = 0;
				else x[RD] = (uint64_t)(int64_t)((int32_t)a % (int32_t)b);
				break;
			case 0x00f: x[RD] = b ? sx32(a % b) : sx32(a); break;
			default: ILLEGAL();
			}
			break;
		}
		case 0x2f: {                                           /* atomics */
			unsigned f5 = insn >> 27;
			int wide = F3 == 3;
			unsigned size = wide ? 8 : 4;
			uint64_t va = x[RS1], pa;
			if (F3 != 2 && F3 != 3) ILLEGAL();
			h->pc = pc;
			if (f5 == 0x02) {                              /* lr */
				if (RS2) ILLEGAL();
				void *p = mmu_atomic_ptr(h, va, size, ACC_LOAD, &pa);
				if (!p) goto trapped;
				int64_t v = wide ? *(int64_t *)p : *(int32_t *)p;
				h->resv_valid = true;
				h->resv_addr = pa;
				h->resv_value = (uint64_t)v;
				x[RD] = (uint64_t)v;
			} else if (f5 == 0x03) {                       /* sc */
				void *p = mmu_atomic_ptr(h, va, size, ACC_STORE, &pa);
				if (!p) goto trapped;
				int64_t cur = wide ? *(int64_t *)p : *(int32_t *)p;
				if (h->resv_valid && h->resv_addr == pa && (uint64_t)cur == h->resv_value) {
					if (wide) *(uint64_t *)p = x[RS2];
					else *(uint32_t *)p = (uint32_t)x[RS2];
					x[RD] = 0;
				} else {
					x[RD] = 1;
				}
				h->resv_valid = false;
			} else {
				switch (f5) {
				case 0x00: case 0x01: case 0x04: case 0x0c: case 0x08:
				case 0x10: case 0x14: case 0x18: case 0x1c: break;
				default: ILLEGAL();
				}
				void *p = mmu_atomic_ptr(h, va, size, ACC_STORE, &pa);
				if (!p) goto trapped;
				int64_t old = wide ? *(int64_t *)p : *(int32_t *)p;
				int64_t nv = amo_op(f5, old, (int64_t)x[RS2], wide);
				if (wide) *(int64_t *)p = nv;
				else *(int32_t *)p = (int32_t)nv;
				x[RD] = (uint64_t)old;
			}
			break;
		}
		case 0x0f:                                             /* fence, fence.i */
			if (F3 > 1) ILLEGAL();
			break;
		case 0x07: {                                           /* flw/fld */
			if (fs_off(h) || (F3 != 2 && F3 != 3)) ILLEGAL();
			uint64_t va = x[RS1] + IMM_I;
			if (F3 == 2) {
				uint32_t t;
				LOAD(uint32_t, va, t);
				h->f[RD] = 0xffffffff00000000ull | t;
			} else {
				uint64_t t;
				LOAD(uint64_t, va, t);
				h->f[RD] = t;
			}
			h->sstatus |= FS_DIRTY;
			break;
		}
		case 0x27: {                                           /* fsw/fsd */
			if (fs_off(h) || (F3 != 2 && F3 != 3)) ILLEGAL();
			uint64_t va = x[RS1] + IMM_S;
			if (F3 == 2) STORE(uint32_t, va, h->f[RS2]);
			else STORE(uint64_t, va, h->f[RS2]);
			break;
		}
		case 0x43: case 0x47: case 0x4b: case 0x4f: case 0x53:
			if (fs_off(h) || fpu_exec(h, insn)) ILLEGAL();
			h->sstatus |= FS_DIRTY;
			break;
		case 0x73: {                                           /* system */
			unsigned f3 = F3;
			if (f3 == 0) {
				if (insn == 0x00000073) {              /* ecall */
					if (h->priv == PRV_U) {
						cause = EXC_ECALL_U;
						tval = 0;
						goto exception;
					}
					h->pc = pc;
					sbi_ecall(h);
					pc = npc;
					goto end_block;
				} else if (insn == 0x00100073) {       /* ebreak */
					cause = EXC_BREAKPOINT;
					tval = 0;   /* as QEMU: stval 0 (the spec allows pc or 0) */
					goto exception;
				} else if (insn == 0x10200073) {       /* sret */
					if (h->priv != PRV_S) ILLEGAL();
					uint64_t s = h->sstatus;
					h->priv = (s & SSTATUS_SPP) ? PRV_S : PRV_U;
					s = (s & ~SSTATUS_SIE) | ((s & SSTATUS_SPIE) ? SSTATUS_SIE : 0);
					s |= SSTATUS_SPIE;
					s &= ~SSTATUS_SPP;
					h->sstatus = s;
					mmu_update_mode(h);
					pc = h->sepc;
					goto end_block;
				} else if (insn == 0x10500073) {       /* wfi */
					if (h->priv != PRV_S) ILLEGAL();
					pc = npc;
					if (!(csr_read_sip(h) & h->sie))
						h->wfi = true;
					goto end_block;
				} else if ((insn & 0xfe007fff) == 0x12000073) { /* sfence.vma */
					if (h->priv != PRV_S) ILLEGAL();
					if (RS1)
						mmu_flush_va(h, x[RS1]);
					else
						hart_tlb_flush(h);
					break;
				}
				ILLEGAL();
			}
			if (f3 == 4) ILLEGAL();
			{
				unsigned csr = insn >> 20;
				uint64_t src = (f3 & 4) ? RS1 : x[RS1];
				int op = f3 & 3;
				int write = op == CSR_OP_RW || RS1 != 0;
				uint64_t old;
				int flags = 0;
				h->pc = pc;
				h->instret = instret0 + done - 1;   /* counters read exact */
				if (csr_access(h, csr, op, src, write, &old, &flags)) ILLEGAL();
				x[RD] = old;
				if (flags & CSR_EFFECT_END_BLOCK) {
					x[0] = 0;
					pc = npc;
					goto end_block;
				}
			}
			break;
		}
		default:
			ILLEGAL();
		}
		x[0] = 0;
		pc = npc;
		continue;

exception:
		h->pc = pc;
		hart_trap(h, cause, tval);
trapped:
		x[0] = 0;
		pc = h->pc;
		continue;
	}
	h->pc = pc;
	h->instret = instret0 + done;
	return done;

end_block:
	h->pc = pc;
	h->instret = instret0 + done;
	return done;
}
