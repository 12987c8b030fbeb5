/* Shared by the `tern cluster` verb files. */
#ifndef TERN_CLI_CLUSTER_H
#define TERN_CLI_CLUSTER_H

struct project;

/* project_load with the problems printed to stderr; NULL on any. */
struct project *cli_cluster_load(const char *file);
#endif
