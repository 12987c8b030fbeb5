/* query-migrate's replies, built from the structs migration/ reports: the
 * source's progress and the destination's post-copy (QEMU's names, tern's
 * x- extensions). */
#ifndef TERN_QMP_MIGRATE_INFO_H
#define TERN_QMP_MIGRATE_INFO_H
#include <jansson.h>

struct mig_info;
struct mig_incoming_info;

json_t *qmp_mig_info_json(const struct mig_info *i);
json_t *qmp_mig_incoming_json(const struct mig_incoming_info *i);
#endif
