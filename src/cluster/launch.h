/* How one machine or switch of a project becomes a process: the `tern run`
 * command line built from a machine (the one place that knows it), its
 * files in the project folder, spawning, and stopping. */
#ifndef TERN_CLUSTER_LAUNCH_H
#define TERN_CLUSTER_LAUNCH_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct project;

struct launch_argv {
	char **v;                   /* NULL-terminated, each string owned */
	size_t n;
};

/* The argv of `tern run` for machine mi, with its files under dir:
 * --name PROJECT.MACHINE, console on dir/MACHINE/console.sock with a copy in
 * console.log, overlays dir/MACHINE/diskN.qcow2, the seed disk when the
 * machine has guest configuration, NICs on dir/sw/SWITCH. tern is the
 * binary to run (argv[0]). Returns 0 or -1 with a reason in err. */
int launch_machine_argv(const struct project *p, size_t mi, const char *dir, const char *tern,
			struct launch_argv *out, char *err, size_t errlen);
/* The same for a restore: --incoming file:SNAPSHOT plus the overrides
 * (name, console, disks, NICs) that a snapshot accepts. */
int launch_restore_argv(const struct project *p, size_t mi, const char *dir, const char *tern,
			const char *snapshot, struct launch_argv *out, char *err, size_t errlen);
void launch_argv_free(struct launch_argv *a);

/* Creates dir/MACHINE and the qcow2 overlays missing there. */
int launch_prepare_machine(const struct project *p, size_t mi, const char *dir, char *err, size_t errlen);
/* Overlay of disk k of machine mi (or the file itself for file=). */
int launch_disk_path(const struct project *p, size_t mi, size_t k, const char *dir, char *buf, size_t len);
/* The vde_switch control folder of switch si. */
int launch_switch_sock(const struct project *p, size_t si, const char *dir, char *buf, size_t len);

/* The tern binary that VMs run from: the running one (/proc/self/exe), or
 * the lean tern beside it when this is tern-tools (src/cli/main.c). */
int launch_self_exe(char *buf, size_t len);
/* fork + setsid + exec argv with stdin on /dev/null and stdout/stderr
 * appended to log. Returns the pid or -errno. */
pid_t launch_spawn(char *const argv[], const char *log);

/* Starts a daemonized vde_switch on control folder sock (pid file
 * sock.pid, management socket sock.mgmt), its output appended to log. */
int launch_vde_switch_at(const char *sock, const char *log, pid_t *pid, char *err, size_t errlen);
/* Starts a daemonized vde_switch with its socket under dir/sw; its pid. */
int launch_switch_start(const struct project *p, size_t si, const char *dir, pid_t *pid,
			char *err, size_t errlen);
/* Ends process pid (start time start) and waits up to timeout_s: SIGTERM,
 * then SIGKILL. Returns 0 once it is gone. */
int launch_kill(pid_t pid, unsigned long long start, double timeout_s);
/* Removes a switch's socket folder, pid file and management socket. */
void launch_switch_cleanup(const char *sock);
/* Stops a machine: QMP system_powerdown (quit when the board has no power
 * button), then SIGKILL after timeout_s. Removes its stale sockets. */
int launch_machine_stop(pid_t pid, unsigned long long start, const char *qmp, const char *console_sock,
			double timeout_s);
/* Waits up to timeout_s for pid to exit (reaping it when it is our child). */
bool launch_wait_gone(pid_t pid, unsigned long long start, double timeout_s);
#endif
