/* The block compiler: translates runs of decoded integer instructions
 * (straight-line code ending at a control transfer, a non-integer
 * instruction or the end of the page) into x86-64 host code. Blocks are
 * position-independent (they take the guest pc of their first instruction
 * as an argument) and keyed by physical code page through the decoded
 * cache, so one block serves every virtual mapping of its page. */
#ifndef TERN_JIT_H
#define TERN_JIT_H
#include <stddef.h>
#include <stdint.h>

struct hart;
struct dinsn;
struct jit;

#define JIT_MAX_INSNS 64
/* Chained blocks return to the dispatcher after this many instructions. */
#define JIT_CHAIN_LIMIT 4096
/* Bytes of prologue before a block's body (where chained jumps enter). */
#define JIT_BODY_OFFSET 22
#define JIT_CODE_BYTES (64u << 20)   /* per VM; flushed whole when full */
/* A block returns the number of instructions it executed (including one
 * that trapped), with JIT_TRAPPED set when it left through a trap (the trap
 * has then set h->pc); otherwise it has stored the next pc in h->pc. */
#define JIT_TRAPPED 0x80000000u
typedef uint32_t (*jit_block_fn)(struct hart *h, uint64_t pc);

/* A code buffer of `bytes`; NULL if executable memory is unavailable. */
struct jit *jit_new(size_t bytes);
void jit_free(struct jit *j);
/* Compile insns[0..n) (all op_compilable; only the last may end the block,
 * by op_ends_compiled_block: forward branches may sit inside), which start at offset page_off of the code page whose decoded
 * slots are page_slots. Exits to targets on the same page are chained
 * (jump straight into the target's block once it exists); chain_on says
 * whether the fall-through exit of a block without a final transfer may be
 * chained too (it should not when the next instruction is never compiled).
 * Returns 0 and the block's offset, or -1 when the buffer is full (the
 * caller then drops every block: jit_reset plus dcache_clear). */
int jit_compile(struct jit *j, const struct dinsn *insns, int n, const struct dinsn *page_slots,
		unsigned page_off, int chain_on, uint32_t *offset);
void jit_reset(struct jit *j);
/* Optional host instructions used for Zbb/Zbc and fused multiply-add when
 * present; tests clear bits with jit_limit_host to exercise the fallbacks. */
#define JIT_HOST_BMI1   1u      /* andn, tzcnt */
#define JIT_HOST_LZCNT  2u
#define JIT_HOST_POPCNT 4u
#define JIT_HOST_CLMUL  8u      /* pclmulqdq */
#define JIT_HOST_FMA    16u     /* vfmadd...sd (FMA3), for fmadd.d and its kin */
void jit_limit_host(struct jit *j, unsigned mask);
/* With TERN_JIT_PERFMAP set, name the block just compiled at `offset`
 * after the guest physical address of its first instruction in
 * /tmp/perf-PID.map, so that `perf report` attributes JIT time. */
void jit_note_block(struct jit *j, uint32_t offset, uint64_t guest_pa);
/* The start of the code buffer: a block at offset o is entered at
 * (jit_block_fn)(base + o). The buffer never moves, so callers may keep it. */
const uint8_t *jit_code_base(const struct jit *j);
#endif
