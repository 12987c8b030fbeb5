/* The control side of `tern run`: the default VM name, the QMP socket's
 * path and lifetime, and the SHUTDOWN event when the VM ends. */
#ifndef TERN_RUN_CTL_H
#define TERN_RUN_CTL_H
#include <stddef.h>

struct vm;
struct virt_config;
struct qmp_server;

struct run_ctl {
	const char *qmp_path;       /* --qmp: a path, "none", or NULL for the default */
	char path_buf[256];
	char name_buf[32];
	struct qmp_server *srv;
};

/* Before the VM is built: default name (tern-PID) and socket path. */
int run_ctl_prepare(struct run_ctl *ctl, struct virt_config *cfg, char *err, size_t errlen);
/* After virt_create: start serving QMP. */
int run_ctl_start(struct run_ctl *ctl, struct vm *vm, char *err, size_t errlen);
/* After virt_run returned why (enum vm_exit): SHUTDOWN, then close. */
void run_ctl_stop(struct run_ctl *ctl, struct vm *vm, int why);
#endif
