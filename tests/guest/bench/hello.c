/* hello.c: the tiny static program that the proc workload fork+execs.
 * No libc: it writes one line with raw syscalls and exits, so its exec
 * cost is the kernel's (and the VMM's), not libc start-up. */
#define SYS_write 64
#define SYS_exit  93

static long sys3(long n, long a, long b, long c)
{
    register long a0 __asm__("a0") = a;
    register long a1 __asm__("a1") = b;
    register long a2 __asm__("a2") = c;
    register long a7 __asm__("a7") = n;
    __asm__ volatile("ecall" : "+r"(a0) : "r"(a1), "r"(a2), "r"(a7) : "memory");
    return a0;
}

void _start(void)
{
    static const char msg[] = "hello\n";
    sys3(SYS_write, 1, (long)msg, sizeof(msg) - 1);
    for (;;)
        sys3(SYS_exit, 0, 0, 0);
}
