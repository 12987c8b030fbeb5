/* `tern status|pause|resume|stop|kill NAME`: one QMP exchange each with the
 * VM's control socket. stop presses the power button, then kills the VM
 * when the guest has not powered off after --timeout seconds. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/balloon.h"
#include "cli/cli.h"
#include "cli/vm_info.h"
#include "ctl/qmp_client.h"

#define CTL_TIMEOUT_MS 10000
#define STOP_EXIT_KILLED 3      /* as tern run's status for a killed VM */

static const struct {
	const char *verb, *usage;
} verbs[] = {
	{ "status", "Show one VM's state, pid, uptime, CPU and memory." },
	{ "pause", "Stop the VM's harts (QMP stop); guest time stands still." },
	{ "resume", "Let a paused VM run again (QMP cont)." },
	{ "stop", "Press the VM's power button (QMP system_powerdown) and wait for the guest\n"
		  "to power off; kill the VM (QMP quit) when it has not after --timeout seconds\n"
		  "(default 30).\n\n"
		  "Exit status: 0 when the guest powered off by itself; 3 when the VM had to\n"
		  "be killed; 1 on an error (no such VM, or it ended some other way, e.g. a\n"
		  "reboot with --reboot exit); 2 on a usage error." },
	{ "kill", "Quit the VM now (QMP quit), as pulling the plug; waits until it is gone." },
};

static int vm_gone(struct qmp_client_conn *c)
{
	/* The server closes every client when the VM process ends. */
	return qmp_client_wait_event(c, "\x01never", CTL_TIMEOUT_MS) ? 0 : -1;
}

static int quit_vm(struct qmp_client_conn *c, const char *name)
{
	char err[256];
	json_t *r = qmp_client_execute(c, "quit", NULL, err, sizeof(err));
	if (!r) {
		fprintf(stderr, "tern: %s: quit failed: %s\n", name, err);
		return 1;
	}
	json_decref(r);
	vm_gone(c);
	return 0;
}

/* system_powerdown, then wait for the guest's own power-off. 0: it powered
 * off; STOP_EXIT_KILLED: it had not after timeout_s (or could not be
 * asked), so the VM was quit; 1: an error. */
static int stop_vm(struct qmp_client_conn *c, const char *name, int timeout_s)
{
	char err[256];
	json_t *r = qmp_client_execute(c, "system_powerdown", NULL, err, sizeof(err));
	if (!r) {
		fprintf(stderr, "tern: %s: %s; killing the VM\n", name, err);
		return quit_vm(c, name) ? 1 : STOP_EXIT_KILLED;
	}
	json_decref(r);
	json_t *data = NULL;
	if (qmp_client_wait_event_data(c, "SHUTDOWN", timeout_s * 1000, &data)) {
		fprintf(stderr, "tern: %s: the guest did not power off within %d s; killing the VM\n",
			name, timeout_s);
		return quit_vm(c, name) ? 1 : STOP_EXIT_KILLED;
	}
	const char *reason = json_string_value(json_object_get(data, "reason"));
	char why[64];
	snprintf(why, sizeof(why), "%s", reason ? reason : "unknown");
	json_decref(data);
	vm_gone(c);
	if (!strcmp(why, "guest-shutdown"))
		return 0;
	fprintf(stderr, "tern: %s: the VM ended without the guest powering off (%s)\n", name, why);
	return 1;
}

int cli_vmctl(int argc, char **argv)
{
	const char *verb = argv[0];
	size_t v = 0;
	while (v < sizeof(verbs) / sizeof(verbs[0]) && strcmp(verbs[v].verb, verb))
		v++;
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int timeout_s = 30, ch;
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			printf("usage: tern %s NAME%s\n\n%s\n", verb,
			       !strcmp(verb, "stop") ? " [--timeout SECONDS]" : "", verbs[v].usage);
			return 0;
		case 't': {
			char *end;
			long t = strtol(optarg, &end, 10);
			if (strcmp(verb, "stop") || *end || t < 0 || t > 86400) {
				fprintf(stderr, "tern: --timeout takes 0..86400 seconds and only for stop\n");
				return 2;
			}
			timeout_s = (int)t;
			break;
		}
		default:
			fprintf(stderr, "tern: unknown option '%s' (see 'tern %s --help')\n", argv[optind - 1], verb);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "tern: %s needs one VM name (see 'tern %s --help')\n", verb, verb);
		return 2;
	}
	const char *name = argv[optind];
	char path[256], err[256];
	if (qmp_client_resolve(name, path, sizeof(path), err, sizeof(err))) {
		fprintf(stderr, "tern: %s\n", err);
		return 1;
	}
	struct qmp_client_conn *c = qmp_client_open(path, CTL_TIMEOUT_MS, err, sizeof(err));
	if (!c) {
		fprintf(stderr, "tern: %s\n", err);
		return 1;
	}
	int rc = 0;
	if (!strcmp(verb, "status")) {
		struct vm_info info;
		if (vm_info_get(c, &info, err, sizeof(err))) {
			fprintf(stderr, "tern: %s: %s\n", name, err);
			rc = 1;
		} else {
			vm_info_sample_cpu(&info, 1, VM_INFO_CPU_INTERVAL_MS);   /* as tern list */
			vm_info_print_header();
			vm_info_print_row(&info);
			balloon_print_status(c);
		}
	} else if (!strcmp(verb, "pause") || !strcmp(verb, "resume")) {
		json_t *r = qmp_client_execute(c, verb[0] == 'p' ? "stop" : "cont", NULL, err, sizeof(err));
		if (!r) {
			fprintf(stderr, "tern: %s: %s\n", name, err);
			rc = 1;
		}
		json_decref(r);
	} else if (!strcmp(verb, "kill")) {
		rc = quit_vm(c, name);
	} else {    /* stop */
		rc = stop_vm(c, name, timeout_s);
	}
	qmp_client_close(c);
	return rc;
}
