/* RISC-V hart state (RV64IMAFDC, S- and U-mode; M-mode is the VMM itself,
 * which provides SBI) and the CPU's entry points. */
#ifndef TERN_HART_H
#define TERN_HART_H
#include <stdint.h>
#include <stdbool.h>
#include <stdatomic.h>

struct hart_group;

enum { PRV_U = 0, PRV_S = 1, PRV_M = 3 };

/* Exception causes (scause, interrupt bit clear). */
enum {
	EXC_INSN_MISALIGNED = 0, EXC_INSN_ACCESS = 1, EXC_ILLEGAL = 2,
	EXC_BREAKPOINT = 3, EXC_LOAD_MISALIGNED = 4, EXC_LOAD_ACCESS = 5,
	EXC_STORE_MISALIGNED = 6, EXC_STORE_ACCESS = 7, EXC_ECALL_U = 8,
	EXC_ECALL_S = 9, EXC_INSN_PAGE = 12, EXC_LOAD_PAGE = 13,
	EXC_STORE_PAGE = 15,
};
/* Interrupt numbers (bits in sip/sie). */
enum { IRQ_SSI = 1, IRQ_STI = 5, IRQ_SEI = 9 };
#define MIP_SSIP (1ull << IRQ_SSI)
#define MIP_STIP (1ull << IRQ_STI)
#define MIP_SEIP (1ull << IRQ_SEI)

/* sstatus bits */
#define SSTATUS_SIE  (1ull << 1)
#define SSTATUS_SPIE (1ull << 5)
#define SSTATUS_UBE  (1ull << 6)
#define SSTATUS_SPP  (1ull << 8)
#define SSTATUS_VS   (3ull << 9)
#define SSTATUS_FS   (3ull << 13)
#define SSTATUS_XS   (3ull << 15)
#define SSTATUS_SUM  (1ull << 18)
#define SSTATUS_MXR  (1ull << 19)
#define SSTATUS_UXL  (3ull << 32)
#define SSTATUS_SD   (1ull << 63)
#define FS_OFF   0ull
#define FS_DIRTY (3ull << 13)

/* menvcfg/senvcfg bits. M-mode is the VMM: menvcfg is fixed at reset and
 * says what S-mode may use (Sstc, the cache-block operations). */
#define ENVCFG_FIOM        (1ull << 0)
#define ENVCFG_CBIE        (3ull << 4)     /* 00 illegal, 01 flush, 11 inval */
#define ENVCFG_CBIE_INVAL  (3ull << 4)
#define ENVCFG_CBCFE       (1ull << 6)
#define ENVCFG_CBZE        (1ull << 7)
#define MENVCFG_STCE       (1ull << 63)
/* Zicbom/Zicboz cache-block size (advertised in the device tree). */
#define CBO_BLOCK_SIZE 64

/* fflags */
#define FFLAG_NX 0x01
#define FFLAG_UF 0x02
#define FFLAG_OF 0x04
#define FFLAG_DZ 0x08
#define FFLAG_NV 0x10

/* Software TLB: one array per access type; host = vaddr + addend.
 * tag is the virtual page | TLB_TAG_* bits; valid is set, so 0 never
 * matches. A lookup ignores the global bit (tlb_mask clears it). */
#define TLB_TAG_VALID  1u
#define TLB_TAG_USER   2u        /* a U page */
#define TLB_TAG_GLOBAL 4u        /* a global mapping (PTE.G): kept across satp writes */
#define TLB_SIZE 256
#define JIT_LOAD_SITES 256
#define JIT_JUMP_CACHE 256
struct tlb_entry {
	uint64_t tag;
	uintptr_t addend;
};

/* Why hart_run stopped for the VMM (h->exit). The vCPU loop (core/vcpu.c)
 * reads it after hart_run, clears it and returns the matching exit. */
enum hart_exit { HART_EXIT_NONE = 0, HART_EXIT_SBI };

/* What other threads ask of a hart (h->req). The hart serves them itself,
 * before it next runs guest code (hart_serve_requests); a requester that
 * must know they were served waits with vm_harts_request (core/vm.c). */
enum {
	HART_REQ_TLB = 1,       /* flush the whole TLB (remote sfence.vma) */
	HART_REQ_TLB_W = 2,     /* flush the write TLB (dirty-log harvest) */
	HART_REQ_CODE = 4,      /* drop decoded code that others wrote (fence.i) */
};

/* SBI HSM states */
enum { HSM_STARTED = 0, HSM_STOPPED = 1, HSM_START_PENDING = 2,
       HSM_STOP_PENDING = 3, HSM_SUSPENDED = 4 };

struct hart {
	uint64_t x[33];          /* x[32] is a sink: decoded writes to x0 go there */
	uint64_t pc;
	uint64_t f[32];         /* raw bits; single values are NaN-boxed */
	uint32_t fflags;        /* accrued exception flags (5 bits) */
	uint32_t frm;           /* dynamic rounding mode (3 bits) */
	int priv;               /* PRV_S or PRV_U */

	/* Supervisor CSRs */
	uint64_t sstatus;
	uint64_t sie;
	_Atomic uint64_t mip;   /* pending: set by devices/other harts too */
	uint64_t stvec, sscratch, sepc, scause, stval, satp;
	uint64_t scounteren, senvcfg;
	uint64_t menvcfg;       /* fixed by the VMM (M-mode); see ENVCFG_* */
	uint64_t stimecmp;

	/* LR/SC reservation (physical address; valid flag) */
	uint64_t resv_addr;
	uint64_t resv_value;
	bool resv_valid;

	uint64_t instret;       /* retired instructions */
	/* Counters printed at exit with TERN_CPU_STATS=1 (hart_destroy): an
	 * Sstc kernel programs its timer by stimecmp, not SBI set_timer. */
	uint64_t n_sbi_calls, n_sbi_set_timer, n_stimecmp_writes;
	/* TLB work: page walks, whole flushes, satp writes, sfence.vma with an
	 * address (and those that had to flush everything) */
	uint64_t n_walks, n_tlb_flush_all, n_tlb_flush_non_global, n_tlb_flush_va, n_tlb_flush_va_all;

	/* Translation: mode and root page table cached from satp */
	int vm_levels;          /* 0 = bare, 3 = Sv39, 4 = Sv48 */
	uint64_t pt_root;
	struct tlb_entry tlb_x[TLB_SIZE], tlb_r[TLB_SIZE], tlb_w[TLB_SIZE];
	/* A lookup hits when (tag & tlb_mask) == (page | tlb_want): see
	 * TLB_TAG_* and tlb_update_mode (tlb.c). */
	uint64_t tlb_mask, tlb_want;
	/* The TLB may hold 4 KiB pieces of superpages: [super_lo, super_hi]
	 * (inclusive) covers every superpage that has a piece in it (empty:
	 * super_lo > super_hi). An sfence.vma for an address inside must flush
	 * everything (tlb_flush_va); one outside (a user page, say) need not. */
	uint64_t super_lo, super_hi;
	/* One read-TLB entry per compiled load site (by site number modulo
	 * JIT_LOAD_SITES): a copy of the tlb_r entry that site last hit, at an
	 * address that does not depend on the access, so that a loop's loads
	 * do not wait for the TLB lookup. Flushed with the TLB. */
	struct tlb_entry load_memo[JIT_LOAD_SITES];
	/* Compiled blocks by virtual pc (tag: pc | 1 in U-mode), filled by the
	 * dispatcher: a jalr jumps straight into its target's block when the
	 * tag matches. Flushed with the TLB and whenever decoded code goes
	 * (hart_jump_cache_flush). */
	struct { uint64_t tag; const void *body; } jump_cache[JIT_JUMP_CACHE];

	/* hart_reset clears everything above; what follows it keeps or sets. */

	/* This hart's own decoded pages and compiled blocks: only the thread
	 * that runs the hart touches them (cpu/dcache.h, cpu/jit.h). */
	struct dcache *dcache;
	struct jit *jit;        /* NULL: interpret only */
	_Atomic unsigned req;   /* HART_REQ_* asked by other threads */
	_Atomic int in_guest;   /* set while hart_run may run (requests served) */
	_Atomic int yield;      /* end the running slice early (hart_kick) */
	int host_tid;           /* the host thread that runs it (query-cpus-fast) */

	/* Scheduling */
	int id;
	_Atomic int hsm_state;
	bool wfi;               /* parked in wfi until an interrupt is pending */
	int exit;               /* enum hart_exit: what the last hart_run left to the VMM */
	uint64_t start_addr, start_opaque;   /* HSM hart_start arguments */
	struct hart_group *group;   /* the machine's harts it belongs to */
};

/* Forget every jump-cache entry (h's thread, or h stopped). */
static inline void hart_jump_cache_flush(struct hart *h)
{
	__builtin_memset(h->jump_cache, 0, sizeof(h->jump_cache));
}
/* Ask h's thread to end its running slice at the next block boundary
 * (any thread). */
static inline void hart_kick(struct hart *h)
{
	atomic_store_explicit(&h->yield, 1, memory_order_relaxed);
}
#endif
