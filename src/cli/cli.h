/* The `tern` verbs: one file per verb, each a main-like entry point. */
#ifndef TERN_CLI_H
#define TERN_CLI_H
#include <stdint.h>
int cli_run(int argc, char **argv);
int cli_image(int argc, char **argv);
int cli_list(int argc, char **argv);
int cli_snapshot(int argc, char **argv);
int cli_migrate(int argc, char **argv);
int cli_balloon(int argc, char **argv);
/* status, pause, resume, stop, kill: argv[0] is the verb. */
int cli_vmctl(int argc, char **argv);
/* Parse a size like 256M, 1G, 4096K, 1048576B; a bare number means MiB
 * (as in QEMU). Returns 0 or -1. */
int cli_parse_size(const char *s, uint64_t *out);
#endif
