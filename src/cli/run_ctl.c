/* `tern run`'s control socket: naming, start, and the SHUTDOWN event sent
 * before the socket closes, with QEMU's reasons. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "cli/run_ctl.h"
#include "core/vm.h"
#include "ctl/ctl_path.h"
#include "ctl/qmp_server.h"
#include "machine/virt.h"

int run_ctl_prepare(struct run_ctl *ctl, struct virt_config *cfg, char *err, size_t errlen)
{
	if (!cfg->name) {
		snprintf(ctl->name_buf, sizeof(ctl->name_buf), "tern-%d", (int)getpid());
		cfg->name = ctl->name_buf;
	}
	if (ctl->qmp_path && !strcmp(ctl->qmp_path, "none")) {
		ctl->qmp_path = NULL;
		return 0;
	}
	if (!ctl->qmp_path) {
		if (ctl_default_path(cfg->name, 1, ctl->path_buf, sizeof(ctl->path_buf), err, errlen))
			return -1;
		ctl->qmp_path = ctl->path_buf;
	}
	/* Fail before building the machine when another VM owns the name. */
	if (ctl_socket_live(ctl->qmp_path) > 0) {
		snprintf(err, errlen, "control socket %s is in use by another running VM "
			 "(choose another --name or --qmp)", ctl->qmp_path);
		return -1;
	}
	return 0;
}

int run_ctl_start(struct run_ctl *ctl, struct vm *vm, char *err, size_t errlen)
{
	if (!ctl->qmp_path)
		return 0;
	ctl->srv = qmp_server_new(vm, virt_loop(vm), ctl->qmp_path, err, errlen);
	return ctl->srv ? 0 : -1;
}

void run_ctl_stop(struct run_ctl *ctl, struct vm *vm, int why)
{
	if (!ctl->srv)
		return;
	const char *data;
	switch (why) {
	case VM_EXIT_POWEROFF: data = "{\"guest\": true, \"reason\": \"guest-shutdown\"}"; break;
	case VM_EXIT_RESET: data = "{\"guest\": true, \"reason\": \"guest-reset\"}"; break;
	case VM_EXIT_QUIT:
		data = strstr(vm->exit_msg, "signal") ? "{\"guest\": false, \"reason\": \"host-signal\"}"
		     : strstr(vm->exit_msg, "console") ? "{\"guest\": false, \"reason\": \"host-ui\"}"
						      : "{\"guest\": false, \"reason\": \"host-qmp-quit\"}";
		break;
	default: data = "{\"guest\": false, \"reason\": \"host-error\"}"; break;
	}
	vm_event(vm, "SHUTDOWN", data);
	qmp_server_free(ctl->srv);
	ctl->srv = NULL;
}
