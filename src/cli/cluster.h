/* Shared by the `tern cluster` verb files. */
#ifndef TERN_CLI_CLUSTER_H
#define TERN_CLI_CLUSTER_H

struct project;

/* project_load with the problems printed to stderr; NULL on any. */
struct project *cli_cluster_load(const char *file);

/* The verbs; argv[0] is the verb. */
int cli_cluster_up(int argc, char **argv);
int cli_cluster_down(int argc, char **argv);
int cli_cluster_status(int argc, char **argv);
int cli_cluster_list(int argc, char **argv);
int cli_cluster_log(int argc, char **argv);
int cli_cluster_console(int argc, char **argv);
int cli_cluster_snapshot(int argc, char **argv);
int cli_cluster_restore(int argc, char **argv);
#endif

/* cluster_xhost.c: the same verbs on a cluster of hosts. */
const char *cli_cluster_etcd(const char *given);     /* given, else $TERN_ETCD, or NULL */
int cli_cluster_xhost_up(const struct project *p, const char *etcd, const char *dir, double coeff);
int cli_cluster_xhost_down(const char *name, const char *etcd);
int cli_cluster_xhost_status(const char *name, const char *etcd, int json);
int cli_cluster_migrate(int argc, char **argv);
