/* migrate-set-parameters, migrate-set-capabilities and their queries:
 * QMP's JSON (QEMU's names, tern's own as aliases) to and from
 * migration/'s struct mig_params. */
#ifndef TERN_QMP_MIG_PARAMS_H
#define TERN_QMP_MIG_PARAMS_H
#include <stddef.h>
#include <jansson.h>

struct mig_params;

/* Apply a migrate-set-parameters argument object; -1 with err on a bad
 * name or value, or a setting tern does not implement (nothing changed
 * then). */
int qmp_mig_params_set(struct mig_params *p, json_t *args, char *err, size_t errlen);
json_t *qmp_mig_params_json(const struct mig_params *p);
/* migrate-set-capabilities {"capabilities": [{"capability", "state"}]}:
 * one tern does not implement may only be set to the state it has. */
int qmp_mig_caps_set(struct mig_params *p, json_t *list, char *err, size_t errlen);
json_t *qmp_mig_caps_json(const struct mig_params *p);
#endif
