/* Unit tests for the cloud-init NoCloud seed: the YAML a machine's guest
 * configuration turns into, and the vfat image read back with mtools. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "cluster/cidata.h"
#include "cluster/project.h"

/* Loads the test project from a new folder, whose name goes into tmpdir. */
static struct project *load_lab(char tmpdir[64])
{
	char path[128], cwd[2048], dtd[4096];
	strcpy(tmpdir, "/tmp/tern-cidata-test-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	snprintf(path, sizeof(path), "%s/Image", tmpdir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/p.xml", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("<?xml version=\"1.0\"?>\n<!DOCTYPE project SYSTEM \"tern-cluster.dtd\">\n"
	      "<project name=\"lab\">\n"
	      "<template name=\"t\"><kernel path=\"Image\"/></template>\n"
	      "<switch name=\"lan\"/>\n"
	      "<machine name=\"db\" template=\"t\"><hostname>db1</hostname>\n"
	      "  <nic switch=\"lan\" mac=\"52:54:00:00:00:11\" address=\"10.0.0.2/24\" gateway=\"10.0.0.1\"/>\n"
	      "  <user name=\"joe\" password-hash=\"$6$salt$abc\" ssh-key=\"ssh-ed25519 AAAAC3Nza joe@x\"/>\n"
	      "  <run>echo \"hello\" &gt; /tmp/x</run></machine>\n"
	      "<machine name=\"web\" template=\"t\"><nic switch=\"lan\" address=\"10.0.0.3/24\"/>\n"
	      "  <nic user=\"on\"/></machine>\n"
	      "<machine name=\"plain\" template=\"t\"><nic switch=\"lan\"/></machine>\n"
	      "</project>\n", f);
	fclose(f);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(dtd, sizeof(dtd), "%s/share/tern-cluster.dtd", cwd);
	struct project *p = project_load(path, dtd, stderr);
	assert_non_null(p);
	return p;
}

static char *render(int (*fn)(const struct project *, size_t, FILE *), const struct project *p, size_t mi)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(fn(p, mi, f), 0);
	fclose(f);
	return buf;
}

static void test_yaml(void **state)
{
	char tmpdir[64];
	struct project *p = load_lab(tmpdir);
	assert_true(project_machine_has_guest_config(&p->machines[0]));
	assert_true(project_machine_has_guest_config(&p->machines[1]));
	assert_false(project_machine_has_guest_config(&p->machines[2]));

	char *meta = render(cidata_write_meta, p, 0);
	assert_non_null(strstr(meta, "instance-id: tern-lab-db-"));
	assert_non_null(strstr(meta, "local-hostname: db1\n"));
	char *user = render(cidata_write_user, p, 0);
	assert_memory_equal(user, "#cloud-config\n", 14);
	assert_non_null(strstr(user, "hostname: db1\n"));
	assert_non_null(strstr(user, "resize_rootfs: false\n"));
	/* Every machine with an address is in /etc/hosts, by host and machine name. */
	assert_non_null(strstr(user, "      10.0.0.2 db1 db\n"));
	assert_non_null(strstr(user, "      10.0.0.3 web\n"));
	assert_non_null(strstr(user, "  - name: joe\n"));
	assert_non_null(strstr(user, "    passwd: \"$6$salt$abc\"\n"));
	assert_non_null(strstr(user, "      - \"ssh-ed25519 AAAAC3Nza joe@x\"\n"));
	assert_non_null(strstr(user, "runcmd:\n  - \"echo \\\"hello\\\" > /tmp/x\"\n"));
	char *net = render(cidata_write_network, p, 0);
	assert_non_null(strstr(net, "version: 2\n"));
	assert_non_null(strstr(net, "macaddress: \"52:54:00:00:00:11\"\n    addresses:\n      - \"10.0.0.2/24\"\n"));
	assert_non_null(strstr(net, "via: \"10.0.0.1\""));
	char *net2 = render(cidata_write_network, p, 1);
	assert_non_null(strstr(net2, "nic1:"));
	assert_non_null(strstr(net2, "dhcp4: true"));
	/* The instance id follows the configuration. */
	char *meta2 = render(cidata_write_meta, p, 1);
	assert_string_not_equal(strchr(meta, '-'), strchr(meta2, '-'));
	free(meta);
	free(meta2);
	free(user);
	free(net);
	free(net2);
	project_free(p);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	assert_int_equal(system(cmd), 0);
}

static char *sh(const char *cmd)
{
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	char *buf = calloc(1, 65536);
	size_t n = fread(buf, 1, 65535, f);
	buf[n] = 0;
	pclose(f);
	return buf;
}

static void test_image_reads_back(void **state)
{
	if (system("command -v mtype >/dev/null 2>&1")) {
		skip();
	}
	char tmpdir[64];
	struct project *p = load_lab(tmpdir);
	char img[128], err[256], cmd[512], *out;
	snprintf(img, sizeof(img), "%s/seed.img", tmpdir);
	if (cidata_build(p, 0, img, err, sizeof(err)))
		fail_msg("%s", err);
	snprintf(cmd, sizeof(cmd), "mlabel -s -i %s :: 2>&1", img);
	out = sh(cmd);
	assert_non_null(strstr(out, "CIDATA"));
	free(out);
	snprintf(cmd, sizeof(cmd), "mtype -i %s ::user-data", img);
	out = sh(cmd);
	char *want = render(cidata_write_user, p, 0);
	assert_string_equal(out, want);
	free(want);
	free(out);
	snprintf(cmd, sizeof(cmd), "mtype -i %s ::meta-data", img);
	out = sh(cmd);
	assert_non_null(strstr(out, "local-hostname: db1"));
	free(out);
	snprintf(cmd, sizeof(cmd), "mtype -i %s ::network-config", img);
	out = sh(cmd);
	assert_non_null(strstr(out, "10.0.0.2/24"));
	free(out);
	/* Built again over the old one: replaced, nothing left beside it. */
	assert_int_equal(cidata_build(p, 0, img, err, sizeof(err)), 0);
	snprintf(cmd, sizeof(cmd), "ls %s", tmpdir);
	out = sh(cmd);
	assert_string_equal(out, "Image\np.xml\nseed.img\n");
	free(out);
	project_free(p);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yaml),
		cmocka_unit_test(test_image_reads_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
