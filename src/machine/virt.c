/* The 'virt' board: assembles RAM, harts, PLIC, UART, RTC and syscon, loads
 * the images, and handles the exits of the vCPU loop (core/vcpu.c): SBI
 * calls, idle, pauses, resets and shutdown. */
#define _GNU_SOURCE   /* gettid */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include "machine/virt.h"
#include "machine/boot.h"
#include "machine/fdt.h"
#include "core/vm.h"
#include "core/evloop.h"
#include "core/vcpu.h"
#include "machine/sbi.h"
#include "backend/chr.h"
#include "cpu/dcache.h"
#include "cpu/jit.h"
#include "cpu/lifecycle.h"
#include "cpu/trap.h"
#include "dev/plic.h"
#include "dev/uart16550.h"
#include "dev/goldfish_rtc.h"
#include "dev/syscon.h"
#include "virtio/mmio.h"
#include "virtio/blk.h"
#include "block/block.h"
#include "virtio/rng.h"
#include "virtio/input.h"
#include "virtio/balloon.h"
#include "mem/guest_ram.h"
#include "virtio/net.h"
#include "state/devlog.h"
#include "net/net.h"
#include <fcntl.h>
#include <sys/stat.h>

/* The board: what the virt machine keeps beside the core VM (core/vm.h):
 * its configuration, the I/O loop and every device. The control socket and
 * snapshots reach the few they need through virt_loop, virt_power_button,
 * virt_balloon and virt_board_config. */
struct virt_board {
	struct vm *vm;
	const struct virt_config *cfg;   /* what the board was built from (snapshots) */
	struct evloop *loop;        /* the I/O thread's event loop */
	struct plic *plic;
	struct virtio_mmio *power_button;   /* virtio-input, KEY_POWER (system_powerdown) */
	struct virtio_mmio *balloon;        /* NULL without --balloon on */
	struct uart16550 *uart;
	struct goldfish_rtc *rtc;
	struct syscon *syscon;
	struct chr *console;
	int signal_fd;              /* SIGINT/SIGTERM/SIGHUP, read by the I/O loop */
	/* The vCPU loops: vcpus[0] runs on virt_run's thread (the primary);
	 * with one thread per hart, vcpus[i] runs hart i on threads[i]. */
	struct vcpu vcpus[VM_MAX_HARTS];
	pthread_t threads[VM_MAX_HARTS];
	int nvcpus;
	unsigned rounds;            /* vCPU rounds, for the RTC poll */
	struct blk_dev *disks[VIRT_MAX_DISKS];  /* in --disk order, owned by their devices */
	int ndisks;
};

/* Puts a device on the MMIO bus and registers its state hooks with the
 * device registry (core/devreg.h) in the same step, so the registry keeps
 * the bus order the snapshot format numbers devices by. extra holds the
 * hooks beyond save and load (flush, reclaim, post_load), or is NULL. */
static int attach(struct vm *vm, uint64_t base, uint64_t size, const struct dev_ops *ops,
		  void *dev, const struct devreg_entry *extra)
{
	if (vm_add_mmio(vm, base, size, ops, dev))
		return -1;
	struct devreg_entry e = extra ? *extra : (struct devreg_entry){ 0 };
	e.name = ops->name;
	e.state_version = ops->state_version;
	e.save = ops->save;
	e.load = ops->load;
	e.opaque = dev;
	return devreg_add(&vm->devreg, &e) ? -1 : 0;
}

struct evloop *virt_loop(struct vm *vm)
{
	return vm->board ? vm->board->loop : NULL;
}

struct virtio_mmio *virt_power_button(struct vm *vm)
{
	return vm->board ? vm->board->power_button : NULL;
}

struct virtio_mmio *virt_balloon(struct vm *vm)
{
	return vm->board ? vm->board->balloon : NULL;
}

const struct virt_config *virt_board_config(struct vm *vm)
{
	return vm->board ? vm->board->cfg : NULL;
}

int virt_disks(struct vm *vm, struct blk_dev **out, int max)
{
	int n = 0;
	for (int i = 0; vm->board && i < vm->board->ndisks && n < max; i++)
		out[n++] = vm->board->disks[i];
	return n;
}

static void plic_to_hart(void *ctx, unsigned context, int level)
{
	struct vm *vm = ctx;
	if (context < (unsigned)vm->cpus.nharts)
		hart_set_pending(vm->cpus.harts[context], MIP_SEIP, level);
}

static void uart_tx(void *ctx, const unsigned char *buf, size_t len)
{
	struct virt_board *b = ctx;
	if (b->console)
		chr_write(b->console, buf, len);
}

static void uart_rx_ready(void *ctx)
{
	struct virt_board *b = ctx;
	if (b->console)
		chr_accept_input(b->console);
}

static size_t console_input(void *opaque, const unsigned char *buf, size_t len)
{
	struct virt_board *b = opaque;
	pthread_mutex_lock(&b->vm->lock);
	size_t room = uart16550_rx_space(b->uart);
	size_t n = uart16550_receive(b->uart, buf, len < room ? len : room);
	pthread_mutex_unlock(&b->vm->lock);
	return n;
}

static void console_quit(void *opaque)
{
	struct virt_board *b = opaque;
	vm_request_exit(b->vm, VM_EXIT_QUIT, "Ctrl-A x on the console");
}

/* SIGINT/SIGTERM/SIGHUP arrive on a signalfd in the I/O loop, so shutdown
 * is an ordinary exit request and the terminal is restored on the way out. */
static void signal_ready(void *opaque, uint32_t events)
{
	struct virt_board *b = opaque;
	struct signalfd_siginfo si;
	if (read(b->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		char msg[64];
		snprintf(msg, sizeof(msg), "terminating on signal %u", si.ssi_signo);
		vm_request_exit(b->vm, VM_EXIT_QUIT, msg);
	}
}

static int watch_signals(struct virt_board *b)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	/* Blocked before the I/O thread starts, so every thread inherits it. */
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return -1;
	b->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (b->signal_fd < 0)
		return -1;
	return evloop_add_fd(b->loop, b->signal_fd, EPOLLIN, signal_ready, b);
}

static void syscon_action(void *ctx, enum syscon_action a, unsigned code)
{
	struct vm *vm = ctx;
	char msg[64];
	switch (a) {
	case SYSCON_POWEROFF: vm_request_exit(vm, VM_EXIT_POWEROFF, NULL); break;
	case SYSCON_RESET: vm_request_exit(vm, VM_EXIT_RESET, NULL); break;
	case SYSCON_FAIL:
		snprintf(msg, sizeof(msg), "guest powered off with failure code %u", code);
		vm_request_exit(vm, VM_EXIT_POWEROFF, msg);
		break;
	}
}

/* NIC i on its backend, in virtio slot `slot`. */
static int attach_nic(struct vm *vm, const struct net_spec *given, unsigned i, unsigned slot,
		      char *err, size_t errlen)
{
	/* DHCP hands out the VM's name as the host name unless hostname= says. */
	struct net_spec sp = *given, *spec = &sp;
	if (!sp.hostname[0])
		net_hostname_from(vm->name, sp.hostname);
	uint8_t mac[6];
	if (spec->mac_set)
		memcpy(mac, spec->mac, 6);
	else
		net_spec_default_mac(i, mac);
	struct net_backend *be = net_backend_open(spec, vm->board->loop, err, errlen);
	if (!be)
		return -1;
	struct irq_line irq = { plic_set_irq, vm->board->plic, VIRT_VIRTIO_IRQ + slot };
	struct virtio_mmio *t = virtio_net_new(vm, irq, be, mac);
	if (!t) {
		net_backend_close(be);
		snprintf(err, errlen, "cannot create the virtio-net device");
		return -1;
	}
	attach(vm, VIRT_VIRTIO_BASE + slot * VIRT_VIRTIO_STRIDE, VIRTIO_MMIO_SIZE,
	       &virtio_mmio_ops, t, NULL);
	return 0;
}

/* vm->on_resume: NICs and the power button held their input while the VM
 * was paused. */
static void resume_nics(struct vm *vm)
{
	for (int i = 0; i < vm->nmmio; i++)
		if (vm->mmio[i].ops == &virtio_mmio_ops) {
			virtio_net_resume_rx(vm->mmio[i].dev);
			virtio_input_resume(vm->mmio[i].dev);
		}
}

/* The power button: virtio-input with KEY_POWER. The virt board has no
 * ACPI, and the stock Debian kernel builds gpio-keys out, but has
 * virtio_input (a module), which evdev and systemd-logind listen to. */
static int attach_power_button(struct vm *vm, char *err, size_t errlen)
{
	unsigned slot = VIRT_POWER_BUTTON_SLOT;
	struct irq_line irq = { plic_set_irq, vm->board->plic, VIRT_VIRTIO_IRQ + slot };
	vm->board->power_button = virtio_input_power_button_new(vm, irq);
	if (!vm->board->power_button) {
		snprintf(err, errlen, "cannot create the power button");
		return -1;
	}
	if (attach(vm, VIRT_VIRTIO_BASE + slot * VIRT_VIRTIO_STRIDE, VIRTIO_MMIO_SIZE,
		   &virtio_mmio_ops, vm->board->power_button, NULL)) {
		virtio_mmio_ops.destroy(vm->board->power_button);
		vm->board->power_button = NULL;
		snprintf(err, errlen, "no room on the MMIO bus for the power button");
		return -1;
	}
	return 0;
}

void virt_announce(struct vm *vm)
{
	for (int i = 0; i < vm->nmmio; i++)
		if (vm->mmio[i].ops == &virtio_mmio_ops)
			virtio_net_announce(vm->mmio[i].dev);
}

/* The balloon, with free page reporting; it tracks the pages given back. */
static int attach_balloon(struct vm *vm, unsigned slot, char *err, size_t errlen)
{
	struct irq_line irq = { plic_set_irq, vm->board->plic, VIRT_VIRTIO_IRQ + slot };
	vm->board->balloon = guest_ram_discard_track(&vm->mem) ? NULL : virtio_balloon_new(vm, irq, true);
	if (!vm->board->balloon) {
		snprintf(err, errlen, "cannot create the virtio-balloon device");
		return -1;
	}
	return attach(vm, VIRT_VIRTIO_BASE + slot * VIRT_VIRTIO_STRIDE, VIRTIO_MMIO_SIZE,
		      &virtio_mmio_ops, vm->board->balloon, NULL);
}

/* Virtio devices fill the virt slots in order: disks, NICs, the rng, the balloon. */
static int attach_virtio(struct vm *vm, const struct virt_config *cfg, char *err, size_t errlen)
{
	unsigned slot = 0;
	if (cfg->ndisks + cfg->nnets + !!cfg->rng + !!cfg->balloon > VIRT_VIRTIO_COUNT) {
		snprintf(err, errlen, "too many virtio devices: %d disks, %d NICs%s%s exceed the %d slots",
			 cfg->ndisks, cfg->nnets, cfg->rng ? ", the rng" : "",
			 cfg->balloon ? ", the balloon" : "", VIRT_VIRTIO_COUNT);
		return -1;
	}
	for (int i = 0; i < cfg->ndisks; i++, slot++) {
		const struct virt_disk *d = &cfg->disks[i];
		char why[512];
		struct blk_dev *disk = virt_open_disk(d, why, sizeof(why));
		if (!disk) {
			snprintf(err, errlen, "disk '%s': %.400s", d->path, why);
			return -1;
		}
		if (cfg->incoming && disk->size != cfg->disk_sizes[i]) {
			snprintf(err, errlen, "disk '%s' is %llu bytes but the snapshot was taken with "
				 "%llu bytes", d->path, (unsigned long long)disk->size,
				 (unsigned long long)cfg->disk_sizes[i]);
			blk_close(disk);
			return -1;
		}
		struct irq_line irq = { plic_set_irq, vm->board->plic, VIRT_VIRTIO_IRQ + slot };
		struct virtio_mmio *t = virtio_blk_new_disk(vm, irq, disk, d->serial, why, sizeof(why));
		if (!t) {
			snprintf(err, errlen, "disk '%s': %.400s", d->path, why);
			blk_close(disk);
			return -1;
		}
		vm->board->disks[vm->board->ndisks++] = disk;
		attach(vm, VIRT_VIRTIO_BASE + slot * VIRT_VIRTIO_STRIDE, VIRTIO_MMIO_SIZE,
		       &virtio_mmio_ops, t, &(struct devreg_entry){
			       .flush = virtio_blk_flush, .reclaim = virtio_blk_reclaim });
	}
	for (int i = 0; i < cfg->nnets; i++, slot++)
		if (attach_nic(vm, &cfg->nets[i], (unsigned)i, slot, err, errlen))
			return -1;
	if (cfg->rng) {
		struct irq_line irq = { plic_set_irq, vm->board->plic, VIRT_VIRTIO_IRQ + slot };
		struct virtio_mmio *t = virtio_rng_new(vm, irq);
		if (!t) {
			snprintf(err, errlen, "cannot create the virtio-rng device");
			return -1;
		}
		attach(vm, VIRT_VIRTIO_BASE + slot * VIRT_VIRTIO_STRIDE, VIRTIO_MMIO_SIZE,
		       &virtio_mmio_ops, t, NULL);
		slot++;
	}
	if (cfg->balloon && attach_balloon(vm, slot, err, errlen))
		return -1;
	return 0;
}

/* (Re)load images and the device tree, and put hart 0 at the entry. */
static int load_guest(struct vm *vm, const struct virt_config *cfg, char *err, size_t errlen)
{
	struct boot_info bi;
	if (boot_load(vm, cfg->kernel, cfg->initrd, FDT_MAX_SIZE, &bi, err, errlen))
		return -1;
	uint8_t *fdt = vm_ram_ptr(vm, bi.fdt_addr, FDT_MAX_SIZE);
	if (!fdt || fdt_build(vm, &bi, cfg->append, fdt, err, errlen))
		return -1;
	if (cfg->dtb_out) {
		FILE *f = fopen(cfg->dtb_out, "wb");
		uint32_t size = __builtin_bswap32(*(uint32_t *)(fdt + 4));
		if (!f || fwrite(fdt, 1, size, f) != size || fclose(f)) {
			snprintf(err, errlen, "cannot write device tree to '%s': %s", cfg->dtb_out, strerror(errno));
			return -1;
		}
	}
	for (int i = 0; i < vm->cpus.nharts; i++)
		hart_reset(vm->cpus.harts[i], &vm->cpus, i);
	struct hart *h0 = vm->cpus.harts[0];
	h0->pc = bi.entry;
	h0->x[10] = 0;
	h0->x[11] = bi.fdt_addr;
	h0->hsm_state = HSM_STARTED;
	return 0;
}

int virt_create(struct vm *vm, const struct virt_config *cfg, char *err, size_t errlen)
{
	/* The block compiler is on unless TERN_JIT=off (the interpreter alone
	 * is kept as a reference for differential tests). */
	const char *jit_env = getenv("TERN_JIT");
	struct vm_opts o = {
		.ram_base = VIRT_RAM_BASE, .ram_size = cfg->mem_size, .nharts = cfg->cpus,
		.jit_bytes = !jit_env || strcmp(jit_env, "off") ? JIT_CODE_BYTES : 0,
	};
	int rc = vm_init(vm, &o);
	if (rc) {
		snprintf(err, errlen, "cannot allocate %llu MiB of guest RAM and %d harts: %s",
			 (unsigned long long)(cfg->mem_size >> 20), cfg->cpus, strerror(-rc));
		return -1;
	}
	struct virt_board *b = calloc(1, sizeof(*b));
	if (!b) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	*b = (struct virt_board){ .vm = vm, .signal_fd = -1 };
	/* One vCPU thread per hart, unless asked for one for all. */
	b->nvcpus = cfg->vcpu_single ? 1 : cfg->cpus;
	for (int i = 0; i < b->nvcpus; i++)
		vcpu_init(&b->vcpus[i], vm, i, b->nvcpus == 1 ? cfg->cpus : 1, i == 0);
	atomic_store(&vm->vcpu_running, b->nvcpus);
	vm->board = b;
	vm->name = cfg->name;
	b->cfg = cfg;
	vm->mem.mergeable = cfg->mem_merge;
	guest_ram_merge_advise(&vm->mem, 0, vm->mem.size);

	b->loop = evloop_new();
	if (!b->loop || watch_signals(b)) {
		snprintf(err, errlen, "cannot create the I/O event loop: %s", strerror(errno));
		return -1;
	}
	b->console = chr_open(cfg->console ? cfg->console : "stdio", b->loop, err, errlen);
	if (!b->console)
		return -1;

	b->plic = plic_new(VIRT_PLIC_NDEV, vm->cpus.nharts, plic_to_hart, vm);
	b->uart = uart16550_new((struct irq_line){ plic_set_irq, vm->board->plic, VIRT_UART0_IRQ },
				uart_tx, uart_rx_ready, b);
	b->rtc = goldfish_rtc_new((struct irq_line){ plic_set_irq, vm->board->plic, VIRT_RTC_IRQ });
	b->syscon = syscon_new(syscon_action, vm);
	if (!b->plic || !b->uart || !b->rtc || !b->syscon) {
		snprintf(err, errlen, "out of memory creating devices");
		return -1;
	}
	attach(vm, VIRT_SYSCON_BASE, VIRT_SYSCON_SIZE, &syscon_ops, b->syscon, NULL);
	attach(vm, VIRT_RTC_BASE, VIRT_RTC_SIZE, &goldfish_rtc_ops, b->rtc, NULL);
	attach(vm, VIRT_PLIC_BASE, VIRT_PLIC_SIZE, &plic_ops, b->plic,
	       &(struct devreg_entry){ .post_load = plic_redrive });
	attach(vm, VIRT_UART0_BASE, VIRT_UART0_SIZE, &uart16550_ops, b->uart, NULL);
	if (attach_virtio(vm, cfg, err, errlen) || attach_power_button(vm, err, errlen))
		return -1;
	vm->on_resume = resume_nics;
	/* Always on: logging a device register write costs a table lookup. */
	vm->devlog = devlog_new(vm);
	if (!vm->devlog) {
		snprintf(err, errlen, "out of memory creating the device write log");
		return -1;
	}

	if (!cfg->incoming && load_guest(vm, cfg, err, errlen))
		return -1;

	chr_set_handlers(b->console, console_input, console_quit, b);
	if (evloop_start(b->loop)) {
		snprintf(err, errlen, "cannot start the I/O thread");
		return -1;
	}
	/* A restore starts console input only once the UART state is loaded,
	 * or early keystrokes would land in the UART the snapshot replaces. */
	return cfg->incoming ? 0 : virt_start_console(vm, err, errlen);
}

int virt_start_console(struct vm *vm, char *err, size_t errlen)
{
	struct chr *console = vm->board->console;
	if (chr_start(console)) {
		snprintf(err, errlen, "cannot start the console");
		return -1;
	}
	const char *where = chr_describe(console);
	if (where)
		fprintf(stderr, "tern: console on %s\n", where);
	return 0;
}

void virt_visit_rings(struct vm *vm, void (*fn)(void *ctx, uint64_t pa, uint64_t len), void *ctx)
{
	for (int i = 0; i < vm->nmmio; i++) {
		if (vm->mmio[i].ops != &virtio_mmio_ops)
			continue;
		for (unsigned q = 0; q < VIRTIO_MMIO_MAX_QUEUES; q++) {
			struct virtq *vq = virtio_mmio_queue(vm->mmio[i].dev, q);
			if (vq)
				virtq_visit_areas(vq, fn, ctx);
		}
	}
}

static int reset_machine(struct vm *vm, const struct virt_config *cfg)
{
	char err[256];
	pthread_mutex_lock(&vm->lock);
	for (int i = 0; i < vm->nmmio; i++)
		if (vm->mmio[i].ops->reset)
			vm->mmio[i].ops->reset(vm->mmio[i].dev);
	devlog_reset(vm->devlog);
	pthread_mutex_unlock(&vm->lock);
	/* Fresh RAM, detached from a snapshot file it was restored from; a
	 * lazy check of that file (state/snap_verify.h) finishes first, so
	 * that it never reads the new RAM as the old. */
	if (guest_ram_demand(&vm->mem, 0, vm->mem.size)) {
		if (!vm->exit_msg[0])
			snprintf(vm->exit_msg, sizeof(vm->exit_msg), "reboot failed: guest RAM is not all in place");
		return -1;
	}
	if (guest_ram_renew(&vm->mem)) {
		snprintf(vm->exit_msg, sizeof(vm->exit_msg), "reboot failed: cannot renew guest RAM");
		return -1;
	}
	vm_code_flush(vm);
	if (load_guest(vm, cfg, err, sizeof(err))) {
		snprintf(vm->exit_msg, sizeof(vm->exit_msg), "reboot failed: %.200s", err);
		return -1;
	}
	/* Clear only the reset we served: a quit that arrived meanwhile stays. */
	int served = VM_EXIT_RESET;
	atomic_compare_exchange_strong(&vm->exit_req, &served, VM_RUNNING);
	return 0;
}

static void poll_rtc(struct virt_board *b)
{
	pthread_mutex_lock(&b->vm->lock);
	goldfish_rtc_poll(b->rtc);
	pthread_mutex_unlock(&b->vm->lock);
}

/* The board's side of the vCPU loop (core/vcpu.c): it answers SBI calls,
 * polls the RTC, parks for pauses and serves resets. */
static int virt_run_loop(struct vm *vm, const struct virt_config *cfg)
{
	struct virt_board *b = vm->board;
	struct vcpu *v = &b->vcpus[0];
	for (;;) {
		bool host_reset = false;
		switch (vcpu_run(v)) {
		case VCPU_EXIT_SBI:
			sbi_ecall(vm, v->hart, b->console);
			continue;
		case VCPU_EXIT_SLICE:
			if (++b->rounds % 64 == 0)
				poll_rtc(b);
			continue;
		case VCPU_EXIT_WFI:
			poll_rtc(b);
			vcpu_idle(v);
			continue;
		case VCPU_EXIT_PAUSE:
			vm_pause_point(vm, true);
			continue;
		case VCPU_EXIT_HALTED:
			snprintf(vm->exit_msg, sizeof(vm->exit_msg), "all harts stopped");
			return VM_EXIT_ERROR;
		case VCPU_EXIT_RESET:
			host_reset = true;
			break;
		case VCPU_EXIT_SHUTDOWN: {
			int why = atomic_load(&vm->exit_req);
			if (why != VM_EXIT_RESET || !cfg->reboot_restart)
				return why;
			break;
		}
		}
		/* the other vCPU threads park while the machine is reset */
		vm_park_others(vm);
		int rc = reset_machine(vm, cfg);
		atomic_store(&vm->resetting, 0);
		vm_kick(vm);
		if (rc)
			return VM_EXIT_ERROR;
		vm_event(vm, "RESET", host_reset ? "{\"guest\": false, \"reason\": \"host-qmp-system-reset\"}"
					      : "{\"guest\": true, \"reason\": \"guest-reset\"}");
	}
}

/* A vCPU thread's end: it no longer counts for pauses. */
static void vcpu_thread_done(struct vm *vm)
{
	pthread_mutex_lock(&vm->idle_lock);
	atomic_fetch_sub(&vm->vcpu_running, 1);
	pthread_cond_broadcast(&vm->park_cond);
	pthread_mutex_unlock(&vm->idle_lock);
}

static void own_harts(struct vcpu *v)
{
	for (int i = v->first; i < v->first + v->count; i++)
		v->vm->cpus.harts[i]->host_tid = (int)gettid();
}

/* The loop of a vCPU thread other than the primary: it answers its hart's
 * SBI calls and parks for pauses, resets and the end (vcpus_stop). */
static void *secondary_vcpu_main(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	own_harts(v);
	while (!atomic_load(&vm->vcpus_stop)) {
		switch (vcpu_run(v)) {
		case VCPU_EXIT_SBI:
			sbi_ecall(vm, v->hart, vm->board->console);
			break;
		case VCPU_EXIT_WFI:
			vcpu_idle(v);
			break;
		case VCPU_EXIT_PAUSE:
			vm_pause_point(vm, false);
			break;
		default:            /* a slice ended (the rest are the primary's) */
			break;
		}
	}
	vcpu_thread_done(vm);
	return NULL;
}

int virt_run(struct vm *vm, const struct virt_config *cfg)
{
	struct virt_board *b = vm->board;
	own_harts(&b->vcpus[0]);
	int started = 1;
	for (; started < b->nvcpus; started++)
		if (pthread_create(&b->threads[started], NULL, secondary_vcpu_main, &b->vcpus[started]))
			break;
	int why;
	if (started < b->nvcpus) {
		/* the threads that did start stop again at once below */
		snprintf(vm->exit_msg, sizeof(vm->exit_msg), "cannot start a vCPU thread for hart %d",
			 started);
		atomic_fetch_sub(&vm->vcpu_running, b->nvcpus - started);
		why = VM_EXIT_ERROR;
	} else {
		why = virt_run_loop(vm, cfg);
	}
	atomic_store(&vm->vcpus_stop, 1);
	vm_kick(vm);
	for (int i = 1; i < started; i++)
		pthread_join(b->threads[i], NULL);
	vcpu_thread_done(vm);
	return why;
}

void virt_destroy(struct vm *vm)
{
	struct virt_board *b = vm->board;
	if (b && b->loop)
		evloop_stop(b->loop);
	/* Devices go before the loop: backends (network) unregister their fds. */
	for (int i = 0; i < vm->nmmio; i++) {
		devreg_remove(&vm->devreg, vm->mmio[i].dev);
		if (vm->mmio[i].ops->destroy)
			vm->mmio[i].ops->destroy(vm->mmio[i].dev);
	}
	if (b && b->console)
		chr_close(b->console);
	if (b && b->loop)
		evloop_free(b->loop);
	if (b && b->signal_fd >= 0)
		close(b->signal_fd);
	free(b);
	vm->board = NULL;
	devlog_free(vm->devlog);
	vm->devlog = NULL;
	vm_fini(vm);
}
