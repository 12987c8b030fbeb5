/* The F and D extensions' arithmetic, conversions and compares. */
#ifndef TERN_FPU_H
#define TERN_FPU_H
#include <stdint.h>
#include "cpu/hart.h"

/* F/D execution (fpu.c). insn is an OP-FP, FMADD, FMSUB, FNMSUB or FNMADD
 * instruction; the caller has checked sstatus.FS != Off and marks FS dirty
 * after success. Returns 0, or -1 for an illegal instruction. */
int fpu_exec(struct hart *h, uint32_t insn);
#endif
