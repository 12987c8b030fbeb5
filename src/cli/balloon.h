/* `tern balloon` and the balloon lines of `tern status` (cli/balloon.c). */
#ifndef TERN_CLI_BALLOON_H
#define TERN_CLI_BALLOON_H
struct qmp_client_conn;

/* Prints the VM's balloon and guest memory statistics (query-balloon), or
 * nothing when the VM has no balloon. */
void balloon_print_status(struct qmp_client_conn *c);
#endif
