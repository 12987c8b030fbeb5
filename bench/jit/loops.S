/* loops.S: the guest side of bench/jit/jit_loops.c. Three loops, each
 * entered at a fixed offset and ending in "j ." once done:
 *   0x000 crc:  a0 = crc, a1 = buffer, a2 = its end, t6 = the table
 *   0x400 mix:  a0 = iterations, a1 = xorshift state, a2 = accumulator
 *   0x800 copy: a0 = destination, a1 = source, a2 = source end
 * (the code of tests/guest/bench/loops.c as gcc -O2 compiles it). */
    .option norvc
    .text
    .globl _start
_start:
crc:
    not a0, a0
1:  lbu a5, 0(a1)
    srliw a3, a0, 8
    addi a1, a1, 1
    xor a5, a5, a0
    andi a5, a5, 255
    slli a5, a5, 2
    add a5, a5, t6
    lw a0, 0(a5)
    xor a0, a0, a3
    sext.w a0, a0
    bne a1, a2, 1b
2:  j 2b

    .org 0x400
mix:
    li a4, 0
1:  slli a5, a1, 13
    xor a1, a1, a5
    srli a5, a1, 7
    xor a1, a1, a5
    slli a5, a1, 17
    xor a1, a1, a5
    ori a3, a4, 1
    addiw a3, a3, 7
    slli a3, a3, 32
    srli a3, a3, 32
    remu a3, a1, a3
    srli a5, a2, 3
    xor a3, a3, a5
    add a2, a2, a3
    andi a5, a2, 256
    beqz a5, 3f
    xor a2, a2, a1
3:  addi a4, a4, 1
    bne a4, a0, 1b
2:  j 2b

    .org 0x800
copy:
1:  ld a5, 0(a1)
    addi a1, a1, 8
    addi a0, a0, 8
    sd a5, -8(a0)
    bne a1, a2, 1b
2:  j 2b
