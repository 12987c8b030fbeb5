/* The interpreter's entry point (cpu/exec.c), which also enters compiled
 * blocks (cpu/jit.h); the vCPU loop (core/vcpu.c) calls it. */
#ifndef TERN_EXEC_H
#define TERN_EXEC_H
#include <stdint.h>

struct hart;

/* Execute up to n instructions, or until a wfi, an instruction that ends the
 * slice (sret, sfence.vma, ...) or one the VMM must handle: an ecall from
 * S-mode stops with h->exit = HART_EXIT_SBI and pc past the ecall, its
 * arguments in a0-a7 (the board answers it: machine/sbi.c). Returns the
 * count. */
uint64_t hart_run(struct hart *h, uint64_t n);
#endif
