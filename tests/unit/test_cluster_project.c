/* Unit tests for cluster project files: a good file resolves (templates,
 * defaults, MACs, paths) into the right plan, and bad files are each refused
 * with the right FILE:LINE message. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "cluster/launch.h"
#include "cluster/plan.h"
#include "cluster/project.h"
#include "project_fixture.h"

static int setup(void **state)
{
	static const char *const files[] = { "Image", "initrd.gz", "root.img", "data.img" };
	return project_fixture_setup(state, files, 4);
}

/* Loads body (its first line is line 4) with the diagnostics in *diag. */
static struct project *load(struct fixture *f, const char *body, char **diag)
{
	size_t len;
	FILE *d = open_memstream(diag, &len);
	struct project *p = project_fixture_load(f, body, d);
	fclose(d);
	return p;
}

#define BASE "<template name=\"base\" memory=\"128M\"><kernel path=\"Image\"/><initrd path=\"initrd.gz\"/></template>\n"

static void test_good_file_resolves(void **state)
{
	struct fixture *f = *state;
	char *diag = NULL;
	struct project *p = load(f,
		BASE                                                                    /* 4 */
		"<template name=\"big\" template=\"base\" memory=\"1G\" cpus=\"2\">\n"     /* 5 */
		"  <disk base=\"root.img\"/><append>console=ttyS0 big</append></template>\n"
		"<switch name=\"lan0\"/>\n"
		"<machine name=\"db\" template=\"big\" priority=\"10\">\n"
		"  <nic switch=\"lan0\" mac=\"52:54:00:00:01:01\"/><ready console=\"READY\" timeout=\"120\"/>\n"
		"</machine>\n"
		"<machine name=\"web\" template=\"big\" memory=\"512M\">\n"
		"  <append>console=ttyS0 web</append><nic switch=\"lan0\" address=\"10.0.0.3/24\"/>\n"
		"  <nic user=\"on\" hostfwd=\"tcp::8080-:80\"/><depends on=\"db\"/>\n"
		"  <ready tcp=\"127.0.0.1:8080\" timeout=\"60\"/><hostname>web</hostname>\n"
		"</machine>\n"
		"<machine name=\"cli\" host=\"h2\"><kernel path=\"Image\"/><nic switch=\"lan0\"/>\n"
		"  <disk file=\"data.img\" format=\"raw\"/></machine>\n"
		"<machine name=\"late\" template=\"base\" priority=\"10\"><ready delay=\"2\"/></machine>\n",
		&diag);
	if (!p)
		fail_msg("%s", diag);
	free(diag);
	assert_string_equal(p->name, "t");
	assert_int_equal(p->nmachines, 4);
	const struct project_machine *db = &p->machines[0], *web = &p->machines[1], *cli = &p->machines[2];
	assert_string_equal(db->name, "db");
	assert_int_equal(db->memory, 1ull << 30);
	assert_int_equal(db->cpus, 2);
	assert_int_equal(db->priority, 10);
	assert_string_equal(db->append, "console=ttyS0 big");
	assert_int_equal(db->ndisks, 1);
	char want[256];
	snprintf(want, sizeof(want), "%s/root.img", f->dir);
	assert_string_equal(db->disks[0].base, want);
	assert_int_equal(db->ready.kind, PROJECT_READY_CONSOLE);
	assert_string_equal(db->ready.console, "READY");
	assert_false(project_machine_has_guest_config(db));
	assert_int_equal(web->memory, 512ull << 20);
	assert_string_equal(web->append, "console=ttyS0 web");
	assert_int_equal(web->priority, PROJECT_DEFAULT_PRIORITY);
	assert_int_equal(web->ndepends, 1);
	assert_int_equal(web->depends[0], 0);
	assert_int_equal(web->ready.kind, PROJECT_READY_TCP);
	assert_string_equal(web->ready.tcp_host, "127.0.0.1");
	assert_int_equal(web->ready.tcp_port, 8080);
	assert_true(project_machine_has_guest_config(web));
	assert_int_equal(web->nnics, 2);
	assert_true(web->nics[1].user);
	/* No template: defaults, and host= kept for placement. */
	assert_int_equal(cli->memory, 256ull << 20);
	assert_int_equal(cli->cpus, 1);
	assert_string_equal(cli->host, "h2");
	assert_null(cli->initrd);
	assert_non_null(cli->disks[0].file);
	/* Generated MACs: stable, unique, QEMU's prefix. */
	char m1[18], m2[18];
	project_format_mac(web->nics[0].mac, m1);
	project_format_mac(cli->nics[0].mac, m2);
	assert_memory_equal(m1, "52:54:00:", 9);
	assert_string_not_equal(m1, m2);
	assert_string_not_equal(m1, "52:54:00:00:01:01");

	struct plan pl;
	assert_int_equal(plan_build(p, &pl), 0);
	assert_int_equal(pl.ngroups, 2);
	assert_int_equal(pl.groups[0].priority, 10);
	assert_int_equal(pl.groups[0].n, 2);     /* db, late: file order */
	assert_int_equal(pl.groups[0].machines[0], 0);
	assert_int_equal(pl.groups[0].machines[1], 3);
	assert_int_equal(pl.groups[1].n, 2);
	assert_int_equal(pl.groups[1].machines[0], 1);
	assert_int_equal(pl.groups[1].machines[1], 2);
	plan_free(&pl);

	project_free(p);
}

static void test_macs_are_stable(void **state)
{
	struct fixture *f = *state;
	char *diag = NULL, a[18], b[18];
	const char *body = BASE "<switch name=\"s\"/><machine name=\"m\" template=\"base\"><nic switch=\"s\"/></machine>\n";
	struct project *p = load(f, body, &diag);
	assert_non_null(p);
	project_format_mac(p->machines[0].nics[0].mac, a);
	project_free(p);
	free(diag);
	p = load(f, body, &diag);
	assert_non_null(p);
	project_format_mac(p->machines[0].nics[0].mac, b);
	project_free(p);
	free(diag);
	assert_string_equal(a, b);
}

/* The one function that turns a machine into a tern run command line. */
static void test_machine_argv(void **state)
{
	struct fixture *f = *state;
	char *diag = NULL;
	struct project *p = load(f, BASE
		"<switch name=\"lan0\"/>\n"
		"<machine name=\"web\" template=\"base\" cpus=\"2\"><append>console=ttyS0 x=1</append>\n"
		"  <disk base=\"root.img\"/><disk file=\"data.img\" format=\"raw\"/>\n"
		"  <nic switch=\"lan0\" mac=\"52:54:00:00:00:07\" address=\"10.0.0.7/24\"/>\n"
		"  <nic user=\"on\" hostfwd=\"tcp::8080-:80 tcp:127.0.0.1:2222-:22\" mac=\"52:54:00:00:00:08\"/>\n"
		"  <nic tap=\"tap7\" mac=\"52:54:00:00:00:09\"/></machine>\n", &diag);
	if (!p)
		fail_msg("%s", diag);
	free(diag);
	struct launch_argv a;
	char err[256], want[512], got[4096] = "";
	assert_int_equal(launch_machine_argv(p, 0, "/d", "/bin/tern", &a, err, sizeof(err)), 0);
	for (size_t i = 0; i < a.n; i++) {
		strcat(got, a.v[i]);
		strcat(got, "|");
	}
	snprintf(want, sizeof(want), "/bin/tern|run|--kernel|%s/Image|--initrd|%s/initrd.gz|--append|console=ttyS0 x=1|"
		 "--memory|131072K|--cpus|2|--name|t.web|--console|unix:/d/web/console.sock,log=/d/web/console.log|"
		 "--disk|file=/d/web/disk0.qcow2,format=qcow2|--disk|file=%s/data.img,format=raw|"
		 "--disk|file=/d/web/seed.img,format=raw,readonly=on|", f->dir, f->dir, f->dir);
	assert_memory_equal(got, want, strlen(want));
	assert_string_equal(got + strlen(want),
		"--net|vde,sock=/d/sw/lan0,mac=52:54:00:00:00:07|"
		"--net|user,hostfwd=tcp::8080-:80,hostfwd=tcp:127.0.0.1:2222-:22,mac=52:54:00:00:00:08|"
		"--net|tap,ifname=tap7,mac=52:54:00:00:00:09|");
	launch_argv_free(&a);
	/* A folder too long for a unix socket is refused, not truncated. */
	char longdir[200];
	memset(longdir, 'x', sizeof(longdir) - 1);
	longdir[0] = '/';
	longdir[sizeof(longdir) - 1] = 0;
	assert_int_equal(launch_machine_argv(p, 0, longdir, "/bin/tern", &a, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too long"));
	project_free(p);
}

struct bad {
	const char *what, *body, *want;     /* want: "LINE: text" after "p.xml:" */
};

static const struct bad bad_files[] = {
	{ "malformed XML", BASE "<machine name=\"a\" template=\"base\">\n<switch>\n</machine>\n",
	  "7: Opening and ending tag mismatch: switch line 6 and machine" },
	{ "DTD violation", BASE "<machine name=\"a\" template=\"base\"><cdrom/></machine>\n",
	  "5: does not match tern-cluster.dtd: No declaration for element cdrom" },
	{ "unknown template", BASE "\n<machine name=\"a\" template=\"nope\"/>\n", "6: unknown template 'nope'" },
	{ "unknown switch", BASE "<machine name=\"a\" template=\"base\">\n<nic switch=\"lan9\"/></machine>\n",
	  "6: unknown switch 'lan9'" },
	{ "inheritance cycle",
	  "<template name=\"x\" template=\"y\"/>\n<template name=\"y\" template=\"x\"/>\n",
	  "4: template inheritance cycle: x -> y -> x" },
	{ "dependency cycle", BASE "<machine name=\"a\" template=\"base\"><depends on=\"c\"/></machine>\n"
	  "<machine name=\"b\" template=\"base\"><depends on=\"a\"/></machine>\n"
	  "<machine name=\"c\" template=\"base\"><depends on=\"b\"/></machine>\n",
	  ": dependency cycle: a -> c -> b -> a" },
	{ "duplicate machine names", BASE "<machine name=\"a\" template=\"base\"/>\n<machine name=\"a\" template=\"base\"/>\n",
	  "6: duplicate machine name 'a' (first on line 5)" },
	{ "duplicate MACs", BASE "<switch name=\"s\"/>\n"
	  "<machine name=\"a\" template=\"base\"><nic switch=\"s\" mac=\"52:54:00:00:00:01\"/></machine>\n"
	  "<machine name=\"b\" template=\"base\">\n<nic switch=\"s\" mac=\"52:54:00:00:00:01\"/></machine>\n",
	  "8: MAC 52:54:00:00:00:01 is already used by machine 'a' (line 6)" },
	{ "missing kernel", "<machine name=\"a\">\n<kernel path=\"vmlinux-missing\"/></machine>\n",
	  "5: kernel 'vmlinux-missing' not found" },
	{ "no kernel at all", "<machine name=\"a\" memory=\"128M\"/>\n", "4: machine 'a' has no kernel" },
	{ "negative priority", BASE "<machine name=\"a\" template=\"base\" priority=\"-1\"/>\n",
	  "5: priority '-1': give a whole number from 0 (first) up" },
	{ "bad memory size", BASE "<machine name=\"a\" template=\"base\" memory=\"lots\"/>\n",
	  "5: memory 'lots': give 16M to 64G" },
	{ "bad ready gate", BASE "<machine name=\"a\" template=\"base\">\n<ready console=\"X\" delay=\"3\"/></machine>\n",
	  "6: <ready> needs exactly one of console=, tcp= or delay=" },
	{ "bad tcp gate", BASE "<machine name=\"a\" template=\"base\"><ready tcp=\"localhost\"/></machine>\n",
	  "5: tcp 'localhost' is not HOST:PORT" },
	{ "bad address", BASE "<switch name=\"s\"/><machine name=\"a\" template=\"base\">\n"
	  "<nic switch=\"s\" address=\"10.0.0.300/24\"/></machine>\n",
	  "6: address '10.0.0.300/24' is not ADDRESS/PREFIX" },
	{ "unknown dependency", BASE "<machine name=\"a\" template=\"base\">\n<depends on=\"ghost\"/></machine>\n",
	  "6: machine 'a' depends on unknown machine 'ghost'" },
	{ "dependency on a later group", BASE "<machine name=\"a\" template=\"base\" priority=\"1\">\n"
	  "<depends on=\"b\"/></machine>\n<machine name=\"b\" template=\"base\"/>\n",
	  "6: machine 'a' (priority 1) depends on 'b', which starts later (priority 99)" },
	{ "disk with base and file", BASE "<machine name=\"a\" template=\"base\">\n"
	  "<disk base=\"root.img\" file=\"data.img\"/></machine>\n",
	  "6: <disk> needs exactly one of base= or file=" },
	{ "password in clear", BASE "<machine name=\"a\" template=\"base\">\n"
	  "<user name=\"joe\" password-hash=\"secret\"/></machine>\n",
	  "6: password-hash must be a crypt(3) hash" },
	{ "bad hostname", BASE "<machine name=\"a\" template=\"base\"><hostname>-web_1</hostname></machine>\n",
	  "5: hostname '-web_1' is not a host name" },
	{ "nic with two kinds", BASE "<switch name=\"s\"/><machine name=\"a\" template=\"base\">\n"
	  "<nic switch=\"s\" user=\"on\"/></machine>\n",
	  "6: <nic> needs exactly one of switch=, user=\"on\" or tap=" },
	{ "bad name", BASE "<machine name=\"a.b\" template=\"base\"/>\n", "5: machine name 'a.b'" },
};

static void test_bad_files(void **state)
{
	struct fixture *f = *state;
	int failures = 0;
	for (size_t i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
		char *diag = NULL;
		struct project *p = load(f, bad_files[i].body, &diag);
		if (p)
			fail_msg("%s: accepted", bad_files[i].what);
		char want[512];
		snprintf(want, sizeof(want), "%s/p.xml:%s", f->dir, bad_files[i].want);
		if (bad_files[i].want[0] == ':')   /* any line */
			snprintf(want, sizeof(want), "%s", bad_files[i].want);
		if (!strstr(diag, want)) {
			print_error("%s: want '%s' in:\n%s", bad_files[i].what, want, diag);
			failures++;
		}
		/* Every line reads FILE:LINE: message. */
		char prefix[128];
		snprintf(prefix, sizeof(prefix), "%s/p.xml:", f->dir);
		for (char *l = diag; *l; l = strchr(l, '\n') + 1) {
			assert_memory_equal(l, prefix, strlen(prefix));
			char *end;
			assert_true(strtol(l + strlen(prefix), &end, 10) > 0 && *end == ':');
			if (!strchr(l, '\n'))
				break;
		}
		free(diag);
	}
	assert_int_equal(failures, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_file_resolves),
		cmocka_unit_test(test_macs_are_stable),
		cmocka_unit_test(test_machine_argv),
		cmocka_unit_test(test_bad_files),
	};
	return cmocka_run_group_tests(tests, setup, project_fixture_teardown);
}
