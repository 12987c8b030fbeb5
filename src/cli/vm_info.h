/* What `tern list` and `tern status` show about one running VM: asked over
 * its control socket, plus the process's CPU time and RSS from /proc. */
#ifndef TERN_VM_INFO_H
#define TERN_VM_INFO_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct qmp_client_conn;

struct vm_info {
	char name[80];
	char status[32];
	pid_t pid;
	int cpus;
	double uptime_s;
	double cpu_pct;             /* share of one host core: since start, or over
				     * the last interval after vm_info_sample_cpu */
	double cpu_s, sampled_s;    /* CPU seconds used, and when read (monotonic) */
	uint64_t mem_bytes;         /* guest RAM */
	uint64_t rss_bytes;         /* host memory in use by the VM process */
};

int vm_info_get(struct qmp_client_conn *c, struct vm_info *info, char *err, size_t errlen);
/* The interval tern list and tern status measure CPU % over. */
#define VM_INFO_CPU_INTERVAL_MS 500

/* CPU% over the last interval_ms instead of since start, as top shows it:
 * reads each process's CPU time again after one pause for all rows. */
void vm_info_sample_cpu(struct vm_info *rows, size_t n, int interval_ms);
void vm_info_print_header(void);
void vm_info_print_row(const struct vm_info *info);
#endif
