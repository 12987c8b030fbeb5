/* The reconciler: brings this host in line with the VM records assigned to
 * it (start what should run, stop what should not), and adopts a finished
 * incoming migration once its record names this host. It acts only on a
 * fresh read of the store: with the store away, nothing is started or
 * stopped, and running VMs keep running. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent/agent.h"
#include "agent/records.h"
#include "store/store.h"

int agent_vm_record(struct agent *a, const char *name, json_t **rec, long long *rev)
{
	char key[128];
	rec_key(key, sizeof(key), REC_VMS, name);
	return rec_get(a->store, key, rec, rev);
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

int64_t agent_reconcile(struct agent *a)
{
	struct store_kv *kvs = NULL;
	size_t n = 0;
	int64_t rev = -1;
	if (store_list(a->store, REC_VMS, &kvs, &n, &rev)) {
		atomic_store(&a->store_ok, 0);
		return -1;
	}
	atomic_store(&a->store_ok, 1);
	char why[256];
	int accepts = agent_host_accepts(a, why, sizeof(why));
	pthread_mutex_lock(&a->lock);
	agent_vm_sweep(a);
	for (size_t i = 0; i < n; i++) {
		const char *name = kvs[i].key + strlen(REC_VMS);
		json_t *rec = json_loads(kvs[i].value, 0, NULL);
		if (!json_is_object(rec) || !rec_name_ok(name) || strcmp(jstr(rec, "host"), a->host)) {
			json_decref(rec);
			continue;
		}
		struct agent_vm *v = agent_vm_find(a, name);
		const char *want = jstr(rec, "state");
		if (v && v->incoming && !v->migrating) {
			/* The source flipped the record to us: the VM is ours now. */
			v->incoming = 0;
			fprintf(stderr, "ternd: VM %s arrived\n", name);
		} else if (!v && !strcmp(want, "running")) {
			if (!accepts) {
				fprintf(stderr, "ternd: not starting %s: %s\n", name, why);
			} else {
				char err[512];
				json_t *spec = json_object_get(rec, "spec");
				if (agent_spec_check(spec, err, sizeof(err)) ||
				    !agent_vm_spawn(a, name, spec, NULL, NULL, 0, err, sizeof(err)))
					fprintf(stderr, "ternd: cannot start %s: %s\n", name, err);
				else
					fprintf(stderr, "ternd: started VM %s\n", name);
			}
		} else if (v && !strcmp(want, "stopped") && !v->migrating) {
			pid_t pid = v->pid;
			pthread_mutex_unlock(&a->lock);
			fprintf(stderr, "ternd: stopping VM %s (pid %d): its record says stopped\n", name, (int)pid);
			agent_vm_kill(a, name);
			pthread_mutex_lock(&a->lock);
		}
		json_decref(rec);
	}
	/* Leftovers of a migration that never finished: an incoming VM that
	 * nobody is migrating to any more and whose record is elsewhere. */
	char stale[16][64];
	int nstale = 0;
	for (struct agent_vm *v = a->vms; v && nstale < 16; v = v->next) {
		if (v->gone || !v->incoming || agent_now_ms() - v->started_ms < 30000)
			continue;
		snprintf(stale[nstale++], 64, "%s", v->name);
	}
	pthread_mutex_unlock(&a->lock);
	for (int i = 0; i < nstale; i++) {
		/* While the source holds the VM's lock, the migration goes on. */
		char key[128];
		struct store_kv kv;
		rec_key(key, sizeof(key), REC_LOCKS, stale[i]);
		int rc = store_get(a->store, key, &kv);
		if (rc == 0)
			store_kv_clear(&kv);
		if (rc != -ENOENT)
			continue;
		fprintf(stderr, "ternd: dropping %s: an incoming migration that never completed\n", stale[i]);
		agent_vm_kill(a, stale[i]);
		agent_incoming_drop_copies(a, stale[i]);
	}
	store_kvs_free(kvs, n);
	return rev;
}
