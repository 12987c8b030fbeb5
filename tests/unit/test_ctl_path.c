/* Unit tests for the control socket directory check: a folder of another
 * user, or one that group or others can write, is refused. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "ctl/ctl_path.h"

static void test_check_dir(void **state)
{
	char tmpl[] = "/tmp/tern-ctl-test-XXXXXX", sub[64], err[300];
	assert_non_null(mkdtemp(tmpl));
	snprintf(sub, sizeof(sub), "%s/tern", tmpl);

	assert_int_equal(ctl_check_dir(sub, err, sizeof(err)), 0);   /* missing: created later */
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(chmod(sub, 0700), 0);
	assert_int_equal(ctl_check_dir(sub, err, sizeof(err)), 0);
	chmod(sub, 0755);                                            /* readable is fine */
	assert_int_equal(ctl_check_dir(sub, err, sizeof(err)), 0);

	chmod(sub, 0777);
	assert_int_equal(ctl_check_dir(sub, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "writable by others (mode 0777)"));
	chmod(sub, 0770);
	assert_int_equal(ctl_check_dir(sub, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "writable by its group"));
	chmod(sub, 0700);

	if (geteuid() == 0) {   /* only root can give a folder away */
		assert_int_equal(chown(sub, 65534, 65534), 0);
		assert_int_equal(ctl_check_dir(sub, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "belongs to uid 65534"));
	}
	rmdir(sub);

	/* A symlink or a file where the folder belongs. */
	assert_int_equal(symlink("/tmp", sub), 0);
	assert_int_equal(ctl_check_dir(sub, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "is not a directory"));
	unlink(sub);
	rmdir(tmpl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
