/* Layout of the trap frame shared by trap.S and the C runtime. */
#ifndef ISA_FRAME_H
#define ISA_FRAME_H
#define FRAME_SEPC      (32*8)
#define FRAME_SCAUSE    (33*8)
#define FRAME_STVAL     (34*8)
#define FRAME_SSTATUS   (35*8)
#define FRAME_SIZE      (36*8)
#define USER_EXIT_ECALL 0x7e57   /* a7 value of the "leave U-mode" ecall */
#endif
