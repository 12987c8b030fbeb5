/* query-migrate's replies, built from the structs migration/ reports: the
 * source's progress and the destination's post-copy (QEMU's names, tern's
 * x- extensions); and the MIGRATION and MIGRATION_PASS events. */
#ifndef TERN_QMP_MIGRATE_INFO_H
#define TERN_QMP_MIGRATE_INFO_H
#include <jansson.h>

struct mig_info;
struct mig_incoming_info;
struct mig_notify;
struct vm;

json_t *qmp_mig_info_json(const struct mig_info *i);
json_t *qmp_mig_incoming_json(const struct mig_incoming_info *i);
/* The MIGRATION event {"status": status} on vm's QMP monitors. */
void qmp_mig_status_event(struct vm *vm, const char *status);
/* A live migration's notifier: its statuses and passes as events on vm. */
struct mig_notify qmp_mig_notify(struct vm *vm);
#endif
