/* `tern run`: parse options, build the 'virt' machine, run it, and map the
 * way it ended to an exit status. Each step is one function below. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include "cli/cli.h"
#include "core/vm.h"
#include "mem/guest_ram.h"
#include "cli/run_ctl.h"
#include "cli/run_incoming.h"
#include "cli/run_opts.h"
#include "migration/migration.h"
#include "migration/mig_uri.h"

#define RUN_EXIT_KILLED 3       /* quit by QMP, the console or a signal */

/* One `tern run` from its options to its end. */
struct run_session {
	struct run_opts o;
	struct vm *vm;
	struct snap_image img;           /* --incoming file: */
	struct mig_incoming *mig_in;     /* --incoming from a live migration */
	bool migrated_in;
	int64_t restore_start;           /* ms, for the restore message */
	json_t *in_cfg;                  /* the incoming configuration cfg points into */
	char err[512];
};

/* How a finished VM ended, kept past its teardown. */
struct run_outcome {
	int why;                         /* enum vm_exit */
	char msg[sizeof(((struct vm *)0)->exit_msg)];
	bool migrated;                   /* the guest runs at a destination now */
};

static void *announce_thread(void *p)
{
	for (int i = 0; i < 5; i++) {
		struct timespec ts = { 0, i ? 100000000 : 50000000 };
		nanosleep(&ts, NULL);
		virt_announce(p);
	}
	return NULL;
}

/* Live migration: the configuration arrives first, then RAM until the
 * source switches over. 0, or -1 with s->err. */
static int run_receive_live(struct run_session *s)
{
	struct run_opts *o = &s->o;
	struct virt_config user = o->cfg;
	s->mig_in = mig_incoming_open_tls(o->incoming, o->migrate_key, o->migrate_tls, &o->cfg,
					  s->err, sizeof(s->err));
	if (s->mig_in)
		mig_incoming_set_storage(s->mig_in, o->base_dir, user.ndisks);
	if (!s->mig_in || run_incoming_overrides(&user, &o->cfg, s->err, sizeof(s->err)) ||
	    mig_incoming_receive_ram(s->mig_in, s->err, sizeof(s->err))) {
		mig_incoming_close(s->mig_in);
		s->mig_in = NULL;
		return -1;
	}
	s->migrated_in = true;
	s->restore_start = run_incoming_clock_ms();
	return 0;
}

/* The machine's configuration from --incoming (a snapshot or a live
 * migration), then the kernel check. RUN_GO, or the exit status. */
static int run_take_config(struct run_session *s)
{
	struct run_opts *o = &s->o;
	s->restore_start = run_incoming_clock_ms();
	if (o->incoming && mig_uri_is_stream(o->incoming)) {
		if (run_receive_live(s)) {
			fprintf(stderr, "tern: %s\n", s->err);
			return 1;
		}
	} else if (o->incoming && run_incoming_config(&s->img, o->incoming, &o->cfg, s->err, sizeof(s->err))) {
		snap_close(&s->img);
		fprintf(stderr, "tern: %s\n", s->err);
		return 1;
	}
	if (!o->cfg.kernel) {
		fprintf(stderr, "tern: no kernel given: use --kernel FILE (see 'tern run --help')\n");
		return 2;
	}
	o->cfg.mem_merge = o->mem_merge;  /* a host choice: also after --incoming */
	o->cfg.vcpu_single = o->vcpu_single;
	return RUN_GO;
}

/* Build the board with its devices, load the incoming state into it, and
 * open the control socket. 0, or -1 with s->err and nothing left open. */
static int run_build(struct run_session *s)
{
	struct run_opts *o = &s->o;
	if (virt_create(s->vm, &o->cfg, s->err, sizeof(s->err)) ||
	    (s->mig_in && mig_incoming_finish(s->mig_in, s->vm, s->err, sizeof(s->err))) ||
	    (o->incoming && !s->mig_in && snap_load(&s->img, s->vm, s->err, sizeof(s->err))) ||
	    (o->incoming && virt_start_console(s->vm, s->err, sizeof(s->err))) ||
	    run_ctl_start(&o->ctl, s->vm, s->err, sizeof(s->err))) {
		snap_stop_verify(&s->img);
		virt_destroy(s->vm);
		free(s->vm);
		s->vm = NULL;
		snap_close(&s->img);
		mig_incoming_close(s->mig_in);
		return -1;
	}
	s->vm->migrate_key = o->migrate_key;
	s->vm->migrate_tls = o->migrate_tls;
	return 0;
}

/* After an incoming VM is built: advise KSM, say how long it took, and keep
 * what the running guest still needs. */
static void run_settle_incoming(struct run_session *s)
{
	struct vm *vm = s->vm;
	const char *incoming = s->o.incoming;
	if (incoming) {                 /* restored RAM is a new mapping */
		guest_ram_merge_advise(&vm->mem, 0, vm->mem.size);
		fprintf(stderr, "tern: %s %s in %lld ms%s\n",
			s->mig_in ? "switched over from" : "restored",
			s->mig_in ? incoming : incoming + 5,
			(long long)(run_incoming_clock_ms() - s->restore_start),
			vm->incoming ? " (post-copy: the rest of RAM follows)" : "");
	}
	/* cfg's strings point into the incoming configuration: keep it (a
	 * migrated-in VM may be migrated or snapshotted again). */
	s->in_cfg = s->mig_in ? mig_incoming_take_config(s->mig_in) : NULL;
	if (!vm->incoming) {            /* post-copy still needs it while the guest runs */
		mig_incoming_close(s->mig_in);
		s->mig_in = NULL;
	}
}

/* Run the guest until it ends; returns why (enum vm_exit). After a live
 * migration the NICs announce the guest at its new place, five times,
 * 50 ms to 450 ms after the switch-over (as QEMU does). */
static int run_guest(struct run_session *s)
{
	pthread_t announcer;
	int announcing = s->migrated_in && s->o.cfg.nnets > 0 &&
			 pthread_create(&announcer, NULL, announce_thread, s->vm) == 0;
	int why = virt_run(s->vm, &s->o.cfg);
	if (announcing)
		pthread_join(announcer, NULL);
	return why;
}

/* Record how the VM ended, say SHUTDOWN on the control socket, and free
 * everything the session holds. */
static void run_teardown(struct run_session *s, int why, struct run_outcome *out)
{
	struct vm *vm = s->vm;
	out->why = why;
	snprintf(out->msg, sizeof(out->msg), "%s", vm->exit_msg);
	out->migrated = false;
	if (vm->migration) {
		struct mig_info mi;
		mig_get_info(vm->migration, &mi);
		out->migrated = mi.status == MIG_COMPLETED;
	}
	run_ctl_stop(&s->o.ctl, vm, why);
	mig_incoming_close(s->mig_in);
	if (vm->migration) {
		mig_cancel(vm->migration);
		mig_free(vm->migration);
		vm->migration = NULL;
	}
	snap_stop_verify(&s->img);       /* it reads RAM: before the unmap */
	virt_destroy(vm);
	snap_close(&s->img);
	json_decref(s->in_cfg);
	free(vm);
	s->vm = NULL;
}

/* The exit status for the way the VM ended (see run --help). */
static int run_exit_status(const struct run_outcome *out)
{
	switch (out->why) {
	case VM_EXIT_POWEROFF:
		if (out->msg[0]) {
			fprintf(stderr, "tern: %s\n", out->msg);
			return 1;
		}
		return 0;
	case VM_EXIT_QUIT:
		/* Ended from outside: a script must tell this from a guest
		 * that powered off (unless the guest lives on elsewhere). */
		if (out->migrated) {
			fprintf(stderr, "tern: the guest was migrated away; this source VM ends\n");
			return 0;
		}
		fprintf(stderr, "tern: the VM was killed (%s), the guest did not power off\n",
			out->msg[0] ? out->msg : "quit");
		return RUN_EXIT_KILLED;
	case VM_EXIT_RESET:
		return 0;
	default:
		fprintf(stderr, "tern: %s\n", out->msg[0] ? out->msg : "fatal error");
		return 1;
	}
}

/* From options to a built, running-ready VM. RUN_GO, or the exit status. */
static int run_setup(struct run_session *s, int argc, char **argv)
{
	int rc = run_opts_parse(argc, argv, &s->o);
	if (rc == RUN_GO)
		rc = run_take_config(s);
	if (rc != RUN_GO)
		return rc;
	if (run_ctl_prepare(&s->o.ctl, &s->o.cfg, s->err, sizeof(s->err))) {
		fprintf(stderr, "tern: %s\n", s->err);
		return 1;
	}
	if (!(s->vm = calloc(1, sizeof(*s->vm)))) {
		fprintf(stderr, "tern: out of memory\n");
		return 1;
	}
	if (run_build(s)) {
		fprintf(stderr, "tern: %s\n", s->err);
		return 1;
	}
	run_settle_incoming(s);
	return RUN_GO;
}

int cli_run(int argc, char **argv)
{
	struct run_session *s = calloc(1, sizeof(*s));
	if (!s) {
		fprintf(stderr, "tern: out of memory\n");
		return 1;
	}
	s->img.fd = -1;
	int rc = run_setup(s, argc, argv);
	if (rc == RUN_GO) {
		struct run_outcome out;
		run_teardown(s, run_guest(s), &out);
		rc = run_exit_status(&out);
	}
	free(s);
	return rc;
}
