/* The 'virt' board's memory map and interrupt numbers: the same as QEMU's
 * -M virt, so the same kernel and device-tree conventions work. The
 * loader and the device tree (boot.c, fdt.c) read them too. */
#ifndef TERN_VIRT_MAP_H
#define TERN_VIRT_MAP_H

#define VIRT_SYSCON_BASE   0x00100000ull
#define VIRT_SYSCON_SIZE   0x1000ull
#define VIRT_RTC_BASE      0x00101000ull
#define VIRT_RTC_SIZE      0x1000ull
#define VIRT_PLIC_BASE     0x0c000000ull
#define VIRT_PLIC_SIZE     0x600000ull
#define VIRT_UART0_BASE    0x10000000ull
#define VIRT_UART0_SIZE    0x100ull
#define VIRT_VIRTIO_BASE   0x10001000ull
#define VIRT_VIRTIO_STRIDE 0x1000ull
#define VIRT_VIRTIO_COUNT  8
#define VIRT_RAM_BASE      0x80000000ull
/* The power button (virtio-input) sits in a slot of its own after the eight
 * QEMU has, so it never takes one from disks or NICs: 0x10009000, irq 9. */
#define VIRT_POWER_BUTTON_SLOT VIRT_VIRTIO_COUNT

#define VIRT_UART0_IRQ     10
#define VIRT_RTC_IRQ       11
#define VIRT_VIRTIO_IRQ    1   /* slot n uses irq 1+n */
#define VIRT_PLIC_NDEV     95  /* sources 1..95 */

#define VIRT_KERNEL_OFFSET 0x200000ull
#endif
