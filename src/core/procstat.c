/* procstat: parse /proc/PID/stat (the command name in parentheses may hold
 * spaces and parentheses, so fields are counted from the last ')'). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "core/procstat.h"

int proc_stat_read(pid_t pid, struct proc_stat *out)
{
	char path[64], buf[1024];
	if (pid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	const char *p = strrchr(buf, ')');
	/* Fields from 3: state, then utime 14, stime 15, starttime 22. */
	if (!p || sscanf(p + 2, "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu "
			 "%*d %*d %*d %*d %*d %*d %llu", &out->state, &out->utime, &out->stime,
			 &out->start_ticks) != 4)
		return -EINVAL;
	return 0;
}

double proc_cpu_seconds(pid_t pid)
{
	struct proc_stat s;
	if (proc_stat_read(pid, &s))
		return -1;
	return (double)(s.utime + s.stime) / (double)sysconf(_SC_CLK_TCK);
}

int64_t proc_start_wall_ms(pid_t pid)
{
	struct proc_stat s;
	char line[256];
	if (proc_stat_read(pid, &s))
		return 0;
	FILE *f = fopen("/proc/stat", "re");
	long long btime = 0;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %lld", &btime) == 1)
			break;
	if (f)
		fclose(f);
	return btime ? btime * 1000 + (int64_t)(s.start_ticks * 1000 / (unsigned long long)sysconf(_SC_CLK_TCK)) : 0;
}

int proc_self_path(const char *name, char *buf, size_t len)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return n < 0 ? -errno : -ENOENT;
	self[n] = 0;
	char *slash = strrchr(self, '/');
	int k = !name ? snprintf(buf, len, "%s", self)
		      : snprintf(buf, len, "%.*s/%s", slash ? (int)(slash - self) : 1, slash ? self : ".", name);
	return k < 0 || (size_t)k >= len ? -ENAMETOOLONG : 0;
}
