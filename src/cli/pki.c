/* `tern pki`: make the cluster CA and host certificates for agents and
 * TLS migration, and show or verify a certificate. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "pki/pki.h"

#define PKI_MAX_NAMES 16

static void pki_usage(FILE *f)
{
	fprintf(f,
		"usage: tern pki <command> ...\n"
		"\n"
		"  init [--dir DIR] [--name CN] [--days N]\n"
		"        make the cluster's certificate authority in DIR: ca.crt and ca.key\n"
		"        (mode 0600; keep it off the hosts). Refuses a DIR that has a CA.\n"
		"  host NAME [--dir DIR] [--out OUTDIR] [--ip ADDR]... [--dns NAME]... [--days N]\n"
		"        issue a certificate for host NAME, signed by the CA in DIR, into\n"
		"        OUTDIR (default DIR/hosts/NAME): ca.crt, host.crt, host.key (0600).\n"
		"        Copy OUTDIR to the host and give it to 'ternd --tls-dir'. The\n"
		"        certificate names NAME plus every --dns and --ip (give the\n"
		"        addresses peers use to reach the host).\n"
		"  show FILE|OUTDIR [--ca CAFILE]\n"
		"        print a certificate's subject, issuer, validity and names; with a\n"
		"        host folder, or --ca, also verify it against the CA\n"
		"\n"
		"DIR defaults to /etc/tern/pki for root, else $XDG_CONFIG_HOME/tern/pki.\n"
		"Keys are EC P-256, signatures SHA-256; host certificates are valid for\n"
		"both server and client use, since agents and migrations authenticate\n"
		"both ways. Exit status: 0 on success, 1 on an error, 2 on a usage error.\n");
}

static int usage_error(const char *msg)
{
	fprintf(stderr, "tern pki: %s (see 'tern pki --help')\n", msg);
	return 2;
}

static int parse_days(const char *s, unsigned *days)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v == 0 || v > 36500 || *s == '-')
		return -1;
	*days = (unsigned)v;
	return 0;
}

enum { OPT_DIR = 1, OPT_NAME, OPT_DAYS, OPT_OUT, OPT_IP, OPT_DNS, OPT_CA };

static const struct option pki_opts[] = {
	{ "dir", required_argument, NULL, OPT_DIR },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "days", required_argument, NULL, OPT_DAYS },
	{ "out", required_argument, NULL, OPT_OUT },
	{ "ip", required_argument, NULL, OPT_IP },
	{ "dns", required_argument, NULL, OPT_DNS },
	{ "ca", required_argument, NULL, OPT_CA },
	{ "help", no_argument, NULL, 'h' },
	{ 0 },
};

struct pki_args {
	const char *dir, *name, *out, *ca;
	unsigned days;
	const char *ips[PKI_MAX_NAMES], *dns[PKI_MAX_NAMES];
	size_t n_ips, n_dns;
};

/* Options common to the subcommands; which apply is checked by each. */
static int parse_args(int argc, char **argv, struct pki_args *a)
{
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", pki_opts, NULL)) != -1) {
		switch (c) {
		case OPT_DIR: a->dir = optarg; break;
		case OPT_NAME: a->name = optarg; break;
		case OPT_OUT: a->out = optarg; break;
		case OPT_CA: a->ca = optarg; break;
		case OPT_DAYS:
			if (parse_days(optarg, &a->days))
				return usage_error("--days wants a number of days, 1 to 36500");
			break;
		case OPT_IP:
		case OPT_DNS:
			if ((c == OPT_IP ? a->n_ips : a->n_dns) == PKI_MAX_NAMES)
				return usage_error("at most 16 --ip and 16 --dns");
			if (c == OPT_IP)
				a->ips[a->n_ips++] = optarg;
			else
				a->dns[a->n_dns++] = optarg;
			break;
		case 'h': pki_usage(stdout); return 1;
		default: return 2;
		}
	}
	return 0;
}

static int pki_init(int argc, char **argv)
{
	struct pki_args a = { 0 };
	char dir[4096], err[512];
	int rc = parse_args(argc, argv, &a);
	if (rc)
		return rc == 1 ? 0 : 2;
	if (optind != argc)
		return usage_error("init takes no operands");
	if (a.out || a.ca || a.n_ips || a.n_dns)
		return usage_error("init takes only --dir, --name and --days");
	if (!a.dir && pki_default_dir(dir, sizeof dir))
		return usage_error("no default folder (HOME unset): give --dir");
	if (pki_ca_init(a.dir ? a.dir : dir, a.name, a.days, err, sizeof err)) {
		fprintf(stderr, "tern pki init: %s\n", err);
		return 1;
	}
	printf("CA made in %s (%s, and %s: keep it private)\n", a.dir ? a.dir : dir,
	       PKI_CA_CERT, PKI_CA_KEY);
	return 0;
}

static int pki_host(int argc, char **argv)
{
	struct pki_args a = { 0 };
	char dir[4096], out[4200], err[512];
	int rc = parse_args(argc, argv, &a);
	if (rc)
		return rc == 1 ? 0 : 2;
	if (optind != argc - 1)
		return usage_error("host wants one NAME");
	if (a.name || a.ca)
		return usage_error("host takes --dir, --out, --ip, --dns and --days");
	if (!a.dir && pki_default_dir(dir, sizeof dir))
		return usage_error("no default folder (HOME unset): give --dir");
	const char *ca_dir = a.dir ? a.dir : dir;
	const char *name = argv[optind];
	if (!a.out)
		snprintf(out, sizeof out, "%s/hosts/%s", ca_dir, name);
	struct pki_host_opts o = {
		.name = name, .ips = a.ips, .n_ips = a.n_ips,
		.dns = a.dns, .n_dns = a.n_dns, .days = a.days,
	};
	if (strchr(name, '/'))
		return usage_error("NAME must not contain '/'");
	if (pki_host_issue(ca_dir, &o, a.out ? a.out : out, err, sizeof err)) {
		fprintf(stderr, "tern pki host: %s\n", err);
		return 1;
	}
	printf("certificate for %s in %s\n", name, a.out ? a.out : out);
	return 0;
}

static int pki_show(int argc, char **argv)
{
	struct pki_args a = { 0 };
	char crt[4096], ca[4096], buf[4096], err[512];
	int rc = parse_args(argc, argv, &a);
	if (rc)
		return rc == 1 ? 0 : 2;
	if (optind != argc - 1)
		return usage_error("show wants one FILE or folder");
	const char *target = argv[optind];
	const char *ca_file = a.ca;
	FILE *probe;
	snprintf(crt, sizeof crt, "%s/%s", target, PKI_HOST_CERT);
	if ((probe = fopen(crt, "re"))) {          /* a host folder */
		fclose(probe);
		snprintf(ca, sizeof ca, "%s/%s", target, PKI_CA_CERT);
		if (!ca_file)
			ca_file = ca;
	} else {
		snprintf(crt, sizeof crt, "%s", target);
	}
	rc = pki_describe(crt, ca_file, buf, sizeof buf, err, sizeof err);
	fputs(buf, stdout);
	if (rc) {
		fprintf(stderr, "tern pki show: %s\n", err);
		return 1;
	}
	if (ca_file)
		printf("verified:  signed by %s\n", ca_file);
	return 0;
}

int cli_pki(int argc, char **argv)
{
	if (argc < 2)
		return usage_error("a command is required");
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		pki_usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "init"))
		return pki_init(argc - 1, argv + 1);
	if (!strcmp(cmd, "host"))
		return pki_host(argc - 1, argv + 1);
	if (!strcmp(cmd, "show"))
		return pki_show(argc - 1, argv + 1);
	fprintf(stderr, "tern pki: unknown command '%s' (see 'tern pki --help')\n", cmd);
	return 2;
}
