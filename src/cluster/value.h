/* Syntax checks for the values of a cluster project file (value.c). Each
 * parser returns 0 or -1; each predicate true when the text is valid. */
#ifndef TERN_CLUSTER_VALUE_H
#define TERN_CLUSTER_VALUE_H
#include <stdbool.h>
#include <stdint.h>

#define VALUE_NAME_MAX 32

/* 1 to VALUE_NAME_MAX letters, digits, '-' or '_', not starting with - or _. */
bool value_name(const char *s);
/* 256M, 1G, 4096K, 512MiB; a bare number means MiB. */
int value_size(const char *s, uint64_t *out);
int value_int(const char *s, long lo, long hi, long *out);
/* Seconds (a decimal number) from lo up to a week. */
int value_seconds(const char *s, double lo, double *out);
/* 52:54:00:12:34:56, unicast. */
int value_mac(const char *s, uint8_t mac[6]);
bool value_ip(const char *s);
/* ADDRESS/PREFIX, IPv4 or IPv6. */
bool value_cidr(const char *s);
bool value_hostname(const char *s);
bool value_user_name(const char *s);
/* One public key line: ssh-ed25519 AAAA... [comment]. */
bool value_ssh_key(const char *s);
#endif
