/* Gathers and prints one VM's row: name and state over QMP, uptime from the
 * VM, CPU time and resident memory from /proc/PID. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cli/vm_info.h"
#include "core/procstat.h"
#include "ctl/qmp_client.h"


static uint64_t proc_rss_bytes(pid_t pid)
{
	char path[64];
	unsigned long long pages = 0;
	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%*u %llu", &pages) != 1)
		pages = 0;
	fclose(f);
	return pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void vm_info_sample_cpu(struct vm_info *rows, size_t n, int interval_ms)
{
	if (!n)
		return;
	/* One pause for all rows, measured from the last one read. */
	double wait = interval_ms / 1000.0 - (mono_s() - rows[n - 1].sampled_s);
	if (wait > 0) {
		struct timespec ts = { (time_t)wait, (long)((wait - (time_t)wait) * 1e9) };
		nanosleep(&ts, NULL);
	}
	for (size_t i = 0; i < n; i++) {
		double cpu = rows[i].pid > 0 ? proc_cpu_seconds(rows[i].pid) : -1;
		double dt = mono_s() - rows[i].sampled_s;
		if (cpu >= 0 && rows[i].cpu_s >= 0 && dt > 0)
			rows[i].cpu_pct = 100.0 * (cpu - rows[i].cpu_s) / dt;
	}
}

int vm_info_get(struct qmp_client_conn *c, struct vm_info *info, char *err, size_t errlen)
{
	memset(info, 0, sizeof(*info));
	json_t *name = qmp_client_execute(c, "query-name", NULL, err, errlen);
	json_t *st = name ? qmp_client_execute(c, "query-status", NULL, err, errlen) : NULL;
	json_t *x = st ? qmp_client_execute(c, "x-query-tern", NULL, err, errlen) : NULL;
	int ok = x != NULL;
	if (ok) {
		const char *n = json_string_value(json_object_get(name, "name"));
		const char *s = json_string_value(json_object_get(st, "status"));
		snprintf(info->name, sizeof(info->name), "%s", n ? n : "?");
		snprintf(info->status, sizeof(info->status), "%s", s ? s : "?");
		info->mem_bytes = (uint64_t)json_integer_value(json_object_get(x, "memory-bytes"));
		info->cpus = (int)json_integer_value(json_object_get(x, "cpus"));
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		double now = (double)ts.tv_sec + ts.tv_nsec / 1e9;
		info->uptime_s = now - (double)json_integer_value(json_object_get(x, "started-ns")) / 1e9;
		info->pid = qmp_client_peer_pid(c);
		double cpu = info->pid > 0 ? proc_cpu_seconds(info->pid) : -1;
		info->cpu_pct = cpu >= 0 && info->uptime_s > 0 ? 100.0 * cpu / info->uptime_s : 0;
		info->cpu_s = cpu;
		info->sampled_s = mono_s();
		info->rss_bytes = info->pid > 0 ? proc_rss_bytes(info->pid) : 0;
	}
	json_decref(name);
	json_decref(st);
	json_decref(x);
	return ok ? 0 : -1;
}

void vm_info_print_header(void)
{
	printf("%-24s %-14s %8s %10s %6s %9s %9s %4s\n", "NAME", "STATE", "PID", "UPTIME",
	       "CPU%", "MEMORY", "RSS", "CPUS");
}

static void fmt_uptime(double s, char *buf, size_t len)
{
	unsigned long t = (unsigned long)s;
	if (t >= 86400)
		snprintf(buf, len, "%lud%02luh", t / 86400, t % 86400 / 3600);
	else
		snprintf(buf, len, "%02lu:%02lu:%02lu", t / 3600, t % 3600 / 60, t % 60);
}

void vm_info_print_row(const struct vm_info *i)
{
	char up[32];
	fmt_uptime(i->uptime_s, up, sizeof(up));
	printf("%-24s %-14s %8d %10s %6.1f %8lluM %8lluM %4d\n", i->name, i->status, (int)i->pid, up,
	       i->cpu_pct, (unsigned long long)(i->mem_bytes >> 20),
	       (unsigned long long)(i->rss_bytes >> 20), i->cpus);
}
