/* Readiness probes shared by `tern cluster up` on one host, the cluster
 * placed across hosts (xhost.c) and ternd: a text in a console log, and a
 * TCP port that accepts a connection. */
#ifndef TERN_CLUSTER_GATE_H
#define TERN_CLUSTER_GATE_H
#include <stdbool.h>

/* Whether the file at path holds text anywhere (read in pieces, so a log
 * of any size costs constant memory; a match may span two pieces). */
bool gate_file_contains(const char *path, const char *text);
/* Whether host:port accepts a TCP connection within 300 ms. */
bool gate_tcp_accepts(const char *host, int port);
#endif
