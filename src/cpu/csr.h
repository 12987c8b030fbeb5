/* Control and status registers visible to S- and U-mode. */
#ifndef TERN_CSR_H
#define TERN_CSR_H
#include <stdint.h>
#include "cpu/hart.h"

enum {
	CSR_FFLAGS = 0x001, CSR_FRM = 0x002, CSR_FCSR = 0x003,
	CSR_SSTATUS = 0x100, CSR_SIE = 0x104, CSR_STVEC = 0x105,
	CSR_SCOUNTEREN = 0x106, CSR_SENVCFG = 0x10a,
	CSR_SSCRATCH = 0x140, CSR_SEPC = 0x141, CSR_SCAUSE = 0x142,
	CSR_STVAL = 0x143, CSR_SIP = 0x144, CSR_STIMECMP = 0x14d,
	CSR_SATP = 0x180,
	CSR_CYCLE = 0xc00, CSR_TIME = 0xc01, CSR_INSTRET = 0xc02,
};

/* Bits of sstatus that software can write. */
#define SSTATUS_WMASK (SSTATUS_SIE | SSTATUS_SPIE | SSTATUS_SPP | SSTATUS_FS | SSTATUS_SUM | SSTATUS_MXR)
#define SIE_MASK (MIP_SSIP | MIP_STIP | MIP_SEIP)
/* Bits of senvcfg that software can write. */
#define SENVCFG_WMASK (ENVCFG_FIOM | ENVCFG_CBIE | ENVCFG_CBCFE | ENVCFG_CBZE)

/* Read-modify-write of a CSR as csrrw/csrrs/csrrc do. write says whether
 * the instruction writes (rs1 != x0 for set/clear). Returns 0, or -1 when
 * the access is illegal. *flags gets CSR_EFFECT_* bits for the executor. */
#define CSR_EFFECT_END_BLOCK 1   /* interrupts, translation or mode changed */
int csr_access(struct hart *h, unsigned csr, int op, uint64_t src, int write,
	       uint64_t *old, int *flags);
enum { CSR_OP_RW = 1, CSR_OP_RS = 2, CSR_OP_RC = 3 };

uint64_t csr_read_sstatus(const struct hart *h);
#endif
