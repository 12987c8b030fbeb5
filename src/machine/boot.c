/* Kernel and initrd loading. Input files are untrusted: headers are checked
 * and every offset is bounded, so a truncated image is refused up front. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "machine/boot.h"
#include "machine/virt_map.h"

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

#define RISCV_IMAGE_MAGIC2 0x05435352u   /* "RSC\x05" at offset 56 */

/* For an EFI-stub Image, the PE section table says how long the file must
 * be; a shorter file is truncated. Returns 0 or -1 with a message. */
static int check_pe(const uint8_t *img, size_t len, char *err, size_t errlen)
{
	uint32_t pe = rd32(img + 0x3c);
	if (pe > len || len - pe < 24) {
		snprintf(err, errlen, "kernel image is truncated (PE header missing at offset %u, file is %zu bytes)", pe, len);
		return -1;
	}
	if (memcmp(img + pe, "PE\0\0", 4) != 0) {
		snprintf(err, errlen, "kernel image has an MZ header but no PE signature");
		return -1;
	}
	unsigned nsec = rd16(img + pe + 6), optsz = rd16(img + pe + 20);
	uint64_t sec = (uint64_t)pe + 24 + optsz;
	if (sec + 40ull * nsec > len) {
		snprintf(err, errlen, "kernel image is truncated (PE section table beyond end of file)");
		return -1;
	}
	uint64_t need = 0;
	for (unsigned i = 0; i < nsec; i++) {
		const uint8_t *s = img + sec + 40ull * i;
		uint64_t end = (uint64_t)rd32(s + 20) + rd32(s + 16);   /* PointerToRawData + SizeOfRawData */
		if (end > need)
			need = end;
	}
	if (need > len) {
		snprintf(err, errlen, "kernel image is truncated (%zu bytes, its header says at least %llu)",
			 len, (unsigned long long)need);
		return -1;
	}
	return 0;
}

int boot_check_kernel(const uint8_t *img, size_t len, uint64_t *load_off,
		      uint64_t *footprint, char *err, size_t errlen)
{
	if (len < 4) {
		snprintf(err, errlen, "kernel image is too small (%zu bytes)", len);
		return -1;
	}
	*load_off = VIRT_KERNEL_OFFSET;
	*footprint = len;
	if (len >= 2 && img[0] == 'M' && img[1] == 'Z' && len < 64) {
		snprintf(err, errlen, "kernel image is truncated (%zu bytes, shorter than its header)", len);
		return -1;
	}
	if (len >= 64 && (rd32(img + 56) == RISCV_IMAGE_MAGIC2 || memcmp(img + 48, "RISCV\0\0\0", 8) == 0)) {
		uint64_t text_offset = rd64(img + 8), image_size = rd64(img + 16);
		if (text_offset & 0xfff || text_offset > (1ull << 30)) {
			snprintf(err, errlen, "kernel image header has a bad text_offset 0x%llx",
				 (unsigned long long)text_offset);
			return -1;
		}
		if (image_size < len || image_size > (1ull << 34)) {
			if (image_size != 0) {
				snprintf(err, errlen, "kernel image header has a bad image_size %llu",
					 (unsigned long long)image_size);
				return -1;
			}
		} else {
			*footprint = image_size;
		}
		if (text_offset)
			*load_off = text_offset;
		if (img[0] == 'M' && img[1] == 'Z' && check_pe(img, len, err, errlen))
			return -1;
	} else if (len >= 4 && memcmp(img, "\177ELF", 4) == 0) {
		snprintf(err, errlen, "ELF kernels are not supported: give the flat Image (objcopy -O binary)");
		return -1;
	}
	return 0;
}

/* Read a whole file of at most max bytes; returns its size or -1. The size
 * is checked before reading, so a huge file is refused at once. */
static int64_t read_file(const char *what, const char *path, uint64_t max, uint8_t **out,
			 char *err, size_t errlen)
{
	/* O_NONBLOCK: opening a FIFO must not wait for a writer. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s '%s': %s", what, path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s '%s' is not a regular file", what, path);
		close(fd);
		return -1;
	}
	if ((uint64_t)st.st_size > max) {
		snprintf(err, errlen, "%s '%s' (%llu MiB) does not fit in the %llu MiB of RAM left for it; "
			 "give more --memory", what, path, (unsigned long long)(st.st_size >> 20),
			 (unsigned long long)(max >> 20));
		close(fd);
		return -1;
	}
	uint8_t *buf = malloc(st.st_size ? st.st_size : 1);
	if (!buf) {
		snprintf(err, errlen, "out of memory reading %s '%s'", what, path);
		close(fd);
		return -1;
	}
	off_t done = 0;
	while (done < st.st_size) {
		ssize_t n = read(fd, buf + done, st.st_size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "cannot read %s '%s': %s", what, path, n ? strerror(errno) : "short read");
			free(buf);
			close(fd);
			return -1;
		}
		done += n;
	}
	close(fd);
	*out = buf;
	return st.st_size;
}

int boot_load(struct vm *vm, const char *kernel, const char *initrd,
	      uint64_t fdt_max, struct boot_info *bi, char *err, size_t errlen)
{
	uint8_t *img;
	uint64_t ram_end = vm->mem.base + vm->mem.size;
	bi->fdt_addr = (ram_end - fdt_max) & ~(0x200000ull - 1);
	int64_t klen = read_file("kernel", kernel, bi->fdt_addr - vm->mem.base, &img, err, errlen);
	if (klen < 0)
		return -1;
	uint64_t off, footprint;
	if (boot_check_kernel(img, klen, &off, &footprint, err, errlen)) {
		free(img);
		return -1;
	}
	if (off + footprint > vm->mem.size || vm->mem.base + off + footprint > bi->fdt_addr) {
		snprintf(err, errlen, "kernel (%llu KiB in memory) does not fit in %llu MiB of RAM",
			 (unsigned long long)(footprint >> 10), (unsigned long long)(vm->mem.size >> 20));
		free(img);
		return -1;
	}
	memcpy(vm->mem.host + off, img, klen);
	free(img);
	bi->entry = vm->mem.base + off;
	bi->kernel_end = vm->mem.base + off + footprint;
	bi->initrd_start = bi->initrd_end = 0;

	if (initrd) {
		uint8_t *rd;
		int64_t rlen = read_file("initrd", initrd, bi->fdt_addr - bi->kernel_end, &rd, err, errlen);
		if (rlen < 0)
			return -1;
		uint64_t start = (bi->fdt_addr - rlen) & ~0xfffull;
		if ((uint64_t)rlen >= bi->fdt_addr - vm->mem.base || start < bi->kernel_end) {
			snprintf(err, errlen, "initrd (%lld KiB) does not fit in RAM beside the kernel; give more --memory",
				 (long long)(rlen >> 10));
			free(rd);
			return -1;
		}
		memcpy(vm->mem.host + (start - vm->mem.base), rd, rlen);
		free(rd);
		bi->initrd_start = start;
		bi->initrd_end = start + rlen;
	}
	return 0;
}
