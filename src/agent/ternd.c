/* ternd: the host agent. Registers the host in the store under a lease,
 * supervises and adopts the host's VMs, reconciles them to their records,
 * and serves the HTTP API (docs/API.md). VMs outlive it. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "agent/agent.h"
#include "core/procstat.h"
#include "agent/agent_cons.h"
#include "agent/records.h"
#include "ctl/ctl_path.h"
#include "store/store.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ternd --host NAME [--listen HOST:PORT] [--etcd URL[,URL...]] [--state-dir DIR]\n"
		"             [options]\n"
		"\n"
		"The tern host agent: starts, stops, watches and migrates this host's VMs, each\n"
		"its own 'tern run' process (they keep running when ternd stops or dies), and\n"
		"serves the HTTP API (docs/API.md).\n"
		"\n"
		"  --host NAME            this host's name in the cluster (required)\n"
		"  --listen HOST:PORT     where the API listens (default 127.0.0.1:8006); HOST is\n"
		"                         also the address other hosts use. A non-loopback\n"
		"                         address needs --tls-dir, or --allow-plain-http\n"
		"  --etcd URL[,URL...]    the cluster's etcd (default: $TERN_ETCD; without\n"
		"                         either, a local store in STATE_DIR/store: one host)\n"
		"  --state-dir DIR        VMs, logs, the API token (default /var/lib/ternd as\n"
		"                         root, else ~/.local/state/ternd; or $TERN_STATE_DIR)\n"
		"  --tls-dir DIR          HTTPS, migrations and switch cables over TLS 1.3 with\n"
		"                         DIR/ca.crt, host.crt, host.key (tern pki host); peers\n"
		"                         must present certificates from that CA\n"
		"  --images DIR           base images of disks that migrate here with\n"
		"                         copy_storage: DIR/NAME, NAME the file name of the\n"
		"                         source's base (default: the source's own path); size\n"
		"                         and SHA-256 must match the source's\n"
		"  --allow-plain-http     serve a non-loopback address over plain HTTP: only on\n"
		"                         an isolated network (the token crosses it in clear)\n"
		"  --web-root DIR         serve the dashboard's files from DIR (default:\n"
		"                         PREFIX/share/tern/web beside the binary, or build/web)\n"
		"  --qmp-dir DIR          the VMs' control sockets, DIR/NAME.qmp (default: tern's\n"
		"                         own, $XDG_RUNTIME_DIR/tern or /run/tern, so that 'tern\n"
		"                         list' and 'tern pause NAME' see them); keep it the same\n"
		"                         across restarts: adoption looks there\n"
		"  --tern PATH            the tern binary for VMs (default: next to ternd)\n"
		"  --cable-port PORT      where VDE cables of project switches spanning hosts\n"
		"                         are accepted (default: the --listen port + 1, or any\n"
		"                         free port when that is taken)\n"
		"  --power-cmd-standby CMD  what 'tern host standby' runs here (e.g.\n"
		"                         'systemctl suspend')\n"
		"  --power-cmd-wake CMD   what 'tern host wake' runs (on the waking machine,\n"
		"                         e.g. 'wakeonlan 00:11:22:33:44:55')\n"
		"  -h, --help             this help\n"
		"\n");
	agent_cons_usage(f);
	fprintf(f, "\n"
		"The API token is created at first start in STATE_DIR/token (mode 0600); with\n"
		"etcd, all agents share the cluster's token. SIGTERM stops ternd; VMs go on.\n");
}

static int is_loopback(const char *host)
{
	return !strncmp(host, "127.", 4) || !strcmp(host, "localhost") || !strcmp(host, "::1");
}

static int mkdir_p(const char *path)
{
	char tmp[1024];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			if (mkdir(tmp, 0755) && errno != EEXIST)
				return -1;
			*p = '/';
		}
	return mkdir(tmp, 0700) && errno != EEXIST ? -1 : 0;
}

/* The dashboard installed beside the binary (PREFIX/share/tern/web), or
 * built beside it in the source tree (build/web); none: empty. */
static void default_web_root(char *buf, size_t len)
{
	char self[1024], dir[1024], probe[1200];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = 0;
	snprintf(dir, sizeof(dir), "%s", dirname(self));
	const char *cands[] = { "%s/../share/tern/web", "%s/web" };
	buf[0] = 0;
	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		snprintf(probe, sizeof(probe), cands[i], dir);
		size_t l = strlen(probe);
		snprintf(probe + l, sizeof(probe) - l, "/index.html");
		if (access(probe, R_OK) == 0) {
			snprintf(buf, len, "%.*s", (int)l, probe);
			return;
		}
	}
}

static int pending_stop(const sigset_t *set)
{
	struct timespec zero = { 0, 0 };
	int sig = sigtimedwait(set, NULL, &zero);
	return sig == SIGTERM || sig == SIGINT;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "listen", required_argument, NULL, 'l' },
		{ "etcd", required_argument, NULL, 'e' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "tls-dir", required_argument, NULL, 't' },
		{ "images", required_argument, NULL, 'I' },
		{ "web-root", required_argument, NULL, 'w' },
		{ "tern", required_argument, NULL, 'T' },
		{ "power-cmd-standby", required_argument, NULL, 'S' },
		{ "power-cmd-wake", required_argument, NULL, 'W' },
		{ "allow-plain-http", no_argument, NULL, 'P' },
		{ "qmp-dir", required_argument, NULL, 'Q' },
		{ "cable-port", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "power-idle", required_argument, NULL, 1000 },
		{ "power-peak", required_argument, NULL, 1000 },
		{ "power-table", required_argument, NULL, 1000 },
		{ "power-standby", required_argument, NULL, 1000 },
		{ "capacity-cpus", required_argument, NULL, 1000 },
		{ "history-interval", required_argument, NULL, 1000 },
		{ "history-len", required_argument, NULL, 1000 },
		{ "auto-consolidate", required_argument, NULL, 1000 },
		{ NULL, 0, NULL, 0 },
	};
	struct agent *a = calloc(1, sizeof(*a));
	if (!a)
		return 1;
	pthread_mutex_init(&a->lock, NULL);
	pthread_mutex_init(&a->sw_lock, NULL);
	a->cable_fd = -1;
	a->tls_fd = -1;
	if (!(a->cons = agent_cons_new()))
		return 1;
	a->ext = &agent_cons_ext;
	char cerr[300];
	int optidx = 0;
	snprintf(a->listen, sizeof(a->listen), "127.0.0.1:8006");
	const char *etcd = getenv("TERN_ETCD");
	int ch, plain_ok = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", opts, &optidx)) != -1) {
		switch (ch) {
		case 1000:
			if (agent_cons_flag(a->cons, opts[optidx].name, optarg, cerr, sizeof(cerr))) {
				fprintf(stderr, "ternd: %s\n", cerr);
				return 2;
			}
			break;
		case 'H': snprintf(a->host, sizeof(a->host), "%s", optarg); break;
		case 'l': snprintf(a->listen, sizeof(a->listen), "%s", optarg); break;
		case 'e': etcd = optarg; break;
		case 's': snprintf(a->state_dir, sizeof(a->state_dir), "%s", optarg); break;
		case 't': snprintf(a->tls_dir, sizeof(a->tls_dir), "%s", optarg); break;
		case 'I': snprintf(a->images_dir, sizeof(a->images_dir), "%s", optarg); break;
		case 'w': snprintf(a->web_root, sizeof(a->web_root), "%s", optarg); break;
		case 'T': snprintf(a->tern_bin, sizeof(a->tern_bin), "%s", optarg); break;
		case 'S': snprintf(a->power_cmd_standby, sizeof(a->power_cmd_standby), "%s", optarg); break;
		case 'W': snprintf(a->power_cmd_wake, sizeof(a->power_cmd_wake), "%s", optarg); break;
		case 'P': plain_ok = 1; break;
		case 'Q': snprintf(a->qmp_dir, sizeof(a->qmp_dir), "%s", optarg); break;
		case 'C': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (!*optarg || *end || v < 1 || v > 65535) {
				fprintf(stderr, "ternd: --cable-port takes a port 1..65535, not '%s'\n", optarg);
				return 2;
			}
			a->cable_port = (int)v;
			break;
		}
		case 'h': usage(stdout); return 0;
		case ':':
			fprintf(stderr, "ternd: option '%s' needs a value (see 'ternd --help')\n", argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "ternd: unknown option '%s' (see 'ternd --help')\n", argv[optind - 1]);
			return 2;
		}
	}
	if (agent_cons_check(a->cons, cerr, sizeof(cerr))) {
		fprintf(stderr, "ternd: %s\n", cerr);
		return 2;
	}
	if (optind < argc) {
		fprintf(stderr, "ternd: unexpected argument '%s' (see 'ternd --help')\n", argv[optind]);
		return 2;
	}
	if (!a->host[0] || !rec_name_ok(a->host)) {
		fprintf(stderr, "ternd: --host NAME is required: 1-63 of A-Z a-z 0-9 _ . - (see 'ternd --help')\n");
		return 2;
	}
	char *colon = strrchr(a->listen, ':');
	char *end = NULL;
	long port = colon ? strtol(colon + 1, &end, 10) : 0;
	if (!colon || colon == a->listen || !end || *end || port < 1 || port > 65535) {
		fprintf(stderr, "ternd: --listen takes HOST:PORT, not '%s'\n", a->listen);
		return 2;
	}
	snprintf(a->address, sizeof(a->address), "%.*s", (int)(colon - a->listen), a->listen);
	if (!strcmp(a->address, "0.0.0.0") || !strcmp(a->address, "::")) {
		fprintf(stderr, "ternd: --listen needs the address other hosts reach, not %s\n", a->address);
		return 2;
	}
	if (a->tls_dir[0]) {
		char terr[600];
		if (agent_tls_load(a, terr, sizeof(terr))) {
			fprintf(stderr, "ternd: --tls-dir %s: %s (make it with 'tern pki host')\n", a->tls_dir, terr);
			return 2;
		}
	}
	if (!is_loopback(a->address) && !plain_ok && !a->tls_dir[0]) {
		fprintf(stderr, "ternd: --listen %s is not a loopback address: that needs --tls-dir DIR "
			"(tern pki host), or --allow-plain-http on an isolated test network\n", a->listen);
		return 2;
	}
	snprintf(a->api_url, sizeof(a->api_url), "%s://%s", a->tls_dir[0] ? "https" : "http", a->listen);
	if (!a->state_dir[0] && rec_default_state_dir(a->state_dir, sizeof(a->state_dir))) {
		fprintf(stderr, "ternd: no state directory: give --state-dir DIR\n");
		return 2;
	}
	if (!a->qmp_dir[0] && ctl_default_dir(a->qmp_dir, sizeof(a->qmp_dir))) {
		fprintf(stderr, "ternd: no control socket directory: give --qmp-dir DIR\n");
		return 2;
	}
	if (mkdir_p(a->qmp_dir)) {
		fprintf(stderr, "ternd: cannot create --qmp-dir %s: %s\n", a->qmp_dir, strerror(errno));
		return 1;
	}
	if (mkdir_p(a->state_dir)) {
		fprintf(stderr, "ternd: cannot create --state-dir %s: %s\n", a->state_dir, strerror(errno));
		return 1;
	}
	if (!a->tern_bin[0])
		proc_self_path("tern", a->tern_bin, sizeof(a->tern_bin));
	if (!a->web_root[0])
		default_web_root(a->web_root, sizeof(a->web_root));
	if (access(a->tern_bin, X_OK)) {
		fprintf(stderr, "ternd: %s is not executable: give --tern PATH\n", a->tern_bin);
		return 2;
	}
	char err[512];
	/* Signals are taken synchronously by the main loop: no handler state. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	a->etcd = etcd && *etcd ? etcd : NULL;
	a->store = store_open(a->etcd, a->state_dir, err, sizeof(err));
	if (!a->store) {
		fprintf(stderr, "ternd: %s\n", err);
		return 2;
	}
	/* The store may still be starting: wait for it, VMs untouched. */
	for (int tries = 0; agent_host_register(a, err, sizeof(err)); tries++) {
		if (tries % 10 == 0)
			fprintf(stderr, "ternd: %s (retrying)\n", err);
		struct timespec ts = { 1, 0 };
		nanosleep(&ts, NULL);
		if (pending_stop(&set))
			return 1;
	}
	if (rec_token(a->store, a->state_dir, a->etcd != NULL, a->token, sizeof(a->token), err, sizeof(err))) {
		fprintf(stderr, "ternd: %s\n", err);
		return 1;
	}
	if (a->tls_dir[0]) {
		/* The CLI verifies agents with the CA it finds in the store. */
		char ca[1100];
		snprintf(ca, sizeof(ca), "%s/ca.crt", a->tls_dir);
		FILE *f = fopen(ca, "r");
		char pem[16384];
		size_t n = f ? fread(pem, 1, sizeof(pem) - 1, f) : 0;
		if (f)
			fclose(f);
		pem[n] = 0;
		if (n && store_put(a->store, REC_CA, pem, 0))
			fprintf(stderr, "ternd: cannot publish the CA certificate: %s\n", store_error(a->store));
	}
	agent_vm_adopt_all(a);
	if (agent_http_start(a, err, sizeof(err))) {
		fprintf(stderr, "ternd: %s\n", err);
		return 1;
	}
	if (agent_cable_start(a, err, sizeof(err))) {
		fprintf(stderr, "ternd: %s\n", err);
		agent_http_stop(a);
		return 1;
	}
	fprintf(stderr, "ternd: host %s serving %s/api/v1 (store: %s); API token in %s/token\n", a->host,
		a->api_url, a->etcd ? a->etcd : "local", a->state_dir);
	if (a->web_root[0])
		fprintf(stderr, "ternd: dashboard at %s/ (from %s); sign in with the token\n", a->api_url,
			a->web_root);
	int64_t rev = agent_reconcile(a), last_publish = 0, last_reconcile = agent_now_ms();
	agent_host_publish(a);
	if (agent_cons_start(a))
		fprintf(stderr, "ternd: cannot start --auto-consolidate\n");
	int was_ok = 1;
	while (!pending_stop(&set)) {
		agent_vm_sample(a);
		agent_history_tick(a);
		int64_t now = agent_now_ms();
		if (now - last_publish >= 2000) {
			store_lease_keepalive(a->store, a->lease);
			agent_host_publish(a);
			agent_switch_tick(a);
			last_publish = now;
			int ok = atomic_load(&a->store_ok);
			if (ok != was_ok)
				fprintf(stderr, ok ? "ternd: the store is back\n"
						   : "ternd: the store is unreachable (%s); VMs keep running\n",
					store_error(a->store));
			was_ok = ok;
		}
		int w = rev >= 0 ? store_watch(a->store, REC_VMS, rev, 1000) : -1;
		if (w < 0) {
			struct timespec ts = { 1, 0 };
			nanosleep(&ts, NULL);
		}
		if (w != 0 || agent_now_ms() - last_reconcile >= 5000) {
			rev = agent_reconcile(a);
			last_reconcile = agent_now_ms();
		}
	}
	fprintf(stderr, "ternd: stopping; the VMs keep running\n");
	atomic_store(&a->stop, 1);
	agent_cons_stop(a);
	agent_http_stop(a);
	atomic_store(&a->stop, 1);
	agent_cable_stop(a);
	store_lease_revoke(a->store, a->lease);
	store_close(a->store);
	return 0;
}
