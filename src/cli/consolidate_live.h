/* `tern consolidate plan|apply|report`: the live commands over the cluster's
 * store (src/cli/consolidate_live.c), called from src/cli/consolidate.c. */
#ifndef TERN_CLI_CONSOLIDATE_LIVE_H
#define TERN_CLI_CONSOLIDATE_LIVE_H
/* argv[0] is the verb. Exit status: 0, 1 on an error, 2 on a usage error. */
int cli_consolidate_live(int argc, char **argv);
#endif
