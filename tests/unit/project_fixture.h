/* A scratch folder for project-file unit tests: empty files that project
 * paths may name, the DTD from the source tree, and loading a project
 * whose body starts on line 4. */
#ifndef TERN_TEST_PROJECT_FIXTURE_H
#define TERN_TEST_PROJECT_FIXTURE_H
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "cluster/project.h"

struct fixture {
	char dir[64];
	char dtd[4096];
};

/* A fresh folder under /tmp holding an empty file for each of files[]. */
static inline int project_fixture_setup(void **state, const char *const *files, size_t nfiles)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/tern-project-test-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	char cwd[2048];
	if (!getcwd(cwd, sizeof(cwd)))
		return -1;
	snprintf(f->dtd, sizeof(f->dtd), "%s/share/tern-cluster.dtd", cwd);
	for (size_t i = 0; i < nfiles; i++) {
		char p[128];
		snprintf(p, sizeof(p), "%s/%s", f->dir, files[i]);
		FILE *fp = fopen(p, "w");
		if (!fp)
			return -1;
		fclose(fp);
	}
	*state = f;
	return 0;
}

static inline int project_fixture_teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd))
		return -1;
	free(f);
	return 0;
}

/* Writes body after a 3-line head (so its first line is line 4) and loads
 * it, diagnostics to diag. The project, or NULL. */
static inline struct project *project_fixture_load(struct fixture *f, const char *body, FILE *diag)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/p.xml", f->dir);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "<?xml version=\"1.0\"?>\n<!DOCTYPE project SYSTEM \"tern-cluster.dtd\">\n"
		"<project name=\"t\">\n%s</project>\n", body);
	fclose(fp);
	return project_load(path, f->dtd, diag);
}
#endif
