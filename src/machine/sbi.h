/* The SBI (v2.0) that tern provides to S-mode, as KVM does for RISC-V. */
#ifndef TERN_SBI_H
#define TERN_SBI_H
#include "cpu/hart.h"
/* Handle an ecall from S-mode: extension in a7, function in a6, arguments
 * in a0..a5; results in a0 (error) and a1 (value). */
void sbi_ecall(struct hart *h);
#endif
