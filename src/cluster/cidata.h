/* The cloud-init NoCloud seed of one machine: a small vfat disk labelled
 * CIDATA holding meta-data, user-data (#cloud-config) and network-config
 * (version 2), built with mkfs.vfat and mtools (no root, no mounts). */
#ifndef TERN_CLUSTER_CIDATA_H
#define TERN_CLUSTER_CIDATA_H
#include <stddef.h>
#include <stdio.h>

struct project;

/* The three files' text for machine mi. */
int cidata_write_meta(const struct project *p, size_t mi, FILE *f);
int cidata_write_user(const struct project *p, size_t mi, FILE *f);
int cidata_write_network(const struct project *p, size_t mi, FILE *f);
/* Builds the seed image at out (replacing it). Returns 0 or -1 with a
 * reason in err. */
int cidata_build(const struct project *p, size_t mi, const char *out, char *err, size_t errlen);
#endif
