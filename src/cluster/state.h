/* The supervisor's record of a running project, kept as state.json in the
 * project folder so that status, down and list work from any process; and
 * the folder's layout (where each file of a project lives). */
#ifndef TERN_CLUSTER_STATE_H
#define TERN_CLUSTER_STATE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

struct project;

#define STATE_PATH_MAX 512

struct state_machine {
	char name[64];
	int priority;
	pid_t pid;                  /* 0: never started */
	unsigned long long pid_start;   /* /proc/PID/stat start time, against pid reuse */
	double started_at, ready_at, stopped_at;   /* seconds since the epoch; 0: not yet */
	bool stopped;               /* stopped on purpose (down), not crashed */
	char qmp[STATE_PATH_MAX];
};

struct state_switch {
	char name[64];
	pid_t pid;
	unsigned long long pid_start;
	char sock[STATE_PATH_MAX];
};

struct state {
	char name[64];
	char dir[STATE_PATH_MAX];
	char source[STATE_PATH_MAX];    /* the project file up was given (absolute) */
	struct state_machine *machines;     /* in start order */
	size_t nmachines;
	struct state_switch *switches;
	size_t nswitches;
};

/* The folder of project NAME: under $XDG_DATA_HOME/tern/clusters (or
 * ~/.local/share/...), /var/lib/tern/clusters for root, or
 * $TERN_CLUSTERS_DIR when set. The registry is
 * that parent folder; a project kept elsewhere (--dir) is a symlink there. */
int state_registry(char *buf, size_t len);
int state_default_dir(const char *name, char *buf, size_t len);
/* NAME|FOLDER|FILE.xml to a project folder holding state.json. */
int state_find_dir(const char *what, char *buf, size_t len, char *err, size_t errlen);

/* DIR/MACHINE/FILE (or DIR/FILE when machine is NULL); -ENAMETOOLONG. */
int state_path(const char *dir, const char *machine, const char *file, char *buf, size_t len);

int state_load(const char *dir, struct state *st, char *err, size_t errlen);
/* The copy of the project file kept in dir, with relative paths resolved
 * against the source file's folder; problems go to diag. */
struct project *state_load_project(const char *dir, const struct state *st, FILE *diag);
/* Written to a temporary file and renamed over state.json. */
int state_save(const struct state *st, char *err, size_t errlen);
void state_free(struct state *st);
struct state_machine *state_machine_find(struct state *st, const char *name);
struct state_switch *state_switch_find(struct state *st, const char *name);

/* Process checks: start time of pid (0 if gone), and whether pid is still
 * the process recorded (same start time). */
unsigned long long state_pid_start(pid_t pid);
bool state_pid_alive(pid_t pid, unsigned long long start);
double state_now(void);
#endif
