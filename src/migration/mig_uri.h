/* Migration endpoints in QEMU's URI forms: tcp:, unix:, exec:CMD (stdin and
 * stdout on the stream) and fd:N (QMP turns getfd's fd:NAME into it). The
 * migration talks both ways, so every endpoint is a stream socket. */
#ifndef TERN_MIG_URI_H
#define TERN_MIG_URI_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* One of the four forms, with something after the colon. */
bool mig_uri_is_stream(const char *uri);
/* Checks the form before any connection is tried; -1 with err. */
int mig_uri_check(const char *uri, char *err, size_t errlen);
/* Source: a connected stream to the destination, or -1 with err. exec:
 * sets *child to the command's pid (reap it with mig_uri_reap). fd:N
 * hands over N itself. */
int mig_uri_connect(const char *uri, int timeout_ms, pid_t *child, char *err, size_t errlen);
/* Destination: a listening socket for tcp: and unix: (and fd:N when N
 * listens); otherwise -1 with *conn set to the connected stream (exec:,
 * fd:N). -1 with *conn == -1 and err on failure. */
int mig_uri_listen(const char *uri, int *conn, pid_t *child, char *err, size_t errlen);
/* unix:PATH: remove the socket file once a peer is accepted. */
void mig_uri_done_listening(const char *uri);
/* Ends and reaps an exec: command (0: none). */
void mig_uri_reap(pid_t child);
#endif
