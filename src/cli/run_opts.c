/* `tern run`'s options: getopt, one short parser per kind of option, and
 * the --help text. Messages and exit statuses are tern run's contract. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "cli/run_opts.h"
#include "core/vm.h"
#include "ctl/ctl_path.h"
#include "net/spec.h"

#define MAX_MEMORY (64ull << 30)
#define MIN_MEMORY (16ull << 20)

enum {
	O_KERNEL = 256, O_INITRD, O_APPEND, O_MEMORY, O_CPUS, O_CONSOLE, O_NAME, O_DTB, O_REBOOT,
	O_DISK, O_RNG, O_NET, O_QMP, O_INCOMING, O_MIGRATE_KEY, O_BALLOON, O_MEM_MERGE,
	O_MIGRATE_TLS, O_BASE_DIR, O_VCPU_THREADS
};

static const struct option run_long_opts[] = {
	{ "kernel", required_argument, NULL, O_KERNEL },
	{ "initrd", required_argument, NULL, O_INITRD },
	{ "append", required_argument, NULL, O_APPEND },
	{ "memory", required_argument, NULL, O_MEMORY },
	{ "cpus", required_argument, NULL, O_CPUS },
	{ "vcpu-threads", required_argument, NULL, O_VCPU_THREADS },
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
		"  --vcpu-threads multi|single\n"
		"                       multi (default): each hart runs on its own host\n"
		"                       thread, in parallel; single: all harts take turns\n"
		"                       on one thread\n"
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

/* "on" -> 1, "off" -> 0 (or the reverse with invert); -1 otherwise. */
static int on_off(const char *v, int invert)
{
	if (!strcmp(v, "on"))
		return !invert;
	if (!strcmp(v, "off"))
		return invert;
	return -1;
}

/* One key=value of --disk into d; 0, or -1 after saying why. */
static int parse_disk_key(const char *kv, const char *v, struct virt_disk *d)
{
	int b;
	if (!strcmp(kv, "file")) {
		d->path = v;
	} else if (!strcmp(kv, "format")) {
		if (strcmp(v, "raw") && strcmp(v, "qcow2")) {
			fprintf(stderr, "tern: --disk: format '%s' is not supported (raw or qcow2)\n", v);
			return -1;
		}
		d->format = v;
	} else if (!strcmp(kv, "readonly") || !strcmp(kv, "backing")) {
		int ro = !strcmp(kv, "readonly");
		if ((b = on_off(v, !ro)) < 0) {
			fprintf(stderr, "tern: --disk: %s takes on or off, not '%s'\n", kv, v);
			return -1;
		}
		*(ro ? &d->readonly : &d->no_backing) = b;
	} else if (!strcmp(kv, "serial")) {
		if (strlen(v) > 20) {
			fprintf(stderr, "tern: --disk: serial '%s' is longer than 20 characters\n", v);
			return -1;
		}
		d->serial = v;
	} else if (!strcmp(kv, "cache")) {
		if (strcmp(v, "writeback") && strcmp(v, "none")) {
			fprintf(stderr, "tern: --disk: cache takes writeback or none, not '%s'\n", v);
			return -1;
		}
		d->direct = !strcmp(v, "none");
	} else {
		fprintf(stderr, "tern: --disk: unknown key '%s' (file, format, readonly, backing, serial, cache)\n", kv);
		return -1;
	}
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
		if (parse_disk_key(kv, v, d))
			return -1;
	}
	if (!d->path || !*d->path) {
		fprintf(stderr, "tern: --disk needs file=PATH\n");
		return -1;
	}
	return 0;
}

/* --memory and --cpus; 0, or 2 after saying why. */
static int parse_size_opt(int c, const char *arg, struct virt_config *cfg)
{
	if (c == O_MEMORY) {
		if (cli_parse_size(arg, &cfg->mem_size) || cfg->mem_size < MIN_MEMORY ||
		    cfg->mem_size > MAX_MEMORY || (cfg->mem_size & 0xfff)) {
			fprintf(stderr, "tern: invalid --memory '%s': give 16M to 64G, e.g. 256M or 1G\n", arg);
			return 2;
		}
		return 0;
	}
	char *end;
	long n = strtol(arg, &end, 10);
	if (*end || end == arg || n < 1 || n > VM_MAX_HARTS) {
		fprintf(stderr, "tern: invalid --cpus '%s': give 1 to %d\n", arg, VM_MAX_HARTS);
		return 2;
	}
	cfg->cpus = (int)n;
	return 0;
}

/* --reboot, --vcpu-threads, --rng, --balloon and --mem-merge; 0, or 2
 * after saying why. */
static int parse_switch_opt(int c, const char *arg, struct run_opts *o)
{
	if (c == O_VCPU_THREADS) {
		if (strcmp(arg, "multi") && strcmp(arg, "single")) {
			fprintf(stderr, "tern: invalid --vcpu-threads '%s': give multi or single\n", arg);
			return 2;
		}
		o->vcpu_single = !strcmp(arg, "single");
		return 0;
	}
	if (c == O_REBOOT) {
		if (strcmp(arg, "exit") && strcmp(arg, "restart")) {
			fprintf(stderr, "tern: invalid --reboot '%s': give exit or restart\n", arg);
			return 2;
		}
		o->cfg.reboot_restart = !strcmp(arg, "restart");
		return 0;
	}
	int on = on_off(arg, 0);
	if (on < 0 && c == O_RNG) {
		fprintf(stderr, "tern: invalid --rng '%s': give on or off\n", arg);
		return 2;
	}
	if (on < 0) {
		fprintf(stderr, "tern: invalid %s '%s': give on or off\n",
			c == O_BALLOON ? "--balloon" : "--mem-merge", arg);
		return 2;
	}
	*(c == O_RNG ? &o->cfg.rng : c == O_BALLOON ? &o->cfg.balloon : &o->mem_merge) = on;
	return 0;
}

/* --name, --disk and --net; 0, or 2 after saying why. */
static int parse_device_opt(int c, char *arg, struct virt_config *cfg)
{
	char why[400];
	if (c == O_NAME) {
		if (ctl_name_check(arg, why, sizeof(why))) {
			fprintf(stderr, "tern: --name: %s\n", why);
			return 2;
		}
		cfg->name = arg;
	} else if (c == O_DISK) {
		if (cfg->ndisks >= VIRT_MAX_DISKS) {
			fprintf(stderr, "tern: at most %d disks\n", VIRT_MAX_DISKS);
			return 2;
		}
		if (parse_disk(arg, &cfg->disks[cfg->ndisks]))
			return 2;
		cfg->ndisks++;
	} else {
		if (cfg->nnets >= VIRT_MAX_NICS) {
			fprintf(stderr, "tern: at most %d --net NICs\n", VIRT_MAX_NICS);
			return 2;
		}
		if (net_spec_parse(arg, &cfg->nets[cfg->nnets], why, 256)) {
			fprintf(stderr, "tern: %s\n", why);
			return 2;
		}
		cfg->net_args[cfg->nnets++] = arg;
	}
	return 0;
}

/* Options that only record their value. Returns 1 when c is one. */
static int store_opt(int c, char *arg, struct run_opts *o)
{
	const char **slot;
	switch (c) {
	case O_KERNEL: slot = &o->cfg.kernel; break;
	case O_INITRD: slot = &o->cfg.initrd; break;
	case O_APPEND: slot = &o->cfg.append; break;
	case O_CONSOLE: slot = &o->cfg.console; break;
	case O_DTB: slot = &o->cfg.dtb_out; break;
	case O_QMP: slot = &o->ctl.qmp_path; break;
	case O_INCOMING: slot = &o->incoming; break;
	case O_MIGRATE_KEY: slot = &o->migrate_key; break;
	case O_MIGRATE_TLS: slot = &o->migrate_tls; break;
	case O_BASE_DIR: slot = &o->base_dir; break;
	default: return 0;
	}
	*slot = arg;
	return 1;
}

/* Options that shape the machine, which a snapshot or a migration brings
 * instead: they cannot be given with --incoming. */
static int is_machine_opt(int c)
{
	return c >= O_KERNEL && c != O_NAME && c != O_CONSOLE && c != O_QMP && c != O_DISK &&
	       c != O_NET && c != O_INCOMING && c != O_MIGRATE_KEY && c != O_MEM_MERGE &&
	       c != O_MIGRATE_TLS && c != O_BASE_DIR && c != O_VCPU_THREADS;
}

/* One option from getopt; RUN_GO, or the exit status. */
static int parse_one(int c, char **argv, struct run_opts *o)
{
	if (is_machine_opt(c))
		o->machine_opt = argv[optind - 1];
	if (store_opt(c, optarg, o))
		return RUN_GO;
	int rc = 0;
	switch (c) {
	case O_MEMORY: case O_CPUS: rc = parse_size_opt(c, optarg, &o->cfg); break;
	case O_REBOOT: case O_RNG: case O_BALLOON: case O_MEM_MERGE: case O_VCPU_THREADS:
		rc = parse_switch_opt(c, optarg, o);
		break;
	case O_NAME: case O_DISK: case O_NET: rc = parse_device_opt(c, optarg, &o->cfg); break;
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
	return rc ? rc : RUN_GO;
}

int run_opts_parse(int argc, char **argv, struct run_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->cfg.append = "console=ttyS0";
	o->cfg.mem_size = 256ull << 20;
	o->cfg.cpus = 1;
	o->cfg.rng = 1;
	opterr = 0;
	optind = 1;
	int c, rc;
	while ((c = getopt_long(argc, argv, ":h", run_long_opts, NULL)) != -1)
		if ((rc = parse_one(c, argv, o)) != RUN_GO)
			return rc;
	if (optind < argc) {
		fprintf(stderr, "tern: unexpected argument '%s' (see 'tern run --help')\n", argv[optind]);
		return 2;
	}
	if (o->incoming && o->machine_opt) {
		fprintf(stderr, "tern: %s cannot be combined with --incoming: the snapshot holds the machine\n",
			o->machine_opt);
		return 2;
	}
	return RUN_GO;
}
