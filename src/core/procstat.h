/* procstat: what /proc/PID/stat says of a process: its state, CPU time and
 * start time. One parser for tern list, ternd and the cluster supervisor,
 * which all watch VM processes they did not necessarily start. */
#ifndef TERN_PROCSTAT_H
#define TERN_PROCSTAT_H
#include <stdint.h>
#include <sys/types.h>

struct proc_stat {
	char state;                     /* R, S, D, Z, ... */
	unsigned long long utime, stime;        /* clock ticks */
	unsigned long long start_ticks; /* since boot; with pid, names a process for good */
};

/* 0, or -errno (-ESRCH when there is no such process). */
int proc_stat_read(pid_t pid, struct proc_stat *out);
/* utime + stime in seconds; -1 when the process is gone. */
double proc_cpu_seconds(pid_t pid);
/* Start time as wall-clock milliseconds since the epoch; 0 if unknown. */
int64_t proc_start_wall_ms(pid_t pid);
/* The path of the running binary (/proc/self/exe) with its file name
 * replaced by name, or the binary itself when name is NULL: 0, or -errno
 * (-ENAMETOOLONG when buf is too small). */
int proc_self_path(const char *name, char *buf, size_t len);
#endif
