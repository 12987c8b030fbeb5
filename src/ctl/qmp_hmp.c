/* human-monitor-command: the few HMP commands QEMU clients script (info
 * status, info migrate, info registers), answered as text in QEMU's layout.
 * Anything else is refused by name, never answered with made-up output. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/vm.h"
#include "cpu/csr.h"
#include "ctl/qmp_cmds.h"

#define HMP_OUT_MAX 8192

struct hmp_out {
	char buf[HMP_OUT_MAX];
	size_t len;
};

__attribute__((format(printf, 2, 3)))
static void out(struct hmp_out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->len, sizeof(o->buf) - o->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len = o->len + (size_t)n < sizeof(o->buf) ? o->len + (size_t)n : sizeof(o->buf) - 1;
}

static void info_status(struct qmp_ctx *ctx, struct hmp_out *o)
{
	const char *st = qmp_run_state(ctx);
	if (!strcmp(st, "running"))
		out(o, "VM status: running\r\n");
	else if (!strcmp(st, "paused"))
		out(o, "VM status: paused\r\n");
	else
		out(o, "VM status: paused (%s)\r\n", st);
}

static void kv_int(struct hmp_out *o, json_t *obj, const char *key, const char *label,
		   const char *unit, json_int_t div)
{
	json_t *v = json_object_get(obj, key);
	if (json_is_integer(v))
		out(o, "%s: %lld%s\r\n", label, (long long)(json_integer_value(v) / div), unit);
}

static int info_migrate(struct qmp_ctx *ctx, struct hmp_out *o, struct qmp_error *err)
{
	json_t *j = NULL;
	if (qmp_cmd_query_migrate(ctx, NULL, &j, err))
		return -1;
	const char *st = json_string_value(json_object_get(j, "status"));
	if (st) {
		out(o, "Migration status: %s\r\n", st);
		kv_int(o, j, "total-time", "total time", " ms", 1);
		kv_int(o, j, "expected-downtime", "expected downtime", " ms", 1);
		kv_int(o, j, "downtime", "downtime", " ms", 1);
		kv_int(o, j, "setup-time", "setup", " ms", 1);
		json_t *ram = json_object_get(j, "ram");
		if (ram) {
			kv_int(o, ram, "transferred", "transferred ram", " kbytes", 1024);
			json_t *mbps = json_object_get(ram, "mbps");
			if (json_is_number(mbps))
				out(o, "throughput: %.2f mbps\r\n", json_number_value(mbps));
			kv_int(o, ram, "remaining", "remaining ram", " kbytes", 1024);
			kv_int(o, ram, "total", "total ram", " kbytes", 1024);
			kv_int(o, ram, "duplicate", "duplicate", " pages", 1);
			kv_int(o, ram, "normal", "normal", " pages", 1);
			kv_int(o, ram, "normal-bytes", "normal bytes", " kbytes", 1024);
			kv_int(o, ram, "dirty-sync-count", "dirty sync count", "", 1);
		}
		const char *e = json_string_value(json_object_get(j, "error-desc"));
		if (e)
			out(o, "error description: %s\r\n", e);
	}
	json_decref(j);
	return 0;
}

static const char *const abi[32] = {
	"zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3",
	"a4", "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11",
	"t3", "t4", "t5", "t6",
};

static void hart_regs(const struct hart *h, struct hmp_out *o)
{
	out(o, " pc       %016llx\r\n", (unsigned long long)h->pc);
	out(o, " mhartid  %016llx\r\n", (unsigned long long)h->id);
	out(o, " priv     %s\r\n", h->priv == PRV_S ? "S" : h->priv == PRV_U ? "U" : "M");
	out(o, " sstatus  %016llx\r\n", (unsigned long long)h->sstatus);
	out(o, " sie      %016llx\r\n", (unsigned long long)h->sie);
	out(o, " stvec    %016llx\r\n", (unsigned long long)h->stvec);
	out(o, " sscratch %016llx\r\n", (unsigned long long)h->sscratch);
	out(o, " sepc     %016llx\r\n", (unsigned long long)h->sepc);
	out(o, " scause   %016llx\r\n", (unsigned long long)h->scause);
	out(o, " stval    %016llx\r\n", (unsigned long long)h->stval);
	out(o, " satp     %016llx\r\n", (unsigned long long)h->satp);
	for (int i = 0; i < 32; i++) {
		char reg[16];
		snprintf(reg, sizeof(reg), "x%d/%s", i, abi[i]);
		out(o, " %-8s %016llx%s", reg, (unsigned long long)h->x[i], i % 4 == 3 ? "\r\n" : "");
	}
}

/* One hart (cpu-index, default 0) or, with -a, all; read with the vCPU
 * parked so the registers belong together. */
static int info_registers(struct qmp_ctx *ctx, const char *rest, json_t *args,
			  struct hmp_out *o, struct qmp_error *err)
{
	struct vm *vm = ctx->vm;
	bool all = !strcmp(rest, "-a");
	if (*rest && !all)
		return qmp_fail(err, "GenericError", "info registers: unknown argument '%s' (give -a or nothing)", rest);
	json_t *ci = json_object_get(args, "cpu-index");
	json_int_t cpu = json_is_integer(ci) ? json_integer_value(ci) : 0;
	if (ci && (!json_is_integer(ci) || cpu < 0 || cpu >= vm->cpus.nharts))
		return qmp_fail(err, "GenericError", "Parameter 'cpu-index' expects a CPU index 0..%d",
				vm->cpus.nharts - 1);
	vm_pause(vm);
	for (int i = 0; i < vm->cpus.nharts; i++) {
		if (!all && i != cpu)
			continue;
		if (all)
			out(o, "CPU#%d\r\n", i);
		hart_regs(vm->cpus.harts[i], o);
	}
	vm_resume(vm);
	return 0;
}

int qmp_cmd_human_monitor_command(struct qmp_ctx *ctx, json_t *args, json_t **ret,
				  struct qmp_error *err)
{
	const char *line = json_string_value(json_object_get(args, "command-line"));
	if (!line)
		return qmp_fail(err, "GenericError", "Invalid parameter type for 'command-line', expected: string");
	char cmd[128];
	while (*line == ' ')
		line++;
	snprintf(cmd, sizeof(cmd), "%s", line);
	size_t n = strlen(cmd);
	while (n && (cmd[n - 1] == ' ' || cmd[n - 1] == '\n' || cmd[n - 1] == '\r'))
		cmd[--n] = 0;
	struct hmp_out *o = calloc(1, sizeof(*o));
	if (!o)
		return qmp_fail(err, "GenericError", "out of memory");
	int r = 0;
	if (!strcmp(cmd, "info status")) {
		info_status(ctx, o);
	} else if (!strcmp(cmd, "info migrate")) {
		r = info_migrate(ctx, o, err);
	} else if (!strncmp(cmd, "info registers", 14) && (cmd[14] == 0 || cmd[14] == ' ')) {
		const char *rest = cmd + 14;
		while (*rest == ' ')
			rest++;
		r = info_registers(ctx, rest, args, o, err);
	} else if (!strcmp(cmd, "help") || !strcmp(cmd, "info")) {
		out(o, "info status -- show the VM status\r\n"
		       "info migrate -- show migration status\r\n"
		       "info registers [-a] -- show the cpu registers (-a: all CPUs)\r\n");
	} else {
		r = qmp_fail(err, "GenericError", "HMP command '%.60s' is not supported by tern (it answers "
			     "info status, info migrate, info registers; use QMP for the rest)", cmd);
	}
	if (!r)
		*ret = json_string(o->buf);
	free(o);
	return r;
}
