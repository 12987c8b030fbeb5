/* Runtime interface for the bare-metal ISA tests: console output, SBI calls,
 * CSR helpers and the trap-recording machinery used by tests that fault. */
#ifndef ISA_RT_H
#define ISA_RT_H
#include <stdint.h>
#include <stddef.h>
#include <stdarg.h>
#include "frame.h"

typedef uint64_t u64;
typedef int64_t  i64;
typedef uint32_t u32;
typedef int32_t  i32;

/* ---- console ---- */
void putc_(char c);
void puts_(const char *s);                 /* no newline added */
void pr(const char *fmt, ...);             /* %s %c %d %u %x (+l, width, 0) */
void begin(void);                          /* prints "ISA-BEGIN" */
void end(void);                            /* prints "ISA-END" */
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- SBI ---- */
struct sbiret { long error; long value; };
struct sbiret sbi_call(long eid, long fid, long a0, long a1, long a2);
void sbi_shutdown(void) __attribute__((noreturn));
extern u64 boot_hartid, boot_fdt;

/* ---- CSRs ---- */
#define csr_read(csr) ({ u64 __v; asm volatile("csrr %0, " #csr : "=r"(__v) :: "memory"); __v; })
#define csr_write(csr, v) asm volatile("csrw " #csr ", %0" :: "rK"((u64)(v)) : "memory")
#define csr_set(csr, v) asm volatile("csrs " #csr ", %0" :: "rK"((u64)(v)) : "memory")
#define csr_clear(csr, v) asm volatile("csrc " #csr ", %0" :: "rK"((u64)(v)) : "memory")
#define csr_swap(csr, v) ({ u64 __v; asm volatile("csrrw %0, " #csr ", %1" : "=r"(__v) : "rK"((u64)(v)) : "memory"); __v; })

#define SSTATUS_SIE  (1ul << 1)
#define SSTATUS_SPIE (1ul << 5)
#define SSTATUS_SPP  (1ul << 8)
#define SSTATUS_FS   (3ul << 13)
#define SSTATUS_SUM  (1ul << 18)
#define SSTATUS_MXR  (1ul << 19)
#define SIP_SSIP (1ul << 1)
#define SIP_STIP (1ul << 5)
#define SIE_SSIE (1ul << 1)
#define SIE_STIE (1ul << 5)
#define SIE_SEIE (1ul << 9)

/* ---- traps ----
 * A test arms the handler with trap_arm(n, skip) before an instruction that
 * should fault. The handler records scause/stval/sepc and resumes:
 *   skip > 0          sepc += skip (caller knows the instruction length)
 *   TRAP_SKIP_AUTO    sepc += 2 or 4, read from the instruction at sepc
 *                     (only safe when sepc is readable, i.e. not for fetch
 *                     faults and not for unmapped code in paging tests)
 *   TRAP_RET_RA       sepc = ra (for fetch faults entered with jalr ra)
 * An exception while no trap is armed prints UNEXPECTED TRAP and powers off
 * without ISA-END, so the runner reports the test as failed. Interrupts are
 * recorded in irq_* and their source is masked in sie. */
#define TRAP_SKIP_AUTO 0
#define TRAP_RET_RA    (-1)

struct trap_frame { u64 x[32]; u64 sepc, scause, stval, sstatus; };

extern volatile int  trap_armed;
extern volatile long trap_skip;
extern volatile u64  trap_count, trap_cause, trap_tval, trap_epc, trap_status;
/* Print what the last armed instruction did: its trap (cause, tval, and
 * whether sepc was the instruction at `insn_addr`) or "no trap". */
void pr_trap_outcome(const char *desc, u64 insn_addr);
extern volatile u64  irq_count, irq_cause, irq_epc;
/* If set, called first for every trap; return nonzero if it handled it. */
extern int (*volatile trap_hook)(struct trap_frame *f);

void trap_arm(int n, long skip);
void trap_disarm(void);
/* Print "<name>: scause=.. stval=.." for the last armed trap (or "no trap"). */
void trap_report(const char *name);
/* Like trap_report but prints stval relative to base ("stval=base+off"). */
void trap_report_rel(const char *name, u64 base);

/* run fn(arg) in U-mode on user_sp; returns a0 of the exit ecall. */
u64 run_user(void (*fn)(u64), u64 arg, u64 user_sp);
void user_exit(u64 code) __attribute__((noreturn));
extern char user_return[];

/* ---- misc ---- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
static inline void fence_i(void) { asm volatile("fence.i" ::: "memory"); }

#endif
