/* Runtime for the ISA tests: UART console, a tiny printf, SBI calls and the
 * C side of the S-mode trap handler. */
#include "rt.h"

u64 boot_hartid, boot_fdt;

#define UART ((volatile uint8_t *)0x10000000ul)

void putc_(char c)
{
    while (!(UART[5] & 0x20))
        ;
    UART[0] = (uint8_t)c;
}

void puts_(const char *s)
{
    while (*s)
        putc_(*s++);
}

static void put_num(u64 v, unsigned base, int width, char pad, int neg)
{
    char buf[24];
    int n = 0;
    do {
        unsigned d = (unsigned)(v % base);
        buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v);
    if (neg)
        buf[n++] = '-';
    while (n < width)
        buf[n++] = pad;
    while (n)
        putc_(buf[--n]);
}

void pr(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            putc_(*fmt);
            continue;
        }
        fmt++;
        char pad = ' ';
        int width = 0, lng = 0;
        if (*fmt == '0') {
            pad = '0';
            fmt++;
        }
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l') {
            lng = 1;
            fmt++;
        }
        switch (*fmt) {
        case 's': puts_(va_arg(ap, const char *)); break;
        case 'c': putc_((char)va_arg(ap, int)); break;
        case 'd': {
            i64 v = lng ? va_arg(ap, i64) : va_arg(ap, int);
            put_num(v < 0 ? -(u64)v : (u64)v, 10, width, pad, v < 0);
            break;
        }
        case 'u': put_num(lng ? va_arg(ap, u64) : va_arg(ap, unsigned), 10, width, pad, 0); break;
        case 'x': put_num(lng ? va_arg(ap, u64) : va_arg(ap, unsigned), 16, width, pad, 0); break;
        case '%': putc_('%'); break;
        default: putc_('?'); break;
        }
    }
    va_end(ap);
}

void pr_trap_outcome(const char *desc, u64 insn_addr)
{
    if (trap_count)
        pr("%s: scause=%lx stval=%lx epc-ok=%d\n", desc, trap_cause, trap_tval,
           trap_epc == insn_addr);
    else
        pr("%s: no trap\n", desc);
}

void begin(void) { puts_("ISA-BEGIN\n"); }
void end(void) { puts_("ISA-END\n"); }

struct sbiret sbi_call(long eid, long fid, long a0, long a1, long a2)
{
    register long r_a0 asm("a0") = a0;
    register long r_a1 asm("a1") = a1;
    register long r_a2 asm("a2") = a2;
    register long r_a6 asm("a6") = fid;
    register long r_a7 asm("a7") = eid;
    asm volatile("ecall"
                 : "+r"(r_a0), "+r"(r_a1)
                 : "r"(r_a2), "r"(r_a6), "r"(r_a7)
                 : "memory");
    return (struct sbiret){ r_a0, r_a1 };
}

void sbi_shutdown(void)
{
    sbi_call(0x53525354, 0, 0, 0, 0);   /* SRST: shutdown, no reason */
    sbi_call(0x08, 0, 0, 0, 0);         /* legacy shutdown as a fallback */
    for (;;)
        asm volatile("wfi");
}

void *memset(void *d, int c, size_t n)
{
    volatile uint8_t *p = d;
    while (n--)
        *p++ = (uint8_t)c;
    return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
    volatile uint8_t *p = d;
    const volatile uint8_t *q = s;
    while (n--)
        *p++ = *q++;
    return d;
}

/* ---- traps ---- */
volatile int  trap_armed;
volatile long trap_skip;
volatile u64  trap_count, trap_cause, trap_tval, trap_epc, trap_status;
volatile u64  irq_count, irq_cause, irq_epc;
int (*volatile trap_hook)(struct trap_frame *f);

void trap_arm(int n, long skip)
{
    trap_count = 0;
    trap_cause = trap_tval = trap_epc = trap_status = 0;
    trap_skip = skip;
    asm volatile("" ::: "memory");
    trap_armed = n;
    asm volatile("" ::: "memory");
}

void trap_disarm(void)
{
    asm volatile("" ::: "memory");
    trap_armed = 0;
}

void trap_report(const char *name)
{
    trap_disarm();
    if (trap_count)
        pr("%s: scause=%lx stval=%lx\n", name, trap_cause, trap_tval);
    else
        pr("%s: no trap\n", name);
}

void trap_report_rel(const char *name, u64 base)
{
    trap_disarm();
    if (trap_count)
        pr("%s: scause=%lx stval=base+%lx\n", name, trap_cause, trap_tval - base);
    else
        pr("%s: no trap\n", name);
}

void user_exit(u64 code)
{
    register u64 a0 asm("a0") = code;
    register u64 a7 asm("a7") = USER_EXIT_ECALL;
    asm volatile("ecall" :: "r"(a0), "r"(a7) : "memory");
    for (;;)
        ;
}

void trap_handler(struct trap_frame *f)
{
    if (trap_hook && trap_hook(f))
        return;

    if ((i64)f->scause < 0) {
        u64 code = f->scause & 63;
        irq_count++;
        irq_cause = f->scause;
        irq_epc = f->sepc;
        if (code == 1)
            csr_clear(sip, SIP_SSIP);
        csr_clear(sie, 1ul << code);
        return;
    }

    if (f->scause == 8 && f->x[17] == USER_EXIT_ECALL) {
        f->sepc = (u64)user_return;
        f->sstatus |= SSTATUS_SPP;
        return;
    }

    if (!trap_armed) {
        pr("UNEXPECTED TRAP scause=%lx stval=%lx sepc=%lx\n",
           f->scause, f->stval, f->sepc);
        sbi_shutdown();
    }
    trap_armed--;
    trap_count++;
    trap_cause = f->scause;
    trap_tval = f->stval;
    trap_epc = f->sepc;
    trap_status = f->sstatus;
    if (trap_skip == TRAP_RET_RA)
        f->sepc = f->x[1];
    else if (trap_skip > 0)
        f->sepc += (u64)trap_skip;
    else
        f->sepc += ((*(volatile uint16_t *)f->sepc & 3) == 3) ? 4 : 2;
}
