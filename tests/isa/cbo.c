/* Zicbom/Zicboz test: cbo.zero clears exactly the aligned 64-byte block
 * holding its address; cbo.clean/flush/inval leave memory as it is; outside
 * RAM each faults as a store (stval = the block address); in U-mode they
 * need senvcfg's enables. QEMU 7.2 (the oracle) predates both extensions:
 * there each cbo traps as illegal and the handler below models the spec
 * (tern offers 64-byte blocks and only RAM takes cache-block operations). */
#include "rt.h"

#define BLOCK 64
#define RAM_START 0x80000000ul
#define RAM_END   (RAM_START + (128ul << 20))
#define ENVCFG_CBIE_INVAL (3ul << 4)
#define ENVCFG_CBCFE (1ul << 6)
#define ENVCFG_CBZE  (1ul << 7)

static u64 model_senvcfg;      /* what the test set senvcfg to */

static int model_cbo(struct trap_frame *f)
{
    if (f->scause != 2)
        return 0;
    u32 insn = *(volatile u32 *)f->sepc;
    if ((insn & 0x000fffff) >> 15 == 0 || (insn & 0x7fff) != 0x200f)
        return 0;                               /* not MISC-MEM f3=2 rd=0 */
    unsigned fn = insn >> 20, rs1 = (insn >> 15) & 31;
    u64 va = rs1 ? f->x[rs1] : 0, base = va & ~(u64)(BLOCK - 1);
    u64 need = fn == 4 ? ENVCFG_CBZE : fn == 0 ? ENVCFG_CBIE_INVAL : ENVCFG_CBCFE;
    int user = !(f->sstatus & (1ul << 8));      /* SPP = U */
    if (fn > 4 || fn == 3 || (user && !(model_senvcfg & need)))
        return 0;                               /* stays illegal */
    if (base < RAM_START || base >= RAM_END) {
        f->scause = 7;                          /* store access fault */
        f->stval = base;
        return 0;                               /* recorded as an armed trap */
    }
    if (fn == 4)
        memset((void *)base, 0, BLOCK);
    f->sepc += 4;
    return 1;
}

#define CBO(op, p) asm volatile(".option push\n.option arch, +zicbom, +zicboz\n" \
                                op " (%0)\n.option pop" :: "r"(p) : "memory")

static uint8_t buf[512] __attribute__((aligned(64)));

static void fill(void)
{
    for (unsigned k = 0; k < sizeof buf; k++)
        buf[k] = (uint8_t)(k * 0x37 + 0x81) | 1;    /* never zero */
}

/* Print the runs of zero bytes in buf and a checksum of the rest. */
static void show(const char *what)
{
    u64 sum = 0;
    pr("%s: zero", what);
    for (unsigned k = 0; k < sizeof buf; k++) {
        if (!buf[k] && (k == 0 || buf[k - 1]))
            pr(" [%x", k);
        if (!buf[k] && (k + 1 == sizeof buf || buf[k + 1]))
            pr("-%x]", k);
        sum = sum * 31 + buf[k];
    }
    pr(" sum %lx\n", sum);
}

static void user_cbo(u64 which)
{
    uint8_t *p = buf + 0x100 + 7;
    switch (which) {
    case 0: CBO("cbo.zero", p); break;
    case 1: CBO("cbo.clean", p); break;
    case 2: CBO("cbo.flush", p); break;
    default: CBO("cbo.inval", p); break;
    }
    user_exit(0);
}

static u64 ustack[512] __attribute__((aligned(16)));

int main(void)
{
    begin();
    trap_hook = model_cbo;
    /* cbo.zero at each offset within a block, and at a block's edges */
    static const unsigned offs[] = { 0x40, 0x41, 0x47, 0x7f, 0x80, 0xbf, 0x1c0 };
    for (unsigned i = 0; i < NELEM(offs); i++) {
        fill();
        CBO("cbo.zero", buf + offs[i]);
        pr("zero @%x ", offs[i]);
        show("buf");
    }
    fill();
    CBO("cbo.clean", buf + 0x40);
    CBO("cbo.flush", buf + 0x80);
    CBO("cbo.inval", buf + 0xc5);
    show("clean/flush/inval");

    /* outside RAM: store access faults on the block address */
    static const char *const names[] = { "cbo.zero", "cbo.clean", "cbo.flush", "cbo.inval" };
    for (unsigned i = 0; i < 4; i++) {
        uint8_t *p = (uint8_t *)0x3010;
        trap_arm(1, 4);
        switch (i) {
        case 0: CBO("cbo.zero", p); break;
        case 1: CBO("cbo.clean", p); break;
        case 2: CBO("cbo.flush", p); break;
        default: CBO("cbo.inval", p); break;
        }
        trap_disarm();
        if (trap_count)
            pr("%s outside RAM: scause=%lx stval=%lx\n", names[i], trap_cause, trap_tval);
        else
            pr("%s outside RAM: no trap\n", names[i]);
    }

    /* U-mode: illegal until senvcfg enables each kind */
    static const u64 envs[] = { 0, ENVCFG_CBZE, ENVCFG_CBCFE, ENVCFG_CBIE_INVAL,
                                ENVCFG_CBZE | ENVCFG_CBCFE | ENVCFG_CBIE_INVAL };
    for (unsigned e = 0; e < NELEM(envs); e++) {
        csr_write(senvcfg, envs[e]);
        model_senvcfg = envs[e];
        for (u64 w = 0; w < 4; w++) {
            fill();
            trap_arm(1, 4);
            run_user(user_cbo, w, (u64)&ustack[512]);
            trap_disarm();
            pr("U senvcfg=%lx %s: %s", envs[e], names[w], trap_count ? "trap" : "ran");
            if (trap_count)
                pr(" scause=%lx", trap_cause);
            show("");
        }
    }
    csr_write(senvcfg, 0);
    trap_hook = 0;
    end();
    return 0;
}
