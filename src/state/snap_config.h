/* The CONFIG section: the machine a snapshot was taken from (memory, harts,
 * kernel, initrd, command line, console, rng, disks with path and size), as
 * JSON, so a restore rebuilds the same board without any other option. */
#ifndef TERN_SNAP_CONFIG_H
#define TERN_SNAP_CONFIG_H
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct virt_config;

/* JSON text for cfg (caller frees); disk_sizes[i] is the size the guest
 * sees of disk i (the open image's virtual size). NULL with err. */
char *snap_config_encode(const struct virt_config *cfg, const uint64_t *disk_sizes,
			 char *err, size_t errlen);
/* Fills cfg from the JSON; strings point into *owner, which the caller keeps
 * until cfg is no longer used, then json_decref()s. */
int snap_config_decode(const char *text, size_t len, struct virt_config *cfg, json_t **owner,
		       char *err, size_t errlen);
#endif
