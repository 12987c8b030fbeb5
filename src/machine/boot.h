/* Loading the kernel and initrd into guest RAM. */
#ifndef TERN_BOOT_H
#define TERN_BOOT_H
#include <stdint.h>
#include <stddef.h>
#include "core/vm.h"

struct boot_info {
	uint64_t entry;                  /* where hart 0 starts */
	uint64_t kernel_end;             /* first byte after the kernel's footprint */
	uint64_t initrd_start, initrd_end;   /* 0,0 when there is none */
	uint64_t fdt_addr;
};

/* Validate a kernel image held in memory (a RISC-V Linux Image, optionally
 * with an EFI/PE header, or a raw binary). On success returns 0 and the
 * load offset from RAM base and memory footprint; on failure a message. */
int boot_check_kernel(const uint8_t *img, size_t len, uint64_t *load_off,
		      uint64_t *footprint, char *err, size_t errlen);
/* Load kernel (and initrd, if path non-NULL) and choose the FDT address.
 * fdt_max is the space to reserve at the top of RAM for the device tree. */
int boot_load(struct vm *vm, const char *kernel, const char *initrd,
	      uint64_t fdt_max, struct boot_info *bi, char *err, size_t errlen);
#endif
