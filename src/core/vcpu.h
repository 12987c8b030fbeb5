/* The vCPU loop: runs a VM's harts round-robin on the calling thread until
 * something needs the VMM, and returns why, as KVM_RUN does. The board
 * (machine/virt.c) handles the exit and calls vcpu_run again. */
#ifndef TERN_VCPU_H
#define TERN_VCPU_H
#include <stdint.h>

struct vm;
struct hart;

/* Guest instructions a hart runs before the next one takes its turn. */
#define VCPU_SLICE_INSNS 20000

/* Why vcpu_run returned. There is no MMIO exit: devices live in this
 * process, and a load or store to MMIO is dispatched on the bus
 * (vm_mmio_read/write) from the CPU's slow path, as KVM's in-kernel devices
 * are, without leaving the loop. */
enum vcpu_exit {
	VCPU_EXIT_SBI,          /* v->hart made an SBI call (ecall from S-mode) and
				 * its pc is past it: answer it, then run again */
	VCPU_EXIT_SLICE,        /* every runnable hart ran its slice: a point for
				 * the board's periodic work (as KVM_EXIT_INTR) */
	VCPU_EXIT_WFI,          /* every started hart waits in wfi: the board may
				 * poll its devices, then vcpu_idle() */
	VCPU_EXIT_PAUSE,        /* a pause is asked for: park (vm_pause_point) */
	VCPU_EXIT_RESET,        /* the host asked for a reset (vm->reset_req, now
				 * cleared) */
	VCPU_EXIT_SHUTDOWN,     /* vm->exit_req is set: poweroff, a guest reset,
				 * quit or an error */
	VCPU_EXIT_HALTED,       /* no hart is started (all stopped through SBI HSM) */
};

/* One vCPU thread's loop state. Today one vCPU runs every hart; it is the
 * unit a thread per hart will take. */
struct vcpu {
	struct vm *vm;
	int next;               /* the hart whose turn comes next in this round */
	int runnable;           /* harts that ran so far in this round */
	int64_t deadline_ns;    /* earliest timer among the idle harts of the round */
	int64_t throttle_t;     /* when the last throttled round ended */
	/* The exit, valid after vcpu_run returned: */
	struct hart *hart;      /* VCPU_EXIT_SBI: the calling hart */
	int64_t wake_ns;        /* VCPU_EXIT_WFI: host-monotonic time of the
				 * earliest timer deadline (INT64_MAX: none) */
};

void vcpu_init(struct vcpu *v, struct vm *vm);
/* Run the harts until an exit; see enum vcpu_exit. The VMM's requests
 * (reset, exit, pause) are looked at between rounds. */
enum vcpu_exit vcpu_run(struct vcpu *v);
/* After VCPU_EXIT_WFI: sleep until v->wake_ns or a kick (vm_kick), at most
 * a second. */
void vcpu_idle(struct vcpu *v);
#endif
