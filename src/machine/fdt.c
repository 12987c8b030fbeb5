/* Builds the flattened device tree the guest boots with: CPUs with a
 * truthful ISA description, memory, /chosen, PLIC, UART, RTC, syscon. */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <libfdt.h>
#include "machine/fdt.h"
#include "machine/virt_map.h"
#include "virtio/mmio.h"

enum { PH_PLIC = 1, PH_SYSCON = 2, PH_CPU_INTC = 16 };

static const char *const isa_extensions[] = {
	"i", "m", "a", "f", "d", "c", "zicbom", "zicboz", "zicntr", "zicond", "zicsr",
	"zifencei", "zihintpause", "zba", "zbb", "zbc", "zbs", "sstc",
};

/* "a\0b\0c\0" string lists */
static int prop_strings(void *fdt, const char *name, const char *const *s, int n)
{
	char buf[256];
	size_t len = 0;
	for (int i = 0; i < n; i++) {
		size_t l = strlen(s[i]) + 1;
		if (len + l > sizeof(buf))
			return -FDT_ERR_NOSPACE;
		memcpy(buf + len, s[i], l);
		len += l;
	}
	return fdt_property(fdt, name, buf, (int)len);
}

static int prop_reg(void *fdt, uint64_t base, uint64_t size)
{
	fdt64_t reg[2] = { cpu_to_fdt64(base), cpu_to_fdt64(size) };
	return fdt_property(fdt, "reg", reg, sizeof(reg));
}

static int build(const struct vm *vm, const struct boot_info *bi, const char *bootargs, void *fdt)
{
	char name[64];
	int e = 0;
#define T(x) do { if ((e = (x)) < 0) return e; } while (0)
	T(fdt_create(fdt, FDT_MAX_SIZE));
	T(fdt_finish_reservemap(fdt));
	T(fdt_begin_node(fdt, ""));
	T(fdt_property_u32(fdt, "#address-cells", 2));
	T(fdt_property_u32(fdt, "#size-cells", 2));
	T(fdt_property_string(fdt, "compatible", "riscv-virtio"));
	T(fdt_property_string(fdt, "model", "tern,virt"));

	T(fdt_begin_node(fdt, "chosen"));
	T(fdt_property_string(fdt, "bootargs", bootargs ? bootargs : ""));
	snprintf(name, sizeof(name), "/soc/serial@%llx", (unsigned long long)VIRT_UART0_BASE);
	T(fdt_property_string(fdt, "stdout-path", name));
	if (bi->initrd_end) {
		T(fdt_property_u64(fdt, "linux,initrd-start", bi->initrd_start));
		T(fdt_property_u64(fdt, "linux,initrd-end", bi->initrd_end));
	}
	uint8_t seed[64];
	if (getrandom(seed, sizeof(seed), 0) == (ssize_t)sizeof(seed))
		T(fdt_property(fdt, "rng-seed", seed, sizeof(seed)));
	T(fdt_end_node(fdt));

	snprintf(name, sizeof(name), "memory@%llx", (unsigned long long)vm->mem.base);
	T(fdt_begin_node(fdt, name));
	T(fdt_property_string(fdt, "device_type", "memory"));
	T(prop_reg(fdt, vm->mem.base, vm->mem.size));
	T(fdt_end_node(fdt));

	T(fdt_begin_node(fdt, "cpus"));
	T(fdt_property_u32(fdt, "#address-cells", 1));
	T(fdt_property_u32(fdt, "#size-cells", 0));
	T(fdt_property_u32(fdt, "timebase-frequency", (uint32_t)TIMEBASE_HZ));
	for (int i = 0; i < vm->cpus.nharts; i++) {
		snprintf(name, sizeof(name), "cpu@%d", i);
		T(fdt_begin_node(fdt, name));
		T(fdt_property_string(fdt, "device_type", "cpu"));
		T(fdt_property_u32(fdt, "reg", i));
		T(fdt_property_string(fdt, "status", "okay"));
		T(fdt_property_string(fdt, "compatible", "riscv"));
		T(fdt_property_string(fdt, "riscv,isa", TERN_ISA_STRING));
		T(fdt_property_string(fdt, "riscv,isa-base", "rv64i"));
		T(prop_strings(fdt, "riscv,isa-extensions", isa_extensions,
			       (int)(sizeof(isa_extensions) / sizeof(isa_extensions[0]))));
		T(fdt_property_u32(fdt, "riscv,cbom-block-size", CBO_BLOCK_SIZE));
		T(fdt_property_u32(fdt, "riscv,cboz-block-size", CBO_BLOCK_SIZE));
		T(fdt_property_string(fdt, "mmu-type", "riscv,sv48"));
		T(fdt_begin_node(fdt, "interrupt-controller"));
		T(fdt_property_u32(fdt, "#interrupt-cells", 1));
		T(fdt_property(fdt, "interrupt-controller", NULL, 0));
		T(fdt_property_string(fdt, "compatible", "riscv,cpu-intc"));
		T(fdt_property_u32(fdt, "phandle", PH_CPU_INTC + i));
		T(fdt_end_node(fdt));
		T(fdt_end_node(fdt));
	}
	T(fdt_end_node(fdt));

	T(fdt_begin_node(fdt, "soc"));
	T(fdt_property_u32(fdt, "#address-cells", 2));
	T(fdt_property_u32(fdt, "#size-cells", 2));
	T(fdt_property_string(fdt, "compatible", "simple-bus"));
	T(fdt_property(fdt, "ranges", NULL, 0));

	snprintf(name, sizeof(name), "plic@%llx", (unsigned long long)VIRT_PLIC_BASE);
	T(fdt_begin_node(fdt, name));
	static const char *const plic_compat[] = { "sifive,plic-1.0.0", "riscv,plic0" };
	T(prop_strings(fdt, "compatible", plic_compat, 2));
	T(prop_reg(fdt, VIRT_PLIC_BASE, VIRT_PLIC_SIZE));
	T(fdt_property_u32(fdt, "#interrupt-cells", 1));
	T(fdt_property_u32(fdt, "#address-cells", 0));
	T(fdt_property(fdt, "interrupt-controller", NULL, 0));
	T(fdt_property_u32(fdt, "riscv,ndev", VIRT_PLIC_NDEV));
	fdt32_t ie[VM_MAX_HARTS * 2];
	for (int i = 0; i < vm->cpus.nharts; i++) {   /* context i = hart i, S-mode */
		ie[2 * i] = cpu_to_fdt32(PH_CPU_INTC + i);
		ie[2 * i + 1] = cpu_to_fdt32(IRQ_SEI);
	}
	T(fdt_property(fdt, "interrupts-extended", ie, vm->cpus.nharts * 2 * sizeof(fdt32_t)));
	T(fdt_property_u32(fdt, "phandle", PH_PLIC));
	T(fdt_end_node(fdt));

	snprintf(name, sizeof(name), "serial@%llx", (unsigned long long)VIRT_UART0_BASE);
	T(fdt_begin_node(fdt, name));
	T(fdt_property_string(fdt, "compatible", "ns16550a"));
	T(prop_reg(fdt, VIRT_UART0_BASE, VIRT_UART0_SIZE));
	T(fdt_property_u32(fdt, "clock-frequency", 3686400));
	T(fdt_property_u32(fdt, "interrupts", VIRT_UART0_IRQ));
	T(fdt_property_u32(fdt, "interrupt-parent", PH_PLIC));
	T(fdt_end_node(fdt));

	snprintf(name, sizeof(name), "rtc@%llx", (unsigned long long)VIRT_RTC_BASE);
	T(fdt_begin_node(fdt, name));
	T(fdt_property_string(fdt, "compatible", "google,goldfish-rtc"));
	T(prop_reg(fdt, VIRT_RTC_BASE, VIRT_RTC_SIZE));
	T(fdt_property_u32(fdt, "interrupts", VIRT_RTC_IRQ));
	T(fdt_property_u32(fdt, "interrupt-parent", PH_PLIC));
	T(fdt_end_node(fdt));

	snprintf(name, sizeof(name), "test@%llx", (unsigned long long)VIRT_SYSCON_BASE);
	T(fdt_begin_node(fdt, name));
	static const char *const test_compat[] = { "sifive,test1", "sifive,test0", "syscon" };
	T(prop_strings(fdt, "compatible", test_compat, 3));
	T(prop_reg(fdt, VIRT_SYSCON_BASE, VIRT_SYSCON_SIZE));
	T(fdt_property_u32(fdt, "phandle", PH_SYSCON));
	T(fdt_end_node(fdt));
	/* One node per attached virtio-mmio device (Linux skips empty slots
	 * anyway, so listing only the used ones keeps the tree honest). */
	for (int i = 0; i < vm->nmmio; i++) {
		const struct mmio_region *r = &vm->mmio[i];
		if (r->ops != &virtio_mmio_ops)
			continue;
		unsigned slot = (unsigned)((r->base - VIRT_VIRTIO_BASE) / VIRT_VIRTIO_STRIDE);
		snprintf(name, sizeof(name), "virtio_mmio@%llx", (unsigned long long)r->base);
		T(fdt_begin_node(fdt, name));
		T(fdt_property_string(fdt, "compatible", "virtio,mmio"));
		T(prop_reg(fdt, r->base, r->size));
		T(fdt_property_u32(fdt, "interrupts", VIRT_VIRTIO_IRQ + slot));
		T(fdt_property_u32(fdt, "interrupt-parent", PH_PLIC));
		T(fdt_end_node(fdt));
	}
	T(fdt_end_node(fdt));   /* soc */

	T(fdt_begin_node(fdt, "poweroff"));
	T(fdt_property_string(fdt, "compatible", "syscon-poweroff"));
	T(fdt_property_u32(fdt, "regmap", PH_SYSCON));
	T(fdt_property_u32(fdt, "offset", 0));
	T(fdt_property_u32(fdt, "value", 0x5555));
	T(fdt_end_node(fdt));
	T(fdt_begin_node(fdt, "reboot"));
	T(fdt_property_string(fdt, "compatible", "syscon-reboot"));
	T(fdt_property_u32(fdt, "regmap", PH_SYSCON));
	T(fdt_property_u32(fdt, "offset", 0));
	T(fdt_property_u32(fdt, "value", 0x7777));
	T(fdt_end_node(fdt));

	T(fdt_end_node(fdt));   /* root */
	T(fdt_finish(fdt));
#undef T
	return 0;
}

int fdt_build(const struct vm *vm, const struct boot_info *bi, const char *bootargs,
	      void *buf, char *err, size_t errlen)
{
	/* The RISC-V kernel keeps COMMAND_LINE_SIZE (1024) bytes of it and
	 * silently cuts the rest; a longer one would also not fit the tree. */
	size_t alen = bootargs ? strlen(bootargs) : 0;
	if (alen > FDT_MAX_BOOTARGS) {
		snprintf(err, errlen, "the kernel command line (--append) is %zu bytes long; the limit "
			 "is %d (the RISC-V kernel's COMMAND_LINE_SIZE, with its NUL)", alen,
			 FDT_MAX_BOOTARGS);
		return -1;
	}
	int e = build(vm, bi, bootargs, buf);
	if (e < 0) {
		snprintf(err, errlen, "cannot build the device tree: %s", fdt_strerror(e));
		return -1;
	}
	return 0;
}
