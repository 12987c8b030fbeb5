/* The `tern` verbs: one file per verb, each a main-like entry point. */
#ifndef TERN_CLI_H
#define TERN_CLI_H
#include <stdint.h>
int cli_run(int argc, char **argv);
int cli_image(int argc, char **argv);
/* tern image import-rootfs / inspect (cli/image_rootfs.c). */
int cli_image_import(int argc, char **argv);
int cli_image_inspect(int argc, char **argv);
/* Copy image IN to a new OUT of format fmt ("raw" or "qcow2"; cluster_bits
 * 0 for the default), messages on stderr. 0 or -1. */
int cli_image_convert_file(const char *in, const char *out, const char *fmt, unsigned cluster_bits);
int cli_list(int argc, char **argv);
int cli_snapshot(int argc, char **argv);
int cli_migrate(int argc, char **argv);
int cli_pki(int argc, char **argv);
int cli_cluster(int argc, char **argv);
int cli_balloon(int argc, char **argv);
/* status, pause, resume, stop, kill: argv[0] is the verb. */
int cli_vmctl(int argc, char **argv);
/* consolidate simulate: src/cli/consolidate.c */
int cli_consolidate(int argc, char **argv);
/* host list|evacuate|standby|wake: the cluster's hosts (src/cli/host.c). */
int cli_host(int argc, char **argv);
/* Parse a size like 256M, 1G, 4096K, 1048576B; a bare number means MiB
 * (as in QEMU). Returns 0 or -1. */
int cli_parse_size(const char *s, uint64_t *out);
#endif
