/* S-mode trap entry: spill all GPRs and sepc/scause/stval/sstatus into one
 * static frame, call trap_handler(frame) on a private stack, reload, sret.
 * Also run_user(): drop to U-mode and come back on the exit ecall. */
#include "frame.h"

    .text
    .balign 4
    .globl trap_entry
trap_entry:
    csrw    sscratch, t0
    la      t0, trap_frame
    sd      x1,   1*8(t0)
    sd      x2,   2*8(t0)
    sd      x3,   3*8(t0)
    sd      x4,   4*8(t0)
    sd      x6,   6*8(t0)
    sd      x7,   7*8(t0)
    sd      x8,   8*8(t0)
    sd      x9,   9*8(t0)
    sd      x10, 10*8(t0)
    sd      x11, 11*8(t0)
    sd      x12, 12*8(t0)
    sd      x13, 13*8(t0)
    sd      x14, 14*8(t0)
    sd      x15, 15*8(t0)
    sd      x16, 16*8(t0)
    sd      x17, 17*8(t0)
    sd      x18, 18*8(t0)
    sd      x19, 19*8(t0)
    sd      x20, 20*8(t0)
    sd      x21, 21*8(t0)
    sd      x22, 22*8(t0)
    sd      x23, 23*8(t0)
    sd      x24, 24*8(t0)
    sd      x25, 25*8(t0)
    sd      x26, 26*8(t0)
    sd      x27, 27*8(t0)
    sd      x28, 28*8(t0)
    sd      x29, 29*8(t0)
    sd      x30, 30*8(t0)
    sd      x31, 31*8(t0)
    csrr    t1, sscratch
    sd      t1,  5*8(t0)
    csrr    t1, sepc
    sd      t1, FRAME_SEPC(t0)
    csrr    t1, scause
    sd      t1, FRAME_SCAUSE(t0)
    csrr    t1, stval
    sd      t1, FRAME_STVAL(t0)
    csrr    t1, sstatus
    sd      t1, FRAME_SSTATUS(t0)

    la      sp, trap_stack_top
    mv      a0, t0
    call    trap_handler

    la      t0, trap_frame
    ld      t1, FRAME_SEPC(t0)
    csrw    sepc, t1
    ld      t1, FRAME_SSTATUS(t0)
    csrw    sstatus, t1
    ld      x1,   1*8(t0)
    ld      x2,   2*8(t0)
    ld      x3,   3*8(t0)
    ld      x4,   4*8(t0)
    ld      x6,   6*8(t0)
    ld      x7,   7*8(t0)
    ld      x8,   8*8(t0)
    ld      x9,   9*8(t0)
    ld      x10, 10*8(t0)
    ld      x11, 11*8(t0)
    ld      x12, 12*8(t0)
    ld      x13, 13*8(t0)
    ld      x14, 14*8(t0)
    ld      x15, 15*8(t0)
    ld      x16, 16*8(t0)
    ld      x17, 17*8(t0)
    ld      x18, 18*8(t0)
    ld      x19, 19*8(t0)
    ld      x20, 20*8(t0)
    ld      x21, 21*8(t0)
    ld      x22, 22*8(t0)
    ld      x23, 23*8(t0)
    ld      x24, 24*8(t0)
    ld      x25, 25*8(t0)
    ld      x26, 26*8(t0)
    ld      x27, 27*8(t0)
    ld      x28, 28*8(t0)
    ld      x29, 29*8(t0)
    ld      x30, 30*8(t0)
    ld      x31, 31*8(t0)
    ld      x5,   5*8(t0)
    sret

/* run_user(fn, arg, user_sp): run fn(arg) in U-mode on user_sp. fn must end
 * with an ecall with a7 = USER_EXIT_ECALL; the trap handler then resumes at
 * user_return in S-mode. Returns the a0 value passed to that ecall. */
    .globl run_user
run_user:
    la      t0, user_save
    sd      ra,   0*8(t0)
    sd      sp,   1*8(t0)
    sd      s0,   2*8(t0)
    sd      s1,   3*8(t0)
    sd      s2,   4*8(t0)
    sd      s3,   5*8(t0)
    sd      s4,   6*8(t0)
    sd      s5,   7*8(t0)
    sd      s6,   8*8(t0)
    sd      s7,   9*8(t0)
    sd      s8,  10*8(t0)
    sd      s9,  11*8(t0)
    sd      s10, 12*8(t0)
    sd      s11, 13*8(t0)
    sd      gp,  14*8(t0)
    sd      tp,  15*8(t0)
    csrw    sepc, a0
    li      t1, 0x100               /* SPP = 0 -> U-mode */
    csrc    sstatus, t1
    mv      sp, a2
    mv      a0, a1
    la      ra, 1f
    sret
1:  /* fn returned without ecall: force the exit ecall */
    li      a7, USER_EXIT_ECALL
    ecall

    .globl user_return
user_return:
    la      t0, user_save
    ld      ra,   0*8(t0)
    ld      sp,   1*8(t0)
    ld      s0,   2*8(t0)
    ld      s1,   3*8(t0)
    ld      s2,   4*8(t0)
    ld      s3,   5*8(t0)
    ld      s4,   6*8(t0)
    ld      s5,   7*8(t0)
    ld      s6,   8*8(t0)
    ld      s7,   9*8(t0)
    ld      s8,  10*8(t0)
    ld      s9,  11*8(t0)
    ld      s10, 12*8(t0)
    ld      s11, 13*8(t0)
    ld      gp,  14*8(t0)
    ld      tp,  15*8(t0)
    ret

    .section .bss
    .balign 16
    .globl trap_frame
trap_frame:
    .space  FRAME_SIZE
user_save:
    .space  16*8
    .space  16384
trap_stack_top:
