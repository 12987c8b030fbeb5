/* Entry point of every ISA test: set up stack and trap vector, zero .bss,
 * enable the FPU, run main() and power off through SBI SRST. */
    .section .text.init, "ax"
    .globl _start
_start:
    la      sp, __stack_top
    la      t0, trap_entry
    csrw    stvec, t0
    csrw    sie, zero
    csrci   sstatus, 2              /* SIE off */

    la      t0, __bss_start
    la      t1, __bss_end
1:  bgeu    t0, t1, 2f
    sd      zero, 0(t0)
    addi    t0, t0, 8
    j       1b
2:
    la      t0, boot_hartid
    sd      a0, 0(t0)
    la      t0, boot_fdt
    sd      a1, 0(t0)

    /* sstatus.FS = Initial so FP instructions and FP CSRs are usable. */
    li      t0, 0x6000
    csrc    sstatus, t0
    li      t0, 0x2000
    csrs    sstatus, t0

    call    main
    call    sbi_shutdown
3:  wfi
    j       3b

    .section .bss
    .balign 16
    .globl __stack_top
    .space  65536
__stack_top:
