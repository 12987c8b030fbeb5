/* The SBI (v2.0) that tern provides to S-mode, as KVM does for RISC-V. */
#ifndef TERN_SBI_H
#define TERN_SBI_H
#include "cpu/hart.h"
struct chr;
struct vm;
/* Answer an SBI call, the board's part of the vCPU loop's VCPU_EXIT_SBI
 * (core/vcpu.h): extension in a7, function in a6, arguments in a0..a5;
 * results in a0 (error) and a1 (value). The hart's pc is already past the
 * ecall. vm is the hart's machine; the debug console writes to console (may be NULL). */
void sbi_ecall(struct vm *vm, struct hart *h, struct chr *console);
#endif
