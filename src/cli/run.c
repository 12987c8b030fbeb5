/* `tern run`: parse options, build the 'virt' machine, run it, and map the
 * way it ended to an exit status. */
#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include "cli/cli.h"
#include "core/vm.h"
#include "core/ramlog.h"
#include "machine/virt.h"
#include "net/spec.h"
#include "cli/run_ctl.h"
#include "cli/run_incoming.h"
#include "ctl/ctl_path.h"
#include "migration/migration.h"
#include "migration/mig_uri.h"

#define MAX_MEMORY (64ull << 30)
#define MIN_MEMORY (16ull << 20)
#define RUN_EXIT_KILLED 3       /* quit by QMP, the console or a signal */

static void run_usage(FILE *f)
{
	fprintf(f,
		"usage: tern run --kernel FILE [options]\n"
		"\n"
		"Boot a RISC-V 64-bit virtual machine ('virt' board, like qemu -M virt).\n"
		"\n"
		"  --kernel FILE        kernel to boot: a RISC-V Linux Image or a flat binary,\n"
		"                       loaded at RAM base + 2 MiB and entered in S-mode\n"
		"  --initrd FILE        initial ramdisk\n"
		"  --append \"ARGS\"      kernel command line (default: console=ttyS0)\n"
		"  --memory SIZE        guest RAM, with K, M or G suffix (default 256M;\n"
		"                       a bare number means MiB); 16M..64G. The kit's\n"
		"                       Debian kernel needs 96M or more: below that it\n"
		"                       panics before its console starts (add 'earlycon'\n"
		"                       to --append to see such early messages)\n"
		"  --cpus N             number of harts, 1..8 (default 1)\n"
		"  --console BACKEND    stdio (default; raw mode on a terminal), pty,\n"
		"                       unix:PATH or file:PATH; add ,log=FILE to copy all\n"
		"                       output to FILE too (e.g. unix:PATH,log=FILE)\n"
		"  --name NAME          name of the VM (default: tern-PID)\n"
		"  --qmp PATH|none      control socket, QMP wire format (default:\n"
		"                       $XDG_RUNTIME_DIR/tern/NAME.qmp, /run/tern/NAME.qmp for root)\n"
		"  --dtb-out FILE       write the generated device tree blob to FILE\n"
		"  --disk file=PATH[,format=raw|qcow2][,readonly=on|off][,backing=on|off][,serial=S]\n"
		"       [,cache=writeback|none]\n"
		"                       a virtio-blk disk (up to 7; they become vda, vdb, ...);\n"
		"                       format defaults to raw; cache=none is O_DIRECT\n"
		"  --rng on|off         a virtio-rng device fed by getrandom(2) (default on)\n"
		"  --balloon on|off     a virtio-balloon device with statistics, deflate on\n"
		"                       OOM and free page reporting: memory the guest frees\n"
		"                       goes back to the host, and migrations and snapshots\n"
		"                       skip it (default off: it changes the board the guest\n"
		"                       sees, as in QEMU, and a guest that reuses reported\n"
		"                       memory pays a host page fault and zeroing for each\n"
		"                       page; density-minded setups pass on)\n"
		"  --mem-merge on|off   mark guest RAM mergeable for KSM (default off); the\n"
		"                       host must run KSM: echo 1 > /sys/kernel/mm/ksm/run.\n"
		"                       May be given with --incoming\n"
		"  --net BACKEND[,mac=MAC]  a virtio-net NIC (up to 4; default MAC\n"
		"                       52:54:00:12:34:56, then :57, ...). BACKEND is one of\n"
		"                       user[,hostfwd=tcp:[HOSTADDR]:PORT-[GUESTADDR]:PORT]...\n"
		"                         NAT by libslirp: guest 10.0.2.15, host 10.0.2.2\n"
		"                       vde,sock=PATH   a port on a vde_switch\n"
		"                       tap,ifname=NAME a host tap interface\n"
		"  --reboot exit|restart  what a guest reboot does (default: exit 0)\n"
		"  --incoming file:PATH restore a snapshot (tern snapshot, QMP migrate) and run\n"
		"                       it; only --name, --console, --qmp, --disk (same\n"
		"                       size) and --net (as many as recorded) may be given\n"
		"                       with it\n"
		"  --incoming tcp:[HOST]:PORT | unix:PATH | exec:CMD | fd:N\n"
		"                       wait for a live migration (tern migrate, QMP migrate)\n"
		"                       and run the guest once it arrives; needs --migrate-key.\n"
		"                       exec: runs CMD with its stdin/stdout on the stream;\n"
		"                       fd:N is an inherited stream socket (or one listening)\n"
		"  --migrate-key FILE   the shared key both ends of a migration prove they hold\n"
		"                       (16 to 4096 bytes; readable by its owner only, mode 0600)\n"
		"  --migrate-tls DIR    migrations (both ways) over TLS 1.3 with DIR's host\n"
		"                       certificate (tern pki host); the peer's must come from\n"
		"                       DIR's CA, or nothing is sent\n"
		"  --base-dir DIR       with --incoming: a disk the source copies with\n"
		"                       --copy-storage lies over DIR/NAME, NAME the file name\n"
		"                       of the source's base image (default: the source's own\n"
		"                       path); its size and SHA-256 must match the source's.\n"
		"                       The copy goes to the --disk path given for it, made\n"
		"                       (a qcow2 overlay, or a sparse raw file) when missing\n"
		"  -h, --help           show this help\n"
		"\n"
		"On the stdio console, Ctrl-A x quits and Ctrl-A h lists the keys.\n"
		"Exit status: 0 when the guest powered off (or rebooted, with --reboot\n"
		"exit) by itself, or was migrated away; 1 on a VMM error or a\n"
		"guest-reported failure; 2 on a usage error; 3 when the VM was killed\n"
		"before the guest powered off: QMP quit (tern kill, tern stop after its\n"
		"timeout), Ctrl-A x on the console, or SIGINT/SIGTERM/SIGHUP.\n");
}

static void *announce_thread(void *p)
{
	for (int i = 0; i < 5; i++) {
		struct timespec ts = { 0, i ? 100000000 : 50000000 };
		nanosleep(&ts, NULL);
		virt_announce(p);
	}
	return NULL;
}

int cli_parse_size(const char *s, uint64_t *out)
{
	char *end;
	if (!s || !*s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	uint64_t mul = 1ull << 20;
	if (*end) {
		switch (toupper((unsigned char)*end)) {
		case 'B': mul = 1; break;
		case 'K': mul = 1ull << 10; break;
		case 'M': mul = 1ull << 20; break;
		case 'G': mul = 1ull << 30; break;
		case 'T': mul = 1ull << 40; break;
		default: return -1;
		}
		end++;
		if (mul != 1 && (*end == 'i' || *end == 'I'))
			end++;
		if (mul != 1 && (*end == 'B' || *end == 'b'))
			end++;
		if (*end)
			return -1;
	}
	if (v > UINT64_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

/* Parse one --disk value into d (fields point into a private copy). */
static int parse_disk(const char *arg, struct virt_disk *d)
{
	char *copy = strdup(arg), *save = NULL;
	if (!copy)
		return -1;
	memset(d, 0, sizeof(*d));
	for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *v = strchr(kv, '=');
		if (!v) {
			fprintf(stderr, "tern: --disk: '%s' is not key=value\n", kv);
			return -1;
		}
		*v++ = 0;
		if (!strcmp(kv, "file")) {
			d->path = v;
		} else if (!strcmp(kv, "format")) {
			if (strcmp(v, "raw") && strcmp(v, "qcow2")) {
				fprintf(stderr, "tern: --disk: format '%s' is not supported (raw or qcow2)\n", v);
				return -1;
			}
			d->format = v;
		} else if (!strcmp(kv, "readonly")) {
			if (!strcmp(v, "on")) d->readonly = 1;
			else if (!strcmp(v, "off")) d->readonly = 0;
			else {
				fprintf(stderr, "tern: --disk: readonly takes on or off, not '%s'\n", v);
				return -1;
			}
		} else if (!strcmp(kv, "backing")) {
			if (!strcmp(v, "on")) d->no_backing = 0;
			else if (!strcmp(v, "off")) d->no_backing = 1;
			else {
				fprintf(stderr, "tern: --disk: backing takes on or off, not '%s'\n", v);
				return -1;
			}
		} else if (!strcmp(kv, "serial")) {
			if (strlen(v) > 20) {
				fprintf(stderr, "tern: --disk: serial '%s' is longer than 20 characters\n", v);
				return -1;
			}
			d->serial = v;
		} else if (!strcmp(kv, "cache")) {
			if (!strcmp(v, "writeback")) d->direct = 0;
			else if (!strcmp(v, "none")) d->direct = 1;
			else {
				fprintf(stderr, "tern: --disk: cache takes writeback or none, not '%s'\n", v);
				return -1;
			}
		} else {
			fprintf(stderr, "tern: --disk: unknown key '%s' (file, format, readonly, backing, serial, cache)\n", kv);
			return -1;
		}
	}
	if (!d->path || !*d->path) {
		fprintf(stderr, "tern: --disk needs file=PATH\n");
		return -1;
	}
	return 0;
}

int cli_run(int argc, char **argv)
{
	enum { O_KERNEL = 256, O_INITRD, O_APPEND, O_MEMORY, O_CPUS, O_CONSOLE, O_NAME, O_DTB, O_REBOOT, O_DISK, O_RNG, O_NET, O_QMP, O_INCOMING, O_MIGRATE_KEY, O_BALLOON, O_MEM_MERGE, O_MIGRATE_TLS, O_BASE_DIR };
	static const struct option opts[] = {
		{ "kernel", required_argument, NULL, O_KERNEL },
		{ "initrd", required_argument, NULL, O_INITRD },
		{ "append", required_argument, NULL, O_APPEND },
		{ "memory", required_argument, NULL, O_MEMORY },
		{ "cpus", required_argument, NULL, O_CPUS },
		{ "console", required_argument, NULL, O_CONSOLE },
		{ "name", required_argument, NULL, O_NAME },
		{ "dtb-out", required_argument, NULL, O_DTB },
		{ "reboot", required_argument, NULL, O_REBOOT },
		{ "disk", required_argument, NULL, O_DISK },
		{ "rng", required_argument, NULL, O_RNG },
		{ "balloon", required_argument, NULL, O_BALLOON },
		{ "mem-merge", required_argument, NULL, O_MEM_MERGE },
		{ "net", required_argument, NULL, O_NET },
		{ "qmp", required_argument, NULL, O_QMP },
		{ "incoming", required_argument, NULL, O_INCOMING },
		{ "migrate-key", required_argument, NULL, O_MIGRATE_KEY },
		{ "migrate-tls", required_argument, NULL, O_MIGRATE_TLS },
		{ "base-dir", required_argument, NULL, O_BASE_DIR },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct virt_config cfg = {
		.append = "console=ttyS0",
		.mem_size = 256ull << 20,
		.cpus = 1,
		.rng = 1,
	};
	struct run_ctl ctl = { 0 };
	const char *incoming = NULL, *machine_opt = NULL, *migrate_key = NULL, *migrate_tls = NULL;
	const char *base_dir = NULL;
	int c, mem_merge = 0;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (c >= O_KERNEL && c != O_NAME && c != O_CONSOLE && c != O_QMP && c != O_DISK && c != O_NET &&
		    c != O_INCOMING && c != O_MIGRATE_KEY && c != O_MEM_MERGE && c != O_MIGRATE_TLS &&
		    c != O_BASE_DIR)
			machine_opt = argv[optind - 1];
		switch (c) {
		case O_KERNEL: cfg.kernel = optarg; break;
		case O_INITRD: cfg.initrd = optarg; break;
		case O_APPEND: cfg.append = optarg; break;
		case O_MEMORY:
			if (cli_parse_size(optarg, &cfg.mem_size) || cfg.mem_size < MIN_MEMORY ||
			    cfg.mem_size > MAX_MEMORY || (cfg.mem_size & 0xfff)) {
				fprintf(stderr, "tern: invalid --memory '%s': give 16M to 64G, e.g. 256M or 1G\n", optarg);
				return 2;
			}
			break;
		case O_CPUS: {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*end || end == optarg || n < 1 || n > VM_MAX_HARTS) {
				fprintf(stderr, "tern: invalid --cpus '%s': give 1 to %d\n", optarg, VM_MAX_HARTS);
				return 2;
			}
			cfg.cpus = (int)n;
			break;
		}
		case O_CONSOLE: cfg.console = optarg; break;
		case O_NAME: {
			char why[400];
			if (ctl_name_check(optarg, why, sizeof(why))) {
				fprintf(stderr, "tern: --name: %s\n", why);
				return 2;
			}
			cfg.name = optarg;
			break;
		}
		case O_DTB: cfg.dtb_out = optarg; break;
		case O_REBOOT:
			if (!strcmp(optarg, "exit")) cfg.reboot_restart = 0;
			else if (!strcmp(optarg, "restart")) cfg.reboot_restart = 1;
			else {
				fprintf(stderr, "tern: invalid --reboot '%s': give exit or restart\n", optarg);
				return 2;
			}
			break;
		case O_DISK:
			if (cfg.ndisks >= VIRT_MAX_DISKS) {
				fprintf(stderr, "tern: at most %d disks\n", VIRT_MAX_DISKS);
				return 2;
			}
			if (parse_disk(optarg, &cfg.disks[cfg.ndisks]))
				return 2;
			cfg.ndisks++;
			break;
		case O_RNG:
			if (!strcmp(optarg, "on")) cfg.rng = 1;
			else if (!strcmp(optarg, "off")) cfg.rng = 0;
			else {
				fprintf(stderr, "tern: invalid --rng '%s': give on or off\n", optarg);
				return 2;
			}
			break;
		case O_BALLOON:
		case O_MEM_MERGE: {
			int on = !strcmp(optarg, "on");
			if (!on && strcmp(optarg, "off")) {
				fprintf(stderr, "tern: invalid %s '%s': give on or off\n",
					c == O_BALLOON ? "--balloon" : "--mem-merge", optarg);
				return 2;
			}
			*(c == O_BALLOON ? &cfg.balloon : &mem_merge) = on;
			break;
		}
		case O_NET: {
			char why[256];
			if (cfg.nnets >= VIRT_MAX_NICS) {
				fprintf(stderr, "tern: at most %d --net NICs\n", VIRT_MAX_NICS);
				return 2;
			}
			if (net_spec_parse(optarg, &cfg.nets[cfg.nnets], why, sizeof(why))) {
				fprintf(stderr, "tern: %s\n", why);
				return 2;
			}
			cfg.net_args[cfg.nnets++] = optarg;
			break;
		}
		case O_QMP: ctl.qmp_path = optarg; break;
		case O_INCOMING: incoming = optarg; break;
		case O_MIGRATE_KEY: migrate_key = optarg; break;
		case O_MIGRATE_TLS: migrate_tls = optarg; break;
		case O_BASE_DIR: base_dir = optarg; break;
		case 'h':
			run_usage(stdout);
			return 0;
		case ':':
			fprintf(stderr, "tern: option '%s' needs a value (see 'tern run --help')\n", argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "tern: unknown option '%s' (see 'tern run --help')\n", argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tern: unexpected argument '%s' (see 'tern run --help')\n", argv[optind]);
		return 2;
	}
	struct snap_image img = { .fd = -1 };
	char err[512] = "";
	if (incoming && machine_opt) {
		fprintf(stderr, "tern: %s cannot be combined with --incoming: the snapshot holds the machine\n",
			machine_opt);
		return 2;
	}
	int64_t restore_start = run_incoming_clock_ms();
	struct mig_incoming *mig_in = NULL;
	if (incoming && mig_uri_is_stream(incoming)) {
		/* Live migration: the configuration arrives first, then RAM
		 * until the source switches over. */
		struct virt_config user = cfg;
		mig_in = mig_incoming_open_tls(incoming, migrate_key, migrate_tls, &cfg, err, sizeof(err));
		if (mig_in)
			mig_incoming_set_storage(mig_in, base_dir, user.ndisks);
		if (!mig_in || run_incoming_overrides(&user, &cfg, err, sizeof(err)) ||
		    mig_incoming_receive_ram(mig_in, err, sizeof(err))) {
			mig_incoming_close(mig_in);
			fprintf(stderr, "tern: %s\n", err);
			return 1;
		}
		restore_start = run_incoming_clock_ms();
	} else if (incoming && run_incoming_config(&img, incoming, &cfg, err, sizeof(err))) {
		snap_close(&img);
		fprintf(stderr, "tern: %s\n", err);
		return 1;
	}
	if (!cfg.kernel) {
		fprintf(stderr, "tern: no kernel given: use --kernel FILE (see 'tern run --help')\n");
		return 2;
	}

	cfg.mem_merge = mem_merge;      /* a host choice: also after --incoming */
	if (run_ctl_prepare(&ctl, &cfg, err, sizeof(err))) {
		fprintf(stderr, "tern: %s\n", err);
		return 1;
	}
	struct vm *vm = calloc(1, sizeof(*vm));
	if (!vm) {
		fprintf(stderr, "tern: out of memory\n");
		return 1;
	}
	if (virt_create(vm, &cfg, err, sizeof(err)) ||
	    (mig_in && mig_incoming_finish(mig_in, vm, err, sizeof(err))) ||
	    (incoming && !mig_in && snap_load(&img, vm, err, sizeof(err))) ||
	    (incoming && virt_start_console(vm, err, sizeof(err))) ||
	    run_ctl_start(&ctl, vm, err, sizeof(err))) {
		virt_destroy(vm);
		free(vm);
		snap_close(&img);
		mig_incoming_close(mig_in);
		fprintf(stderr, "tern: %s\n", err);
		return 1;
	}
	vm->migrate_key = migrate_key;
	vm->migrate_tls = migrate_tls;
	int mig_in_used = mig_in != NULL;
	if (incoming)                   /* restored RAM is a new mapping */
		ram_merge_advise(vm, 0, vm->ram_size);
	if (incoming)
		fprintf(stderr, "tern: %s %s in %lld ms%s\n", mig_in ? "switched over from" : "restored",
			mig_in ? incoming : incoming + 5, (long long)(run_incoming_clock_ms() - restore_start),
			vm->incoming ? " (post-copy: the rest of RAM follows)" : "");
	/* cfg's strings point into the incoming configuration: keep it (a
	 * migrated-in VM may be migrated or snapshotted again). */
	json_t *in_cfg = mig_in ? mig_incoming_take_config(mig_in) : NULL;
	if (!vm->incoming) {            /* post-copy still needs it while the guest runs */
		mig_incoming_close(mig_in);
		mig_in = NULL;
	}
	/* After a live migration the NICs announce the guest at its new place,
	 * five times, 50 ms to 450 ms after the switch-over (as QEMU does). */
	pthread_t announcer;
	int announcing = mig_in_used && cfg.nnets > 0 &&
			 pthread_create(&announcer, NULL, announce_thread, vm) == 0;
	int why = virt_run(vm, &cfg);
	if (announcing)
		pthread_join(announcer, NULL);
	char msg[sizeof(vm->exit_msg)];
	snprintf(msg, sizeof(msg), "%s", vm->exit_msg);
	bool migrated = false;          /* the guest runs at a destination now */
	if (vm->migration) {
		struct mig_info mi;
		mig_get_info(vm->migration, &mi);
		migrated = mi.status == MIG_COMPLETED;
	}
	run_ctl_stop(&ctl, vm, why);
	mig_incoming_close(mig_in);
	if (vm->migration) {
		mig_cancel(vm->migration);
		mig_free(vm->migration);
		vm->migration = NULL;
	}
	virt_destroy(vm);
	snap_close(&img);
	json_decref(in_cfg);
	free(vm);
	switch (why) {
	case VM_EXIT_POWEROFF:
		if (msg[0]) {
			fprintf(stderr, "tern: %s\n", msg);
			return 1;
		}
		return 0;
	case VM_EXIT_QUIT:
		/* Ended from outside: a script must tell this from a guest
		 * that powered off (unless the guest lives on elsewhere). */
		if (migrated) {
			fprintf(stderr, "tern: the guest was migrated away; this source VM ends\n");
			return 0;
		}
		fprintf(stderr, "tern: the VM was killed (%s), the guest did not power off\n",
			msg[0] ? msg : "quit");
		return RUN_EXIT_KILLED;
	case VM_EXIT_RESET:
		return 0;
	default:
		fprintf(stderr, "tern: %s\n", msg[0] ? msg : "fatal error");
		return 1;
	}
}
