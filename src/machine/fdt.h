/* Device-tree generation for the 'virt' board (libfdt). */
#ifndef TERN_FDT_H
#define TERN_FDT_H
#include <stddef.h>
#include "core/vm.h"
#include "machine/boot.h"

#define FDT_MAX_SIZE (64 * 1024)
#define FDT_MAX_BOOTARGS 1023       /* bytes of --append */

/* The ISA string advertised in the device tree and /proc/cpuinfo. */
#define TERN_ISA_STRING "rv64imafdc_zicbom_zicboz_zicntr_zicond_zicsr_zifencei_zihintpause" \
	"_zba_zbb_zbc_zbs_sstc"

/* Build the tree into buf (FDT_MAX_SIZE bytes). Returns 0 or -1 + message. */
int fdt_build(const struct vm *vm, const struct boot_info *bi, const char *bootargs,
	      void *buf, char *err, size_t errlen);
#endif
