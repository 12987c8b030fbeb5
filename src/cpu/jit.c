/* The block compiler (see jit.h). Register use inside a block:
 *   rbx = struct hart * (guest x[i] at rbx + 8*i), r12 = pc of the first
 *   instruction; rax, rcx, rdx, rsi, rdi are scratch.
 * Loads and stores probe the addend TLB inline (the same check as
 * load_tlb/store_tlb in exec.c); a miss jumps to an out-of-line stub that
 * calls the C slow path. A store that went through the slow path ends the
 * block, since it may have been MMIO or may have dropped this very page's
 * decoded copy. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <cpuid.h>
#include <unistd.h>
#include "cpu/jit.h"
#include "cpu/x86emit.h"
#include "cpu/hart.h"
#include "cpu/mmu.h"
#include "cpu/dcache.h"
#include "cpu/ops.h"
#include "cpu/alu.h"
#include "cpu/cmo.h"
#include "cpu/fpu.h"
#include "cpu/trap.h"

/* Switches for the steps of the faster JIT (docs/ISA.md, "A faster JIT"),
 * each on; -DNAME=0 builds without one, to bisect a miscompilation (with
 * JIT_INNER_BRANCHES in ops.h). */
#ifndef JIT_IN_PLACE
#define JIT_IN_PLACE 1
#endif
#ifndef JIT_LOAD_MEMOS
#define JIT_LOAD_MEMOS 1
#endif
#ifndef JIT_SSE_FP
#define JIT_SSE_FP 1
#endif
#ifndef JIT_JUMP_CACHE_ON
#define JIT_JUMP_CACHE_ON 1
#endif

struct jit {
	uint8_t *base;
	size_t size, used;
	unsigned host;          /* JIT_HOST_* instructions the host has */
	FILE *perf_map;         /* /tmp/perf-PID.map with TERN_JIT_PERFMAP set */
	size_t last_len;        /* bytes of the last block compiled */
	/* statistics, printed at exit when TERN_JIT_STATS is set */
	uint64_t blocks, insns, bytes, flushes;
	unsigned next_site;     /* the next load site's memo (hart.load_memo) */
};

#define OFF_PC    ((int32_t)offsetof(struct hart, pc))
#define OFF_TLB_R ((int32_t)offsetof(struct hart, tlb_r))
#define OFF_TLB_W ((int32_t)offsetof(struct hart, tlb_w))
#define OFF_MASK  ((int32_t)offsetof(struct hart, tlb_mask))
#define OFF_MEMO  ((int32_t)offsetof(struct hart, load_memo))
#define OFF_JUMPS ((int32_t)offsetof(struct hart, jump_cache))
#define OFF_WANT  ((int32_t)offsetof(struct hart, tlb_want))
#define OFF_SSTATUS ((int32_t)offsetof(struct hart, sstatus))
#define OFF_FFLAGS ((int32_t)offsetof(struct hart, fflags))
#define OFF_FRM    ((int32_t)offsetof(struct hart, frm))
#define XREG(r)   ((int32_t)(8 * (r)))
#define FREG(r)   ((int32_t)(offsetof(struct hart, f) + 8 * (r)))
#define NAN_BOX   0xffffffff00000000ull
#define BLOCK_ALIGN 64            /* block bodies start on cache-line boundaries */

/* The optional x86 instructions the bit-manipulation translations use,
 * from CPUID, checked once per code buffer. */
static unsigned host_features(void)
{
	unsigned a, b, c, d, f = 0;
	if (__get_cpuid(1, &a, &b, &c, &d)) {
		if (c & (1u << 23)) f |= JIT_HOST_POPCNT;
		if (c & (1u << 1)) f |= JIT_HOST_CLMUL;
	}
	if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 3)))
		f |= JIT_HOST_BMI1;
	if (__get_cpuid(0x80000001, &a, &b, &c, &d) && (c & (1u << 5)))
		f |= JIT_HOST_LZCNT;
	/* FMA3 (VEX-encoded): the CPU has it and the OS saves AVX state */
	if (__get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 12)) && (c & (1u << 27)) &&
	    (c & (1u << 28))) {
		unsigned lo, hi;
		__asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
		if ((lo & 6) == 6)
			f |= JIT_HOST_FMA;
	}
	return f;
}

struct jit *jit_new(size_t bytes)
{
	struct jit *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->base = mmap(NULL, bytes, PROT_READ | PROT_WRITE | PROT_EXEC,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (j->base == MAP_FAILED) {
		free(j);
		return NULL;
	}
	j->size = bytes;
	j->used = BLOCK_ALIGN - JIT_BODY_OFFSET;
	j->host = host_features();
	/* TERN_JIT_BASELINE=1 translates as for a host without BMI1, LZCNT,
	 * POPCNT and PCLMULQDQ (to test the fallbacks). */
	const char *base = getenv("TERN_JIT_BASELINE");
	if (base && *base && *base != '0')
		j->host = 0;
	if (getenv("TERN_JIT_PERFMAP")) {
		char path[64];
		snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
		j->perf_map = fopen(path, "a");
	}
	return j;
}

void jit_note_block(struct jit *j, uint32_t offset, uint64_t guest_pa)
{
	if (j->perf_map)
		fprintf(j->perf_map, "%llx %zx jit:%llx\n",
			(unsigned long long)(uintptr_t)(j->base + offset), j->last_len,
			(unsigned long long)guest_pa);
}

void jit_limit_host(struct jit *j, unsigned mask)
{
	j->host &= mask;
}

void jit_free(struct jit *j)
{
	if (!j)
		return;
	if (getenv("TERN_JIT_STATS"))
		fprintf(stderr, "jit: %llu blocks, %llu instructions, %llu bytes of code, %llu flushes\n",
			(unsigned long long)j->blocks, (unsigned long long)j->insns,
			(unsigned long long)j->bytes, (unsigned long long)j->flushes);
	if (j->perf_map)
		fclose(j->perf_map);
	munmap(j->base, j->size);
	free(j);
}

void jit_reset(struct jit *j)
{
	j->used = BLOCK_ALIGN - JIT_BODY_OFFSET;
	j->flushes++;
}

const uint8_t *jit_code_base(const struct jit *j)
{
	return j->base;
}

/* ---- C helpers called from blocks ------------------------------------ */

/* kind = size | 0x10 when sign-extending | 0x20 when NaN-boxing (flw).
 * Writes *dst only on success. */
static int slow_load(struct hart *h, uint64_t va, uint32_t kind, uint64_t *dst)
{
	unsigned size = kind & 0xf;
	uint64_t t;
	if (mmu_load_slow(h, va, size, &t))
		return 1;
	if ((kind & 0x10) && size < 8)
		t = (uint64_t)((int64_t)(t << (64 - 8 * size)) >> (64 - 8 * size));
	if (kind & 0x20)
		t |= NAN_BOX;
	*dst = t;
	return 0;
}

static int slow_store(struct hart *h, uint64_t va, uint32_t size, uint64_t v)
{
	return mmu_store_slow(h, va, size, v);
}

static void raise_illegal(struct hart *h, uint64_t bits)
{
	hart_trap(h, EXC_ILLEGAL, bits);
}

/* ---- emission helpers -------------------------------------------------- */

/* Guest register loads and stores. Registers a block reads often are
 * kept in host registers (b->pin, chosen by pick_pins) for the whole block.
 * Writes to them stay in the host register; spill() writes the ones the
 * block writes back to the hart before anything that leaves the block or
 * calls C (exits, chained jumps, slow paths, traps), so the C side always
 * sees current registers. rax remembers the register it last loaded or
 * stored, so an instruction reading the register the one before it wrote
 * takes it from rax instead of reloading it through memory (a
 * store-forwarding stall on the critical path of most loops). */
static int pinned(const struct x86buf *b, int xr)
{
	return xr > 0 && xr < 32 ? b->pin[xr] : 0;
}
static void ld64(struct x86buf *b, int reg, int xr)
{
	if (reg == RAX && b->rax_holds == xr)
		return;
	int h = pinned(b, xr);
	if (h)
		x86_op_reg(b, 1, X86_MOV_LOAD, reg, h);
	else
		x86_op_mem(b, 1, X86_MOV_LOAD, reg, RBX, -1, XREG(xr));
	if (reg == RAX)
		b->rax_holds = xr;
}
static void ld32(struct x86buf *b, int reg, int xr)
{
	int h = pinned(b, xr);
	if (reg == RAX && b->rax_holds == xr)
		x86_op_reg(b, 0, X86_MOV_LOAD, RAX, RAX);      /* mov eax, eax */
	else if (h)
		x86_op_reg(b, 0, X86_MOV_LOAD, reg, h);
	else
		x86_op_mem(b, 0, X86_MOV_LOAD, reg, RBX, -1, XREG(xr));
}
static void st64(struct x86buf *b, int reg, int xr)
{
	int h = pinned(b, xr);
	if (!h)
		x86_op_mem(b, 1, X86_MOV_STORE, reg, RBX, -1, XREG(xr));
	else if (h != reg)
		x86_op_reg(b, 1, X86_MOV_LOAD, h, reg);
	if (reg == RAX)
		b->rax_holds = xr;
}
/* op reg, x[xr] for an "op r, r/m" opcode (or a /digit group in reg). */
static void op_x(struct x86buf *b, int w, uint32_t xop, int reg, int xr)
{
	int h = pinned(b, xr);
	if (h)
		x86_op_reg(b, w, xop, reg, h);
	else
		x86_op_mem(b, w, xop, reg, RBX, -1, XREG(xr));
}
/* x[xr] = imm (sign-extended) */
static void st_imm(struct x86buf *b, int xr, int32_t imm)
{
	int h = pinned(b, xr);
	if (b->rax_holds == xr)        /* rax no longer has xr's value */
		b->rax_holds = -1;
	if (!h)
		x86_store_imm(b, RBX, XREG(xr), imm);
	else {
		x86_rex(b, 1, 0, -1, h);                   /* mov r64, imm32 */
		x86_byte(b, 0xc7);
		x86_byte(b, (uint8_t)(0xc0 | (h & 7)));
		x86_u32(b, (uint32_t)imm);
	}
}
/* Write the pinned registers the block writes back to the hart. */
static void spill(struct x86buf *b)
{
	for (int xr = 1; xr < 32; xr++)
		if (b->pin_dirty & (1u << xr))
			x86_op_mem(b, 1, X86_MOV_STORE, b->pin[xr], RBX, -1, XREG(xr));
}
/* A call to C, after a spill: the caller-saved host registers holding
 * guest registers are saved around it (an even number of pushes keeps rsp
 * aligned). */
static const uint8_t pin_regs[] = { R13, R14, R15, R8, R9, R10, R11 };
#define NPIN ((int)sizeof(pin_regs))
static void call_c(struct x86buf *b, const void *fn)
{
	int saved[4], n = 0;
	spill(b);
	for (int xr = 1; xr < 32; xr++)
		if (b->pin[xr] >= R8 && b->pin[xr] <= R11)
			saved[n++] = b->pin[xr];
	if (n & 1)
		saved[n++] = saved[0];
	for (int i = 0; i < n; i++)
		x86_push(b, saved[i]);
	x86_call(b, fn);
	for (int i = n - 1; i >= 0; i--)
		x86_pop(b, saved[i]);
}
static void sext32(struct x86buf *b, int reg) { x86_op_reg(b, 1, X86_MOVSXD, reg, reg); }

static void epilogue(struct x86buf *b)
{
	spill(b);
	x86_alu_imm(b, 1, GRP_ADD, RSP, 8);
	x86_pop(b, R15);
	x86_pop(b, R14);
	x86_pop(b, R13);
	x86_pop(b, R12);
	x86_pop(b, RBP);
	x86_pop(b, RBX);
	x86_ret(b);
}

/* Return to the dispatcher with h->pc = r12 + delta; ebp holds the count
 * of instructions executed by this chain of blocks. */
static void plain_exit(struct x86buf *b, int32_t delta)
{
	x86_op_mem(b, 1, X86_LEA, RAX, R12, -1, delta);
	x86_op_mem(b, 1, X86_MOV_STORE, RAX, RBX, -1, OFF_PC);
	x86_op_reg(b, 0, X86_MOV_LOAD, RAX, RBP);
	epilogue(b);
}

/* A static exit that may be chained: patched to jump straight into the
 * target block once that block exists (same page only, so both die
 * together when the page's decoded copy is dropped). */
struct chain {
	uint8_t *full;         /* jae taken when the chain budget is spent */
	uint8_t *site;         /* the rel32 of the patchable jmp */
	int32_t delta;         /* target pc relative to r12 */
};

/* Per-block compilation state. */
struct gen {
	struct x86buf b;
	const struct jit *j;
	const struct dinsn *page_slots;    /* the decoded slots of this page */
	unsigned page_off;                 /* page offset of the first insn */
	struct chain chains[2 * JIT_MAX_INSNS];
	int nchains;
	uint8_t *loop_top;                 /* the body after the pinned loads */
};

/* Choose the guest registers this block keeps in host registers: the ones
 * read at least twice, or at least once when the block loops to itself
 * (its pinned registers then stay loaded across iterations). Returns
 * whether it does loop to itself. */
static int pick_pins(struct x86buf *b, const struct dinsn *in, int n)
{
	int reads[32] = { 0 }, delta = 0, self_loop = 0;
	uint32_t written = 0;
	for (int k = 0; k < n; k++) {
		const struct dinsn *d = &in[k];
		if (d->op == OP_FLOAD || d->op == OP_FSTORE || d->op == OP_FPOP) {
			reads[RS1(d->raw)]++;          /* an address, or fcvt/fmv from x */
			written |= 1u << RD(d->raw);
		} else {
			if (d->rs1 < 32 && op_reads_rs1(d->op)) reads[d->rs1]++;
			if (d->rs2 < 32 && op_reads_rs2(d->op)) reads[d->rs2]++;
			if (d->rd < 32) written |= 1u << d->rd;
		}
		if (op_ends_compiled_block(d->op, d->imm) || d->op == OP_CBO) {
			self_loop = (d->op == OP_JAL || (d->op >= OP_BEQ && d->op <= OP_BGEU)) &&
				    delta + d->imm == 0;
			break;
		}
		delta += d->len;
	}
	reads[0] = 0;
	for (int i = 0; i < NPIN; i++) {
		int best = 0;
		for (int xr = 1; xr < 32; xr++)
			if (!b->pin[xr] && reads[xr] > reads[best])
				best = xr;
		if (!best || reads[best] < (self_loop ? 1 : 2))
			break;
		b->pin[best] = pin_regs[i];
		if (written & (1u << best))
			b->pin_dirty |= 1u << best;
	}
	return self_loop;
}

/* rax = the target pc, ebp = the instructions run so far: jump straight
 * into the target's block when the dispatcher has entered it at that pc,
 * in this mode, since the last flush (h->jump_cache); otherwise return to
 * the dispatcher with h->pc = rax. For jalr, and for exits to another page
 * (which cannot be chained: a loop that straddles a page boundary went
 * through the dispatcher every iteration). */
static void emit_jump_cache_exit(struct x86buf *b)
{
	if (!JIT_JUMP_CACHE_ON) {
		x86_op_mem(b, 1, X86_MOV_STORE, RAX, RBX, -1, OFF_PC);
		x86_op_reg(b, 0, X86_MOV_LOAD, RAX, RBP);
		epilogue(b);
		return;
	}
	x86_alu_imm(b, 0, GRP_CMP, RBP, JIT_CHAIN_LIMIT);
	uint8_t *slow1 = x86_jcc32(b, CC_AE);
	x86_op_reg(b, 0, X86_MOV_LOAD, RCX, RAX);
	x86_shift_imm(b, 0, SH_SHL, RCX, 3);
	x86_alu_imm(b, 0, GRP_AND, RCX, (JIT_JUMP_CACHE - 1) << 4);
	x86_op_mem(b, 1, X86_MOV_LOAD, RDX, RBX, -1, OFF_WANT);
	x86_shift_imm(b, 1, SH_SHR, RDX, 1);       /* 1 in U-mode, 0 in S-mode */
	x86_op_reg(b, 1, X86_OR, RDX, RAX);
	x86_op_mem(b, 1, X86_CMP, RDX, RBX, RCX, OFF_JUMPS);
	uint8_t *slow2 = x86_jcc32(b, CC_NE);
	x86_op_mem(b, 1, X86_MOV_LOAD, RCX, RBX, RCX, OFF_JUMPS + 8);
	x86_op_reg(b, 1, 0x85, RCX, RCX);          /* test rcx, rcx */
	uint8_t *slow3 = x86_jcc32(b, CC_E);
	spill(b);
	x86_op_reg(b, 1, X86_MOV_LOAD, R12, RAX);
	x86_byte(b, 0xff);                         /* jmp rcx */
	x86_byte(b, 0xe1);
	x86_patch(b, slow1, b->p);
	x86_patch(b, slow2, b->p);
	x86_patch(b, slow3, b->p);
	x86_op_mem(b, 1, X86_MOV_STORE, RAX, RBX, -1, OFF_PC);
	x86_op_reg(b, 0, X86_MOV_LOAD, RAX, RBP);
	epilogue(b);
}

/* Leave to r12 + delta after `count` more instructions, chaining to the
 * target block when the target is on this page. */
static void exit_to(struct gen *g, int32_t delta, uint32_t count, int chain)
{
	struct x86buf *b = &g->b;
	int64_t tgt = (int64_t)g->page_off + delta;
	x86_alu_imm(b, 0, GRP_ADD, RBP, (int32_t)count);
	if (chain && delta == 0 && g->loop_top) {
		/* back to this block's own start: straight to its body, with the
		 * pinned registers still loaded */
		x86_alu_imm(b, 0, GRP_CMP, RBP, JIT_CHAIN_LIMIT);
		x86_patch(b, x86_jcc32(b, CC_B), g->loop_top);
		plain_exit(b, 0);
		return;
	}
	bool other_page = tgt < 0 || tgt >= (int64_t)PAGE_SIZE;
	if (chain && other_page) {        /* cannot be chained: the jump cache */
		x86_op_mem(b, 1, X86_LEA, RAX, R12, -1, delta);
		emit_jump_cache_exit(b);
		return;
	}
	if (!chain || g->nchains >= (int)(sizeof(g->chains) / sizeof(g->chains[0]))) {
		plain_exit(b, delta);
		return;
	}
	struct chain *c = &g->chains[g->nchains++];
	x86_alu_imm(b, 0, GRP_CMP, RBP, JIT_CHAIN_LIMIT);
	c->full = x86_jcc32(b, CC_AE);
	spill(b);                      /* the target block reloads from the hart */
	x86_op_mem(b, 1, X86_LEA, R12, R12, -1, delta);
	c->site = x86_jmp32(b);
	c->delta = delta;
}

/* The out-of-line half of a chained exit: until patched, the jmp lands
 * here, looks the target slot up, and patches itself if it is compiled. */
static void emit_chain_stub(struct gen *g, const struct chain *c)
{
	struct x86buf *b = &g->b;
	const struct dinsn *slot = &g->page_slots[(g->page_off + (uint32_t)c->delta) >> 1];
	x86_patch(b, c->site, b->p);
	x86_mov_imm64(b, RAX, (uint64_t)(uintptr_t)slot);
	x86_byte(b, 0x66);                         /* cmp word [rax], OP_JIT */
	x86_byte(b, 0x83);
	x86_byte(b, 0x38);
	x86_byte(b, OP_JIT);
	uint8_t *absent = x86_jcc32(b, CC_NE);
	x86_op_mem(b, 0, X86_MOV_LOAD, RAX, RAX, -1, (int32_t)offsetof(struct dinsn, raw));
	x86_mov_imm64(b, RCX, (uint64_t)(uintptr_t)(g->j->base + JIT_BODY_OFFSET));
	x86_op_reg(b, 1, X86_ADD, RAX, RCX);
	x86_mov_imm64(b, RCX, (uint64_t)(uintptr_t)(c->site + 4));
	x86_op_reg(b, 1, X86_MOV_LOAD, RDX, RAX);
	x86_op_reg(b, 1, X86_SUB, RDX, RCX);
	x86_op_mem(b, 0, X86_MOV_STORE, RDX, RCX, -1, -4);   /* the patch */
	x86_byte(b, 0xff);                         /* jmp rax */
	x86_byte(b, 0xe0);
	x86_patch(b, absent, b->p);
	plain_exit(b, 0);                          /* r12 is the target already */
	x86_patch(b, c->full, b->p);
	plain_exit(b, c->delta);
}

/* An out-of-line slow path for a load or store whose TLB probe missed. */
struct stub {
	const struct dinsn *d;
	int32_t delta;         /* pc of the instruction, relative to r12 */
	uint32_t index;        /* its position in the block */
	uint8_t *miss;         /* the jcc to patch */
	uint8_t *miss2;        /* a second one (illegal-instruction stubs) */
	uint8_t *resume;       /* where a load continues */
	int kind;
	int32_t memo;          /* STUB_LOAD: the site's load_memo offset in the hart */
	uint8_t *hit;          /* STUB_LOAD: where the load continues on a TLB hit */
};
enum { STUB_LOAD, STUB_STORE, STUB_FLOAD, STUB_FSTORE, STUB_ILLEGAL, STUB_TRAPPED };
/* Bytes read by OP_LB .. OP_LWU, and whether they are sign-extended. */
static const unsigned load_bytes[] = { 1, 2, 4, 8, 1, 2, 4 };
static const int load_sext[] = { 1, 1, 1, 0, 0, 0, 0 };

/* rax = x[rs1] + imm; rcx = TLB index * 16; jne to a stub (returned) when
 * the TLB of `tlb_off` does not map [va, va+size) within one page. */
static uint8_t *emit_tlb_lookup(struct x86buf *b, unsigned size, int32_t tlb_off);
static uint8_t *emit_tlb_probe(struct x86buf *b, const struct dinsn *d, unsigned size, int32_t tlb_off)
{
	ld64(b, RAX, d->rs1);
	if (d->imm)
		x86_alu_imm(b, 1, GRP_ADD, RAX, d->imm);
	uint8_t *miss = emit_tlb_lookup(b, size, tlb_off);
	x86_op_mem(b, 1, X86_ADD, RAX, RBX, RCX, tlb_off + 8);   /* host address */
	return miss;
}

/* rax = va: rcx = the offset of its entry in the TLB at tlb_off, and a jne
 * (returned) taken unless that entry maps [va, va+size) within one page. */
static uint8_t *emit_tlb_lookup(struct x86buf *b, unsigned size, int32_t tlb_off)
{
	/* rcx = the entry's offset, (va >> 12) % TLB_SIZE * 16, in two steps */
	x86_op_reg(b, 0, X86_MOV_LOAD, RCX, RAX);
	x86_shift_imm(b, 0, SH_SHR, RCX, PAGE_SHIFT - 4);
	x86_alu_imm(b, 0, GRP_AND, RCX, (TLB_SIZE - 1) << 4);
	/* The key is taken from the last byte's page: an access that crosses
	 * into the next page cannot match the first page's entry. */
	x86_op_mem(b, 1, X86_LEA, RDX, RAX, -1, (int32_t)size - 1);
	x86_alu_imm(b, 1, GRP_AND, RDX, (int32_t)PAGE_MASK);
	x86_op_mem(b, 1, X86_OR, RDX, RBX, -1, OFF_WANT);
	x86_op_mem(b, 1, X86_MOV_LOAD, RSI, RBX, RCX, tlb_off);
	x86_op_mem(b, 1, X86_AND, RSI, RBX, -1, OFF_MASK);
	x86_op_reg(b, 1, X86_CMP, RSI, RDX);
	return x86_jcc32(b, CC_NE);
}

/* A load site's probe: the same test as emit_tlb_probe, against the site's
 * memo (a copy of the TLB entry it last hit) at a fixed offset, so that
 * the memo's loads do not wait for the address. The memo has no index to
 * keep a page-crossing access out, so its key keeps the address's
 * alignment bits and only an aligned access (which never crosses) can
 * match: (va & (PAGE_MASK | size-1)) ^ want equals page | want only when
 * those bits are 0. On a hit rax = va and rcx = the addend (the load adds
 * them in its address: one add less on the way to the data); a jne
 * (returned) goes to the stub, which then has rax = va. */
static uint8_t *emit_memo_probe(struct x86buf *b, const struct dinsn *d, unsigned size, int32_t memo)
{
	ld64(b, RAX, d->rs1);
	if (d->imm)
		x86_alu_imm(b, 1, GRP_ADD, RAX, d->imm);
	x86_op_reg(b, 1, X86_MOV_LOAD, RDX, RAX);
	x86_alu_imm(b, 1, GRP_AND, RDX, (int32_t)(PAGE_MASK | (size - 1)));
	x86_op_mem(b, 1, X86_XOR, RDX, RBX, -1, OFF_WANT);
	x86_op_mem(b, 1, X86_MOV_LOAD, RSI, RBX, -1, memo);
	x86_op_mem(b, 1, X86_AND, RSI, RBX, -1, OFF_MASK);
	x86_op_reg(b, 1, X86_CMP, RSI, RDX);
	uint8_t *miss = x86_jcc32(b, CC_NE);
	x86_op_mem(b, 1, X86_MOV_LOAD, RCX, RBX, -1, memo + 8);
	return miss;
}

/* The memo missed (rax = va): probe the TLB proper, as emit_tlb_probe
 * does; on a hit copy the entry into the memo and go back to the load with
 * rax = va and rcx = the addend. Returns the jne taken on a TLB miss (to
 * the slow path). A misaligned access that stays in its page hits here
 * every time. */
static uint8_t *emit_memo_refill(struct x86buf *b, const struct stub *s)
{
	uint8_t *miss = emit_tlb_lookup(b, load_bytes[s->d->op - OP_LB], OFF_TLB_R);
	x86_op_mem(b, 1, X86_MOV_LOAD, RSI, RBX, RCX, OFF_TLB_R);
	x86_op_mem(b, 1, X86_MOV_STORE, RSI, RBX, -1, s->memo);
	x86_op_mem(b, 1, X86_MOV_LOAD, RSI, RBX, RCX, OFF_TLB_R + 8);
	x86_op_mem(b, 1, X86_MOV_STORE, RSI, RBX, -1, s->memo + 8);
	x86_op_reg(b, 1, X86_MOV_LOAD, RCX, RSI);
	x86_patch(b, x86_jmp32(b), s->hit);
	return miss;
}

/* x[rd] = the value at rax (+ index, when index >= 0). */
static void emit_load(struct x86buf *b, const struct dinsn *d, unsigned size, int sext, int index)
{
	switch (size) {
	case 1: x86_op_mem(b, sext, sext ? X86_MOVSX8 : X86_MOVZX8, RAX, RAX, index, 0); break;
	case 2: x86_op_mem(b, sext, sext ? X86_MOVSX16 : X86_MOVZX16, RAX, RAX, index, 0); break;
	case 4: x86_op_mem(b, sext, sext ? X86_MOVSXD : X86_MOV_LOAD, RAX, RAX, index, 0); break;
	default: x86_op_mem(b, 1, X86_MOV_LOAD, RAX, RAX, index, 0); break;
	}
	st64(b, RAX, d->rd);
}

static void emit_helper2(struct x86buf *b, const struct dinsn *d, uint64_t (*fn)(uint64_t, uint64_t))
{
	ld64(b, RDI, d->rs1);
	ld64(b, RSI, d->rs2);
	call_c(b, (const void *)fn);
	st64(b, RAX, d->rd);
}

/* divu/remu (and the w forms) inline with x86 div; a zero divisor gives
 * all ones (div) or the dividend (rem), as the ISA says. */
static void emit_divu(struct x86buf *b, const struct dinsn *d, int rem, int w32)
{
	if (w32) {
		ld32(b, RAX, d->rs1);
		ld32(b, RCX, d->rs2);
	} else {
		ld64(b, RAX, d->rs1);
		ld64(b, RCX, d->rs2);
	}
	x86_op_reg(b, !w32, 0x85, RCX, RCX);                  /* test rcx, rcx */
	uint8_t *zero = x86_jcc32(b, CC_E);
	x86_op_reg(b, 0, X86_XOR, RDX, RDX);
	x86_op_reg(b, !w32, 0xf7, 6, RCX);                     /* div rcx */
	if (rem) {
		x86_op_reg(b, 1, X86_MOV_LOAD, RAX, RDX);
		x86_patch(b, zero, b->p);                      /* rax = dividend */
	} else {
		uint8_t *done = x86_jmp32(b);
		x86_patch(b, zero, b->p);
		x86_alu_imm(b, 1, GRP_OR, RAX, -1);
		x86_patch(b, done, b->p);
	}
	if (w32)
		sext32(b, RAX);
	st64(b, RAX, d->rd);
}

/* rd == rs1, held in a host register: operate on that register in place
 * (rax no longer holds rd's value then). Returns the register, or 0. */
static int in_place(struct x86buf *b, const struct dinsn *d)
{
	int h = JIT_IN_PLACE && d->rd == d->rs1 ? pinned(b, d->rd) : 0;
	if (h && b->rax_holds == d->rd)
		b->rax_holds = -1;
	return h;
}

/* rax = x[rs1] op x[rs2] (64-bit, or 32-bit sign-extended when w32). */
static void emit_rr(struct x86buf *b, const struct dinsn *d, uint32_t xop, int w32)
{
	int h = xop == X86_IMUL ? 0 : in_place(b, d);
	if (h) {
		op_x(b, !w32, xop, h, d->rs2);
		if (w32)
			sext32(b, h);
		return;
	}
	if (w32) {
		ld32(b, RAX, d->rs1);
		op_x(b, 0, xop, RAX, d->rs2);
		sext32(b, RAX);
	} else {
		ld64(b, RAX, d->rs1);
		op_x(b, 1, xop, RAX, d->rs2);
	}
	st64(b, RAX, d->rd);
}

static void emit_ri(struct x86buf *b, const struct dinsn *d, int grp, int w32)
{
	int nop = d->imm == 0 && grp != GRP_AND;    /* x+0, x|0, x^0 */
	int h = in_place(b, d);
	if (h) {
		if (!nop)
			x86_alu_imm(b, !w32, grp, h, d->imm);
		if (w32)
			sext32(b, h);          /* sext.w is addiw rd, rd, 0 */
		return;
	}
	if (w32) {
		ld32(b, RAX, d->rs1);
		if (!nop)
			x86_alu_imm(b, 0, grp, RAX, d->imm);
		sext32(b, RAX);
	} else {
		ld64(b, RAX, d->rs1);
		if (!nop)
			x86_alu_imm(b, 1, grp, RAX, d->imm);
	}
	st64(b, RAX, d->rd);
}

static void emit_shift(struct x86buf *b, const struct dinsn *d, int kind, int by_reg, int w32)
{
	int h = by_reg ? 0 : in_place(b, d);
	if (h) {
		if (d->imm)
			x86_shift_imm(b, !w32, kind, h, d->imm);
		if (w32)
			sext32(b, h);
		return;
	}
	if (w32) ld32(b, RAX, d->rs1); else ld64(b, RAX, d->rs1);
	if (by_reg) {
		ld32(b, RCX, d->rs2);
		x86_shift_cl(b, !w32, kind, RAX);
	} else if (d->imm) {
		x86_shift_imm(b, !w32, kind, RAX, d->imm);
	}
	if (w32)
		sext32(b, RAX);
	st64(b, RAX, d->rd);
}

static void emit_set(struct x86buf *b, const struct dinsn *d, int cc, int imm)
{
	ld64(b, RAX, d->rs1);
	if (imm)
		x86_alu_imm(b, 1, GRP_CMP, RAX, d->imm);
	else
		op_x(b, 1, X86_CMP, RAX, d->rs2);
	x86_setcc_zx(b, cc, RAX);
	st64(b, RAX, d->rd);
}

static void emit_helper1(struct x86buf *b, const struct dinsn *d, uint64_t (*fn)(uint64_t))
{
	ld64(b, RDI, d->rs1);
	call_c(b, (const void *)fn);
	st64(b, RAX, d->rd);
}

/* Zba, Zbb, Zbc, Zbs and Zicond, using BMI1/LZCNT/POPCNT/PCLMULQDQ when
 * the host has them (`host`, JIT_HOST_*). */
static void emit_bitmanip(struct x86buf *b, const struct dinsn *d, unsigned host)
{
	int w = 1;                 /* 64-bit form (clz/ctz/cpop vs the *w ones) */
	switch (d->op) {
	case OP_SH1ADD: case OP_SH2ADD: case OP_SH3ADD:
		ld64(b, RAX, d->rs2);
		ld64(b, RCX, d->rs1);
		x86_lea_sib(b, RAX, RAX, RCX, d->op - OP_SH1ADD + 1);
		break;
	case OP_ADDUW: case OP_SH1ADDUW: case OP_SH2ADDUW: case OP_SH3ADDUW:
		ld64(b, RAX, d->rs2);
		ld32(b, RCX, d->rs1);                          /* zero-extends */
		x86_lea_sib(b, RAX, RAX, RCX, d->op - OP_ADDUW);
		break;
	case OP_SLLIUW:
		ld32(b, RAX, d->rs1);
		if (d->imm)
			x86_shift_imm(b, 1, SH_SHL, RAX, d->imm);
		break;
	case OP_ANDN:
	case OP_ORN:
		ld64(b, RCX, d->rs2);
		ld64(b, RAX, d->rs1);
		if (d->op == OP_ANDN && (host & JIT_HOST_BMI1)) {
			x86_andn(b, RAX, RCX, RAX);
		} else {
			x86_op_reg(b, 1, 0xf7, 2, RCX);            /* not rcx */
			x86_op_reg(b, 1, d->op == OP_ANDN ? X86_AND : X86_OR, RAX, RCX);
		}
		break;
	case OP_XNOR:
		ld64(b, RAX, d->rs1);
		op_x(b, 1, X86_XOR, RAX, d->rs2);
		x86_op_reg(b, 1, 0xf7, 2, RAX);                /* not rax */
		break;
	case OP_CLZW: w = 0; /* fall through */
	case OP_CLZ:
		if (w) ld64(b, RAX, d->rs1); else ld32(b, RAX, d->rs1);
		if (host & JIT_HOST_LZCNT) {
			x86_f3_op_reg(b, w, 0x0fbd, RAX, RAX);     /* lzcnt */
		} else {
			/* bsr gives the top bit's index i: clz = (width-1) ^ i;
			 * for 0 (ZF set) take 2*width-1, which xors to width */
			x86_op_reg(b, w, 0x0fbd, RAX, RAX);
			x86_mov_imm32(b, RCX, w ? 127 : 63);
			x86_cmov(b, CC_E, RAX, RCX);
			x86_alu_imm(b, 0, GRP_XOR, RAX, w ? 63 : 31);
		}
		break;
	case OP_CTZW: w = 0; /* fall through */
	case OP_CTZ:
		if (w) ld64(b, RAX, d->rs1); else ld32(b, RAX, d->rs1);
		if (host & JIT_HOST_BMI1) {
			x86_f3_op_reg(b, w, 0x0fbc, RAX, RAX);     /* tzcnt */
		} else {
			x86_op_reg(b, w, 0x0fbc, RAX, RAX);        /* bsf; ZF when 0 */
			x86_mov_imm32(b, RCX, w ? 64 : 32);
			x86_cmov(b, CC_E, RAX, RCX);
		}
		break;
	case OP_CPOPW: w = 0; /* fall through */
	case OP_CPOP:
		if (!(host & JIT_HOST_POPCNT)) {
			emit_helper1(b, d, w ? rv_cpop : rv_cpopw);
			return;
		}
		if (w) ld64(b, RAX, d->rs1); else ld32(b, RAX, d->rs1);
		x86_f3_op_reg(b, w, 0x0fb8, RAX, RAX);         /* popcnt */
		break;
	case OP_MIN: case OP_MAX: case OP_MINU: case OP_MAXU: {
		/* rax = rs1; take rs2 instead when rs1 is on the wrong side */
		static const int cc[] = { [OP_MAX - OP_MAX] = CC_L, [OP_MAXU - OP_MAX] = CC_B,
					  [OP_MIN - OP_MAX] = CC_G, [OP_MINU - OP_MAX] = CC_A };
		ld64(b, RAX, d->rs1);
		ld64(b, RCX, d->rs2);
		x86_op_reg(b, 1, X86_CMP, RAX, RCX);
		x86_cmov(b, cc[d->op - OP_MAX], RAX, RCX);
		break;
	}
	case OP_SEXTB: op_x(b, 1, X86_MOVSX8, RAX, d->rs1); break;
	case OP_SEXTH: op_x(b, 1, X86_MOVSX16, RAX, d->rs1); break;
	case OP_ZEXTH: op_x(b, 0, X86_MOVZX16, RAX, d->rs1); break;
	case OP_ROL: case OP_ROR:
		ld64(b, RAX, d->rs1);
		ld32(b, RCX, d->rs2);
		x86_shift_cl(b, 1, d->op == OP_ROL ? SH_ROL : SH_ROR, RAX);   /* count & 63 */
		break;
	case OP_RORI:
		ld64(b, RAX, d->rs1);
		if (d->imm)
			x86_shift_imm(b, 1, SH_ROR, RAX, d->imm);
		break;
	case OP_ROLW: case OP_RORW:
		ld32(b, RAX, d->rs1);
		ld32(b, RCX, d->rs2);
		x86_shift_cl(b, 0, d->op == OP_ROLW ? SH_ROL : SH_ROR, RAX);  /* count & 31 */
		sext32(b, RAX);
		break;
	case OP_RORIW:
		ld32(b, RAX, d->rs1);
		if (d->imm)
			x86_shift_imm(b, 0, SH_ROR, RAX, d->imm);
		sext32(b, RAX);
		break;
	case OP_ORCB:
		/* as rv_orc_b: m = 0x80 in each nonzero byte, then (m - m>>7) | m */
		ld64(b, RAX, d->rs1);
		x86_mov_imm64(b, RDX, 0x7f7f7f7f7f7f7f7full);
		x86_op_reg(b, 1, X86_MOV_LOAD, RCX, RAX);
		x86_op_reg(b, 1, X86_AND, RCX, RDX);
		x86_op_reg(b, 1, X86_ADD, RCX, RDX);
		x86_op_reg(b, 1, X86_OR, RCX, RAX);
		x86_op_reg(b, 1, 0xf7, 2, RDX);                /* not rdx: 0x80.. */
		x86_op_reg(b, 1, X86_AND, RCX, RDX);
		x86_op_reg(b, 1, X86_MOV_LOAD, RAX, RCX);
		x86_shift_imm(b, 1, SH_SHR, RAX, 7);
		x86_op_reg(b, 1, X86_MOV_LOAD, RDX, RCX);
		x86_op_reg(b, 1, X86_SUB, RDX, RAX);
		x86_op_reg(b, 1, X86_OR, RDX, RCX);
		st64(b, RDX, d->rd);
		return;
	case OP_REV8:
		ld64(b, RAX, d->rs1);
		x86_bswap(b, RAX);
		break;
	case OP_CLMUL: case OP_CLMULH: case OP_CLMULR:
		if (!(host & JIT_HOST_CLMUL)) {
			emit_helper2(b, d, d->op == OP_CLMUL ? rv_clmul : d->op == OP_CLMULH ? rv_clmulh : rv_clmulr);
			return;
		}
		ld64(b, RAX, d->rs1);
		ld64(b, RCX, d->rs2);
		x86_clmul_rax_rcx(b);                          /* rax = high, rcx = low */
		if (d->op == OP_CLMUL) {
			x86_op_reg(b, 1, X86_MOV_LOAD, RAX, RCX);
		} else if (d->op == OP_CLMULR) {
			x86_op_reg(b, 1, 0x0fa4, RCX, RAX);        /* shld rax, rcx, 1 */
			x86_byte(b, 1);
		}
		break;
	case OP_BCLR: case OP_BINV: case OP_BSET: {
		/* btr/btc/bts rax, rcx (the bit index is taken mod 64) */
		static const uint32_t op[] = { [OP_BCLR - OP_BCLR] = 0x0fb3,
					       [OP_BINV - OP_BCLR] = 0x0fbb, [OP_BSET - OP_BCLR] = 0x0fab };
		ld64(b, RAX, d->rs1);
		ld64(b, RCX, d->rs2);
		x86_op_reg(b, 1, op[d->op - OP_BCLR], RCX, RAX);
		break;
	}
	case OP_BCLRI: case OP_BINVI: case OP_BSETI: {
		static const int grp[] = { [OP_BCLRI - OP_BCLRI] = 6,
					   [OP_BINVI - OP_BCLRI] = 7, [OP_BSETI - OP_BCLRI] = 5 };
		ld64(b, RAX, d->rs1);
		x86_op_reg(b, 1, 0x0fba, grp[d->op - OP_BCLRI], RAX);   /* btr/btc/bts rax, imm8 */
		x86_byte(b, (uint8_t)d->imm);
		break;
	}
	case OP_BEXT:
		ld64(b, RAX, d->rs1);
		ld32(b, RCX, d->rs2);
		x86_shift_cl(b, 1, SH_SHR, RAX);
		x86_alu_imm(b, 0, GRP_AND, RAX, 1);
		break;
	case OP_BEXTI:
		ld64(b, RAX, d->rs1);
		if (d->imm)
			x86_shift_imm(b, 1, SH_SHR, RAX, d->imm);
		x86_alu_imm(b, 0, GRP_AND, RAX, 1);
		break;
	case OP_CZEROEQZ: case OP_CZERONEZ:
		ld64(b, RAX, d->rs1);
		x86_op_reg(b, 0, X86_XOR, RCX, RCX);
		op_x(b, 1, 0x83, GRP_CMP, d->rs2);   /* cmp qword, 0 */
		x86_byte(b, 0);
		x86_cmov(b, d->op == OP_CZEROEQZ ? CC_E : CC_NE, RAX, RCX);
		break;
	default:
		return;
	}
	st64(b, RAX, d->rd);
}

/* Straight-line instructions with no memory access and no exit. */
static void emit_alu_op(struct x86buf *b, const struct dinsn *d, int32_t delta, unsigned host);
static int emit_branch_cmp(struct x86buf *b, const struct dinsn *d);
static void emit_alu(struct x86buf *b, const struct dinsn *d, int32_t delta, unsigned host)
{
	if (d->rd != 32)           /* writes x0: no effect at all */
		emit_alu_op(b, d, delta, host);
}

/* Ops whose translation uses rax alone (emit_rr, emit_ri, emit_shift by
 * an immediate): an if-converted one may sit between a setcc and a cmov. */
static int op_rax_only(int op)
{
	switch (op) {
	case OP_ADD: case OP_SUB: case OP_XOR: case OP_OR: case OP_AND:
	case OP_ADDI: case OP_XORI: case OP_ORI: case OP_ANDI:
	case OP_SLLI: case OP_SRLI: case OP_SRAI:
		return 1;
	}
	return 0;
}

/* `slli rd, rs, s` (s = 1..3) followed by `add rd, rd, rx` or
 * `add rd, rx, rd` (rx not rd): array indexing without Zba. The pair is
 * Zba's sh{s}add rd, rs, rx (*out), one lea instead of a shift and an add
 * on the way to the load that usually follows. */
static int fuse_shift_add(const struct dinsn *sl, const struct dinsn *add, struct dinsn *out)
{
	if (sl->op != OP_SLLI || sl->imm < 1 || sl->imm > 3 || sl->rd == 32 ||
	    add->op != OP_ADD || add->rd != sl->rd)
		return 0;
	int other;
	if (add->rs1 == sl->rd && add->rs2 != sl->rd)
		other = add->rs2;
	else if (add->rs2 == sl->rd && add->rs1 != sl->rd)
		other = add->rs1;
	else
		return 0;
	*out = *add;
	out->op = (uint16_t)(OP_SH1ADD + sl->imm - 1);
	out->rs1 = sl->rs1;
	out->rs2 = (uint8_t)other;
	return 1;
}

/* "if (!cond) rd = op;": a forward branch over one such op, rd in a host
 * register, becomes a cmov, so a data-dependent branch is never
 * mispredicted. The op's result goes to the x0 sink (and rax) first;
 * ebp loses the skipped instruction when the branch is taken. */
static void emit_if_converted(struct x86buf *b, const struct dinsn *br, const struct dinsn *op,
			      int32_t op_delta, unsigned host)
{
	int cc = emit_branch_cmp(b, br);
	x86_setcc_zx(b, cc, RDX);                  /* edx = 1: skipped */
	if (op->op == OP_ADDI && op->rs1 == 0) {   /* li: emit_alu_op would store it */
		x86_rex(b, 1, 0, -1, RAX);             /* mov rax, imm32 (sign-extended) */
		x86_byte(b, 0xc7);
		x86_byte(b, 0xc0);
		x86_u32(b, (uint32_t)op->imm);
	} else {
		struct dinsn t = *op;
		t.rd = 32;
		emit_alu_op(b, &t, op_delta, host);   /* rax = the op's result */
	}
	x86_op_reg(b, 0, 0x85, RDX, RDX);          /* test edx, edx */
	x86_op_reg(b, 1, 0x0f44, pinned(b, op->rd), RAX);   /* cmovz rd, rax */
	x86_op_reg(b, 0, X86_SUB, RBP, RDX);
	x86_label(b);
}

static void emit_alu_op(struct x86buf *b, const struct dinsn *d, int32_t delta, unsigned host)
{
	switch (d->op) {
	case OP_LUI:   st_imm(b, d->rd, d->imm); break;
	case OP_AUIPC:
		x86_op_mem(b, 1, X86_LEA, RAX, R12, -1, delta);
		if (d->imm)
			x86_alu_imm(b, 1, GRP_ADD, RAX, d->imm);
		st64(b, RAX, d->rd);
		break;
	case OP_ADDI:
		if (d->rs1 == 0)
			st_imm(b, d->rd, d->imm);
		else
			emit_ri(b, d, GRP_ADD, 0);
		break;
	case OP_SLTI:  emit_set(b, d, CC_L, 1); break;
	case OP_SLTIU: emit_set(b, d, CC_B, 1); break;
	case OP_XORI:  emit_ri(b, d, GRP_XOR, 0); break;
	case OP_ORI:   emit_ri(b, d, GRP_OR, 0); break;
	case OP_ANDI:  emit_ri(b, d, GRP_AND, 0); break;
	case OP_SLLI:  emit_shift(b, d, SH_SHL, 0, 0); break;
	case OP_SRLI:  emit_shift(b, d, SH_SHR, 0, 0); break;
	case OP_SRAI:  emit_shift(b, d, SH_SAR, 0, 0); break;
	case OP_ADDIW: emit_ri(b, d, GRP_ADD, 1); break;
	case OP_SLLIW: emit_shift(b, d, SH_SHL, 0, 1); break;
	case OP_SRLIW: emit_shift(b, d, SH_SHR, 0, 1); break;
	case OP_SRAIW: emit_shift(b, d, SH_SAR, 0, 1); break;
	case OP_ADD:   emit_rr(b, d, X86_ADD, 0); break;
	case OP_SUB:   emit_rr(b, d, X86_SUB, 0); break;
	case OP_XOR:   emit_rr(b, d, X86_XOR, 0); break;
	case OP_OR:    emit_rr(b, d, X86_OR, 0); break;
	case OP_AND:   emit_rr(b, d, X86_AND, 0); break;
	case OP_MUL:   emit_rr(b, d, X86_IMUL, 0); break;
	case OP_ADDW:  emit_rr(b, d, X86_ADD, 1); break;
	case OP_SUBW:  emit_rr(b, d, X86_SUB, 1); break;
	case OP_MULW:  emit_rr(b, d, X86_IMUL, 1); break;
	case OP_SLL:   emit_shift(b, d, SH_SHL, 1, 0); break;
	case OP_SRL:   emit_shift(b, d, SH_SHR, 1, 0); break;
	case OP_SRA:   emit_shift(b, d, SH_SAR, 1, 0); break;
	case OP_SLLW:  emit_shift(b, d, SH_SHL, 1, 1); break;
	case OP_SRLW:  emit_shift(b, d, SH_SHR, 1, 1); break;
	case OP_SRAW:  emit_shift(b, d, SH_SAR, 1, 1); break;
	case OP_SLT:   emit_set(b, d, CC_L, 0); break;
	case OP_SLTU:  emit_set(b, d, CC_B, 0); break;
	case OP_MULH:
	case OP_MULHU:
		ld64(b, RAX, d->rs1);
		/* one-operand imul (/5) or mul (/4): rdx:rax = rax * x[rs2] */
		op_x(b, 1, 0xf7, d->op == OP_MULH ? 5 : 4, d->rs2);
		st64(b, RDX, d->rd);
		break;
	case OP_MULHSU: emit_helper2(b, d, rv_mulhsu); break;
	case OP_DIV:    emit_helper2(b, d, rv_div); break;
	case OP_DIVU:   emit_divu(b, d, 0, 0); break;
	case OP_REM:    emit_helper2(b, d, rv_rem); break;
	case OP_REMU:   emit_divu(b, d, 1, 0); break;
	case OP_DIVW:   emit_helper2(b, d, rv_divw); break;
	case OP_DIVUW:  emit_divu(b, d, 0, 1); break;
	case OP_REMW:   emit_helper2(b, d, rv_remw); break;
	case OP_REMUW:  emit_divu(b, d, 1, 1); break;
	default:        emit_bitmanip(b, d, host); break;
	}
}

/* Branches, JAL and JALR: compute the next pc and leave the block. */
/* Compare for a conditional branch; returns the condition code of "taken". */
static int emit_branch_cmp(struct x86buf *b, const struct dinsn *d)
{
	static const int cc_taken[] = {
		[OP_BEQ - OP_BEQ] = CC_E, [OP_BNE - OP_BEQ] = CC_NE,
		[OP_BLT - OP_BEQ] = CC_L, [OP_BGE - OP_BEQ] = CC_GE,
		[OP_BLTU - OP_BEQ] = CC_B, [OP_BGEU - OP_BEQ] = CC_AE,
	};
	int h1 = b->rax_holds == d->rs1 ? 0 : pinned(b, d->rs1);
	if (d->rs2 == 0) {                          /* against x0: test */
		if (!h1) {
			ld64(b, RAX, d->rs1);
			h1 = RAX;
		}
		x86_op_reg(b, 1, 0x85, h1, h1);
	} else if (h1) {
		op_x(b, 1, X86_CMP, h1, d->rs2);
	} else {
		ld64(b, RAX, d->rs1);
		op_x(b, 1, X86_CMP, RAX, d->rs2);
	}
	return cc_taken[d->op - OP_BEQ];
}

/* A forward jump inside the block, waiting for its target instruction. */
struct fwd_jump {
	uint8_t *site;
	int target;            /* index of the instruction it lands on */
};

/* A conditional branch in mid-block (k, not the last): the fall-through
 * goes on in the block; the taken edge jumps to instruction `target` of the
 * block, or leaves it when target < 0. The instruction count in ebp is
 * added at exits by position, so the taken edge subtracts what it skips. */
static void emit_inner_branch(struct gen *g, const struct dinsn *d, int32_t delta, int k, int target,
			      struct fwd_jump *fwd, int *nfwd)
{
	struct x86buf *b = &g->b;
	int cc = emit_branch_cmp(b, d);
	uint8_t *fall = x86_jcc32(b, cc ^ 1);
	if (target < 0) {
		exit_to(g, delta + d->imm, (uint32_t)k + 1, 1);
	} else {
		if (target - k - 1)
			x86_alu_imm(b, 0, GRP_SUB, RBP, target - k - 1);
		fwd[*nfwd].site = x86_jmp32(b);
		fwd[(*nfwd)++].target = target;
	}
	x86_patch(b, fall, b->p);
}

static void emit_transfer(struct gen *g, const struct dinsn *d, int32_t delta, uint32_t count)
{
	struct x86buf *b = &g->b;
	if (d->op == OP_JAL) {
		if (d->rd != 32) {
			x86_op_mem(b, 1, X86_LEA, RAX, R12, -1, delta + d->len);
			st64(b, RAX, d->rd);
		}
		exit_to(g, delta + d->imm, count, 1);
		return;
	}
	if (d->op == OP_JALR) {
		ld64(b, RAX, d->rs1);
		if (d->imm)
			x86_alu_imm(b, 1, GRP_ADD, RAX, d->imm);
		x86_alu_imm(b, 1, GRP_AND, RAX, -2);
		if (d->rd != 32) {
			x86_op_mem(b, 1, X86_LEA, RCX, R12, -1, delta + d->len);
			st64(b, RCX, d->rd);
		}
		x86_alu_imm(b, 0, GRP_ADD, RBP, (int32_t)count);
		emit_jump_cache_exit(b);
		return;
	}
	uint8_t *taken = x86_jcc32(b, emit_branch_cmp(b, d));
	exit_to(g, delta + d->len, count, 1);
	x86_patch(b, taken, b->p);
	exit_to(g, delta + d->imm, count, 1);
}

/* Leave with JIT_TRAPPED after instruction `index` raised a trap. */
static void trap_exit(struct x86buf *b, uint32_t index)
{
	x86_op_mem(b, 0, X86_LEA, RAX, RBP, -1, (int32_t)index + 1);
	x86_alu_imm(b, 0, GRP_OR, RAX, (int32_t)JIT_TRAPPED);
	epilogue(b);
}

static void emit_stub(struct x86buf *b, const struct stub *s)
{
	const struct dinsn *d = s->d;
	uint32_t raw = d->raw;
	if (s->kind == STUB_TRAPPED) {        /* a C helper raised the trap */
		x86_patch(b, s->miss, b->p);
		trap_exit(b, s->index);
		return;
	}
	x86_patch(b, s->miss, b->p);
	if (s->kind == STUB_LOAD && s->hit) {
		uint8_t *tlb_miss = emit_memo_refill(b, s);
		x86_patch(b, tlb_miss, b->p);
	}
	x86_patch(b, s->miss2, b->p);
	/* h->pc = this instruction, for the fault the slow path may raise */
	x86_op_mem(b, 1, X86_LEA, RCX, R12, -1, s->delta);
	x86_op_mem(b, 1, X86_MOV_STORE, RCX, RBX, -1, OFF_PC);
	x86_op_reg(b, 1, X86_MOV_LOAD, RDI, RBX);
	uint8_t *trap = NULL;
	if (s->kind == STUB_ILLEGAL) {
		x86_mov_imm32(b, RSI, (uint32_t)d->imm);          /* stval bits */
		call_c(b, (const void *)raise_illegal);
	} else {
		x86_op_reg(b, 1, X86_MOV_LOAD, RSI, RAX);         /* va */
		if (s->kind == STUB_STORE || s->kind == STUB_FSTORE) {
			static const unsigned sz[] = { 1, 2, 4, 8 };
			x86_mov_imm32(b, RDX, s->kind == STUB_STORE ? sz[d->op - OP_SB] : F3(raw) == 2 ? 4 : 8);
			if (s->kind == STUB_STORE)
				ld64(b, RCX, d->rs2);
			else
				x86_op_mem(b, 1, X86_MOV_LOAD, RCX, RBX, -1, FREG(RS2(raw)));
			call_c(b, (const void *)slow_store);
		} else {
			static const unsigned kind[] = { 0x11, 0x12, 0x14, 0x08, 0x01, 0x02, 0x04 };
			if (s->kind == STUB_LOAD) {
				x86_mov_imm32(b, RDX, kind[d->op - OP_LB]);
				x86_op_mem(b, 1, X86_LEA, RCX, RBX, -1, XREG(d->rd));
			} else {
				x86_mov_imm32(b, RDX, F3(raw) == 2 ? 0x24 : 0x08);
				x86_op_mem(b, 1, X86_LEA, RCX, RBX, -1, FREG(RD(raw)));
			}
			call_c(b, (const void *)slow_load);
		}
		x86_op_reg(b, 0, 0x85, RAX, RAX);                  /* test eax, eax */
		trap = x86_jcc32(b, CC_NE);
		if (s->kind == STUB_STORE || s->kind == STUB_FSTORE) {
			/* done: leave, since the store may have hit MMIO or this page */
			x86_alu_imm(b, 0, GRP_ADD, RBP, (int32_t)s->index + 1);
			plain_exit(b, s->delta + d->len);
		} else {
			if (s->kind == STUB_LOAD) {   /* resume expects rax = x[rd] */
				x86_op_mem(b, 1, X86_MOV_LOAD, RAX, RBX, -1, XREG(d->rd));
				if (pinned(b, d->rd))
					x86_op_reg(b, 1, X86_MOV_LOAD, pinned(b, d->rd), RAX);
			}
			x86_patch(b, x86_jmp32(b), s->resume);
		}
	}
	x86_patch(b, trap, b->p);
	trap_exit(b, s->index);
}

/* jz to an illegal-instruction stub when sstatus.FS is Off. */
static uint8_t *emit_fs_check(struct x86buf *b)
{
	x86_op_mem(b, 0, 0xf7, 0, RBX, -1, OFF_SSTATUS);      /* test dword, imm32 */
	x86_u32(b, (uint32_t)SSTATUS_FS);
	return x86_jcc32(b, CC_E);
}

static void emit_fs_dirty(struct x86buf *b)
{
	x86_op_mem(b, 0, 0x81, GRP_OR, RBX, -1, OFF_SSTATUS);  /* or dword, imm32 */
	x86_u32(b, (uint32_t)FS_DIRTY);
}

/* fadd.d, fsub.d, fmul.d, fdiv.d, fsqrt.d in SSE and the fused fmadd.d family in
 * FMA3 (when the host has it), in the case fpu_exec's own fast path takes
 * (QEMU's "hardfloat"): the rounding mode is RNE, fflags already holds NX,
 * and the result is a normal number (or, for add, sub and sqrt, a zero,
 * which they produce exactly). Such an operation can raise no flag that is not
 * already set, whatever its operands (an infinite, NaN or invalid case
 * never yields a normal result; a tiny result is never normal), so no
 * MXCSR work is needed. Anything else jumps to the returned jcc list's
 * targets, the fpu_exec call; *n gets how many (0: no fast path for this
 * instruction). f[rd] is not touched before the checks pass. */
static void emit_fp_fast_d(struct x86buf *b, uint32_t raw, unsigned host, uint8_t **slow, int *n)
{
	static const uint8_t sse_op[4] = { 0x58, 0x5c, 0x59, 0x5e };   /* add sub mul div sd */
	/* fmadd, fmsub, fnmsub, fnmadd: vfmadd/vfmsub/vfnmadd/vfnmsub213sd */
	static const uint8_t fma_op[4] = { 0xa9, 0xab, 0xad, 0xaf };
	unsigned opc = raw & 0x7f, f7 = raw >> 25, rm = F3(raw);
	int fused = (opc & 0x73) == 0x43;
	*n = 0;
	if (rm != 0 && rm != 7)
		return;
	int is_sqrt = opc == 0x53 && f7 == 0x2d && RS2(raw) == 0;
	if (fused ? ((f7 & 3) != 1 || !(host & JIT_HOST_FMA))
		  : !is_sqrt && (opc != 0x53 || (f7 & 0x73) != 0x01))
		return;
	/* add sub mul div (fsqrt: 4) / the four fused */
	unsigned which = fused ? (opc >> 2) & 3 : is_sqrt ? 4 : f7 >> 2;
	x86_op_mem(b, 0, 0xf7, 0, RBX, -1, OFF_FFLAGS);           /* test dword, NX */
	x86_u32(b, FFLAG_NX);
	slow[(*n)++] = x86_jcc32(b, CC_E);
	if (rm == 7) {
		x86_op_mem(b, 0, 0x83, GRP_CMP, RBX, -1, OFF_FRM);   /* cmp dword, 0 */
		x86_byte(b, 0);
		slow[(*n)++] = x86_jcc32(b, CC_NE);
	}
	x86_byte(b, 0xf2);                                        /* movsd / sqrtsd xmm0, f[rs1] */
	x86_op_mem(b, 0, is_sqrt ? 0x0f51 : 0x0f10, 0, RBX, -1, FREG(RS1(raw)));
	if (is_sqrt) {
		/* the square root of a number >= 0 is exact at zero, else normal
		 * or NaN (a negative operand) */
	} else if (fused) {
		x86_byte(b, 0xf2);                                /* movsd xmm1, f[rs2] */
		x86_op_mem(b, 0, 0x0f10, 1, RBX, -1, FREG(RS2(raw)));
		/* VEX.128.66.0F38.W1 op xmm0, xmm1, f[rs3]: xmm0 = ±(xmm1 * xmm0) ± f[rs3] */
		x86_byte(b, 0xc4);
		x86_byte(b, 0xe2);                                /* R X B set (none extended), 0F38 */
		x86_byte(b, 0xf1);                                /* W1, vvvv = ~xmm1, L0, 66 */
		x86_byte(b, fma_op[which]);
		x86_modrm_mem(b, 0, RBX, -1, FREG(raw >> 27));
	} else {
		x86_byte(b, 0xf2);                                /* op xmm0, f[rs2] */
		x86_op_mem(b, 0, 0x0f00u | sse_op[which], 0, RBX, -1, FREG(RS2(raw)));
	}
	x86_byte(b, 0x66);                                        /* movq rax, xmm0 */
	x86_op_reg(b, 1, 0x0f7e, 0, RAX);
	x86_op_mem(b, 1, X86_LEA, RCX, RAX, RAX, 0);              /* rcx = bits without the sign */
	uint8_t *zero = NULL;
	if (!fused && (which < 2 || is_sqrt)) {
		x86_op_reg(b, 1, 0x85, RCX, RCX);                 /* test rcx, rcx */
		zero = x86_jcc32(b, CC_E);
	}
	/* normal: 1 <= exponent <= 0x7fe, i.e. rcx - 2^53 < 0x7fe << 53 */
	x86_mov_imm64(b, RDX, 1ull << 53);
	x86_op_reg(b, 1, X86_SUB, RCX, RDX);
	x86_mov_imm64(b, RDX, 0x7feull << 53);
	x86_op_reg(b, 1, X86_CMP, RCX, RDX);
	slow[(*n)++] = x86_jcc32(b, CC_AE);
	if (zero)
		x86_patch(b, zero, b->p);
	x86_op_mem(b, 1, X86_MOV_STORE, RAX, RBX, -1, FREG(RD(raw)));
	emit_fs_dirty(b);
}

/* flw/fld/fsw/fsd and the F/D arithmetic (through fpu_exec). Adds the
 * stubs they need to *ns. */
static void emit_fp(struct x86buf *b, const struct dinsn *d, int32_t delta, uint32_t k,
		    struct stub *stubs, int *ns, unsigned host)
{
	uint32_t raw = d->raw;
	struct stub *ill = &stubs[(*ns)++];
	*ill = (struct stub){ d, delta, k, NULL, NULL, NULL, STUB_ILLEGAL, 0, NULL };
	ill->miss = emit_fs_check(b);
	if (d->op == OP_FPOP) {
		uint8_t *slow[3], *done = NULL;
		int nslow = 0;
		x86_label(b);                  /* the fast path and fpu_exec clobber rax */
		if (JIT_SSE_FP)
			emit_fp_fast_d(b, raw, host, slow, &nslow);
		if (nslow) {
			done = x86_jmp32(b);
			for (int i = 0; i < nslow; i++)
				x86_patch(b, slow[i], b->p);
		}
		x86_op_reg(b, 1, X86_MOV_LOAD, RDI, RBX);
		x86_mov_imm32(b, RSI, raw);
		call_c(b, (const void *)fpu_exec);
		x86_op_reg(b, 0, 0x85, RAX, RAX);
		ill->miss2 = x86_jcc32(b, CC_NE);
		emit_fs_dirty(b);
		if (pinned(b, RD(raw)))        /* fmv.x.d, fcvt.l.d, feq.d... wrote x[rd] */
			x86_op_mem(b, 1, X86_MOV_LOAD, pinned(b, RD(raw)), RBX, -1, XREG(RD(raw)));
		if (done)                      /* the fast path writes only f[rd] */
			x86_patch(b, done, b->p);
		x86_label(b);
		return;
	}
	unsigned size = F3(raw) == 2 ? 4 : 8;
	struct stub *s = &stubs[(*ns)++];
	*s = (struct stub){ d, delta, k, NULL, NULL, NULL, d->op == OP_FLOAD ? STUB_FLOAD : STUB_FSTORE, 0, NULL };
	struct dinsn addr = *d;          /* the probe reads rs1 and imm */
	addr.rs1 = (uint8_t)RS1(raw);
	addr.imm = d->op == OP_FLOAD ? IMM_I(raw) : IMM_S(raw);
	s->miss = emit_tlb_probe(b, &addr, size, d->op == OP_FLOAD ? OFF_TLB_R : OFF_TLB_W);
	if (d->op == OP_FLOAD) {
		x86_op_mem(b, size == 8, X86_MOV_LOAD, RAX, RAX, -1, 0);
		if (size == 4) {
			x86_mov_imm64(b, RCX, NAN_BOX);
			x86_op_reg(b, 1, X86_OR, RAX, RCX);
		}
		x86_op_mem(b, 1, X86_MOV_STORE, RAX, RBX, -1, FREG(RD(raw)));
		s->resume = b->p;
		x86_label(b);
		emit_fs_dirty(b);
	} else {
		x86_op_mem(b, 1, X86_MOV_LOAD, RDX, RBX, -1, FREG(RS2(raw)));
		x86_store(b, (int)size, RDX, RAX, -1, 0);
	}
}

int jit_compile(struct jit *j, const struct dinsn *in, int n, const struct dinsn *page_slots,
		unsigned page_off, int chain_on, uint32_t *offset)
{
	struct gen g = { .b = { j->base + j->used, j->base + j->size, 0, -1 }, .j = j,
			 .page_slots = page_slots, .page_off = page_off };
	struct x86buf *b = &g.b;
	uint8_t *start = b->p;
	struct stub stubs[2 * JIT_MAX_INSNS];
	int nstubs = 0;
	int32_t delta = 0;
	int ended = 0;

	x86_push(b, RBX);
	x86_push(b, RBP);
	x86_push(b, R12);
	x86_push(b, R13);
	x86_push(b, R14);
	x86_push(b, R15);
	x86_alu_imm(b, 1, GRP_SUB, RSP, 8);   /* rsp is now 16-byte aligned for calls */
	x86_op_reg(b, 1, X86_MOV_LOAD, RBX, RDI);
	x86_op_reg(b, 1, X86_MOV_LOAD, R12, RSI);
	x86_op_reg(b, 0, X86_XOR, RBP, RBP);
	if (!b->overflow && b->p - start != JIT_BODY_OFFSET)
		abort();             /* chained jumps enter at the body */
	/* Load memos pay off in a loop, where a site sees the same page again
	 * and again; in straight-line code (the kernel's fork and exec paths)
	 * they mostly miss, and a miss costs more than the plain TLB probe. */
	int self_loop = pick_pins(b, in, n < JIT_MAX_INSNS ? n : JIT_MAX_INSNS);
	int memos = JIT_LOAD_MEMOS && self_loop;
	for (int xr = 1; xr < 32; xr++)
		if (b->pin[xr])
			x86_op_mem(b, 1, X86_MOV_LOAD, b->pin[xr], RBX, -1, XREG(xr));
	g.loop_top = b->p;
	x86_label(b);

	/* each instruction's offset from the first, for inner branch targets */
	int32_t at[JIT_MAX_INSNS + 1];
	at[0] = 0;
	for (int k = 0; k < n && k < JIT_MAX_INSNS; k++)
		at[k + 1] = at[k] + in[k].len;
	struct fwd_jump fwd[JIT_MAX_INSNS];
	int nfwd = 0;
	struct dinsn fused;
	for (int k = 0; k < n && k < JIT_MAX_INSNS; k++) {
		const struct dinsn *d = &in[k];
		for (int f = 0; f < nfwd; f++)
			if (fwd[f].target == k)
				x86_patch(b, fwd[f].site, b->p);   /* a label: rax forgets */
		int skipped_is_target = 0;
		for (int f = 0; f < nfwd; f++)
			skipped_is_target |= fwd[f].target == k + 1;
		if (k + 2 < n && d->op >= OP_BEQ && d->op <= OP_BGEU && at[k] + d->imm == at[k + 2] &&
		    op_rax_only(in[k + 1].op) && in[k + 1].rd != 32 && pinned(b, in[k + 1].rd) &&
		    !skipped_is_target) {
			emit_if_converted(b, d, &in[k + 1], delta + d->len, j->host);
			delta += d->len;
			d = &in[++k];
		} else if (k < n - 1 && d->op >= OP_BEQ && d->op <= OP_BGEU) {
			int target = -1;
			for (int t = k + 1; t < n && t < JIT_MAX_INSNS; t++)
				if (at[t] == at[k] + d->imm)
					target = t;
			emit_inner_branch(&g, d, delta, k, target, fwd, &nfwd);
		} else if (d->op >= OP_LB && d->op <= OP_LWU) {
			unsigned i = d->op - OP_LB;
			struct stub *s = &stubs[nstubs++];
			*s = (struct stub){ d, delta, (uint32_t)k, NULL, NULL, NULL, STUB_LOAD, 0, NULL };
			if (memos) {
				s->memo = OFF_MEMO + (int32_t)(j->next_site++ % JIT_LOAD_SITES) *
						     (int32_t)sizeof(struct tlb_entry);
				s->miss = emit_memo_probe(b, d, load_bytes[i], s->memo);
				s->hit = b->p;
			} else {
				s->miss = emit_tlb_probe(b, d, load_bytes[i], OFF_TLB_R);
			}
			emit_load(b, d, load_bytes[i], load_sext[i], memos ? RCX : -1);
			s->resume = b->p;
			x86_label(b);
			b->rax_holds = d->rd;    /* the stub reloads it too */
		} else if (d->op >= OP_SB && d->op <= OP_SD) {
			static const unsigned size[] = { 1, 2, 4, 8 };
			struct stub *s = &stubs[nstubs++];
			*s = (struct stub){ d, delta, (uint32_t)k, NULL, NULL, NULL, STUB_STORE, 0, NULL };
			s->miss = emit_tlb_probe(b, d, size[d->op - OP_SB], OFF_TLB_W);
			ld64(b, RDX, d->rs2);
			x86_store(b, (int)size[d->op - OP_SB], RDX, RAX, -1, 0);
		} else if (d->op == OP_FLOAD || d->op == OP_FSTORE || d->op == OP_FPOP) {
			emit_fp(b, d, delta, (uint32_t)k, stubs, &nstubs, j->host);
		} else if (d->op == OP_FENCE) {
			/* x86-TSO keeps every order RVWMO fences ask for but
			 * store->load (fence.i is not compiled: see decode_int) */
			if (fence_orders_store_load(d->raw)) {
				x86_byte(b, 0x0f);          /* mfence */
				x86_byte(b, 0xae);
				x86_byte(b, 0xf0);
			}
		} else if (d->op == OP_CBO) {
			/* h->pc for a fault, then the C helper. Leave afterwards:
			 * cbo.zero may have zeroed code of this very block. */
			x86_op_mem(b, 1, X86_LEA, RCX, R12, -1, delta);
			x86_op_mem(b, 1, X86_MOV_STORE, RCX, RBX, -1, OFF_PC);
			x86_op_reg(b, 1, X86_MOV_LOAD, RDI, RBX);
			x86_mov_imm32(b, RSI, d->raw);
			call_c(b, (const void *)cmo_exec);
			x86_op_reg(b, 0, 0x85, RAX, RAX);          /* test eax, eax */
			struct stub *s = &stubs[nstubs++];
			*s = (struct stub){ d, delta, (uint32_t)k, NULL, NULL, NULL, STUB_TRAPPED, 0, NULL };
			s->miss = x86_jcc32(b, CC_NE);
			exit_to(&g, delta + d->len, (uint32_t)k + 1, 0);
			ended = 1;
			break;
		} else if (op_ends_block(d->op)) {
			emit_transfer(&g, d, delta, (uint32_t)k + 1);
			ended = 1;
			break;
		} else if (k + 1 < n && !skipped_is_target && fuse_shift_add(d, &in[k + 1], &fused)) {
			/* slli rd, rs, 1..3 then add rd, rd, rx: one lea (the
			 * shifted value in rd is dead, the add overwrites it) */
			emit_alu(b, &fused, delta, j->host);
			delta += d->len;
			d = &in[++k];
		} else {
			emit_alu(b, d, delta, j->host);
		}
		delta += d->len;
	}
	if (!ended)
		exit_to(&g, delta, (uint32_t)n, chain_on);
	for (int i = 0; i < nstubs; i++)
		emit_stub(b, &stubs[i]);
	for (int i = 0; i < g.nchains; i++)
		emit_chain_stub(&g, &g.chains[i]);
	if (b->overflow)
		return -1;
	size_t len = (size_t)(b->p - start);
	/* the next block's body (where chained jumps and loops enter) starts
	 * on a 64-byte boundary: a loop straddling one ran 40% slower */
	j->used = ((j->used + len + JIT_BODY_OFFSET + BLOCK_ALIGN - 1) & ~(size_t)(BLOCK_ALIGN - 1)) -
		  JIT_BODY_OFFSET;
	j->blocks++;
	j->insns += (uint64_t)n;
	j->bytes += len;
	j->last_len = len;
	*offset = (uint32_t)(start - j->base);
	return 0;
}
