/* The vCPU loop: runs a range of a VM's harts round-robin on the calling
 * thread until something needs the VMM, and returns why, as KVM_RUN does.
 * The board (machine/virt.c) handles the exit and calls vcpu_run again. A
 * VM has one vCPU for all its harts, or one per hart, each on its own host
 * thread (MTTCG-style); the first is the primary, which serves resets and
 * the board's periodic work. */
#ifndef TERN_VCPU_H
#define TERN_VCPU_H
#include <stdint.h>
#include <stdbool.h>
#include <stdatomic.h>

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

/* One vCPU thread's loop state. */
struct vcpu {
	struct vm *vm;
	int first, count;       /* the harts it runs: first .. first+count-1 */
	bool primary;           /* it serves resets and exits (hart 0's) */
	unsigned round_kicks;   /* vm->kicks when the round began: a kick since
				 * then ends vcpu_idle at once */
	int next;               /* the hart whose turn comes next in this round */
	int runnable;           /* harts that ran so far in this round */
	int64_t deadline_ns;    /* earliest timer among the idle harts of the round */
	int64_t throttle_t;     /* when the last throttled round ended */
	/* The exit, valid after vcpu_run returned: */
	struct hart *hart;      /* VCPU_EXIT_SBI: the calling hart */
	int64_t wake_ns;        /* VCPU_EXIT_WFI: host-monotonic time of the
				 * earliest timer deadline (INT64_MAX: none) */
};

/* Set up v to run harts first..first+count-1. The primary one must
 * include hart 0. */
void vcpu_init(struct vcpu *v, struct vm *vm, int first, int count, bool primary);
/* Run the harts until an exit; see enum vcpu_exit. The VMM's requests
 * (reset, exit, pause) are looked at between rounds: a vCPU that is not
 * the primary answers each of them with VCPU_EXIT_PAUSE, and parks. */
enum vcpu_exit vcpu_run(struct vcpu *v);
/* After VCPU_EXIT_WFI: sleep until v->wake_ns or a kick (vm_kick), at most
 * a second. */
void vcpu_idle(struct vcpu *v);
#endif
