/* The host's side of the store: its leased record (address, CPUs, memory,
 * CPU %, VMs, power), refreshed every few seconds and renewed whenever etcd
 * forgot the lease; its kept config (power state, draining, power commands);
 * and standby. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "agent/agent.h"
#include "agent/records.h"
#include "store/store.h"

static void meminfo(uint64_t *total, uint64_t *avail)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	unsigned long long v;
	*total = *avail = 0;
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "MemTotal: %llu kB", &v) == 1)
			*total = v << 10;
		else if (sscanf(line, "MemAvailable: %llu kB", &v) == 1)
			*avail = v << 10;
	}
	if (f)
		fclose(f);
}

static void sample_cpu(struct agent *a)
{
	FILE *f = fopen("/proc/stat", "r");
	unsigned long long u, n, s, idle, io, irq, sirq, steal;
	if (!f)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &u, &n, &s, &idle, &io, &irq, &sirq,
		   &steal) == 8) {
		uint64_t busy = u + n + s + irq + sirq + steal, total = busy + idle + io;
		if (a->cpu_total && total > a->cpu_total)
			a->host_cpu_pct = 100.0 * (double)(busy - a->cpu_busy) / (double)(total - a->cpu_total);
		a->cpu_busy = busy;
		a->cpu_total = total;
	}
	fclose(f);
}

json_t *agent_host_cfg(struct agent *a, long long *rev)
{
	char key[128];
	json_t *cfg = NULL;
	rec_key(key, sizeof(key), REC_HOSTCFG, a->host);
	if (rec_get(a->store, key, &cfg, rev))
		return NULL;
	return cfg;
}

static const char *jstr(json_t *o, const char *k, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : dflt;
}

int agent_host_publish(struct agent *a)
{
	uint64_t total, avail;
	meminfo(&total, &avail);
	pthread_mutex_lock(&a->lock);
	sample_cpu(a);
	json_t *vms = agent_vm_list_json(a);
	json_t *evac = json_incref(a->evacuation);
	pthread_mutex_unlock(&a->lock);
	json_t *cfg = agent_host_cfg(a, NULL);
	json_t *rec = json_pack("{s:s,s:s,s:s,s:i,s:I,s:I,s:I,s:f,s:s,s:o}", "name", a->host,
				"address", a->address, "api", a->api_url,
				"cpus", (int)sysconf(_SC_NPROCESSORS_ONLN), "mem_total", (json_int_t)total,
				"mem_free", (json_int_t)avail, "mem_used", (json_int_t)(total - avail),
				"cpu_percent", a->host_cpu_pct, "power", jstr(cfg, "power", "on"), "vms", vms);
	if (evac)
		json_object_set_new(rec, "evacuation", evac);
	if (a->ext && a->ext->host_fields)
		a->ext->host_fields(a, rec);
	json_decref(cfg);
	char key[128], *text = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(rec);
	rec_key(key, sizeof(key), REC_HOSTS, a->host);
	int rc = text ? store_put(a->store, key, text, a->lease) : -ENOMEM;
	if (rc == -ENOENT) {
		/* The lease is gone (etcd restarted or we were away too long):
		 * a new one, and the record again. */
		int64_t id;
		if (store_lease_grant(a->store, AGENT_LEASE_TTL, &id) == 0) {
			a->lease = id;
			fprintf(stderr, "ternd: the store forgot our lease; registered again\n");
			rc = store_put(a->store, key, text, a->lease);
		}
	}
	free(text);
	atomic_store(&a->store_ok, rc == 0);
	return rc;
}

int agent_host_register(struct agent *a, char *err, size_t errlen)
{
	int rc = store_lease_grant(a->store, AGENT_LEASE_TTL, &a->lease);
	if (rc) {
		snprintf(err, errlen, "cannot get a lease: %s", store_error(a->store));
		return rc;
	}
	char key[128];
	rec_key(key, sizeof(key), REC_HOSTCFG, a->host);
	for (int tries = 0; tries < 5; tries++) {
		long long rev = 0;
		json_t *cfg = agent_host_cfg(a, &rev);
		if (!cfg)
			cfg = json_pack("{s:s,s:b}", "power", "on", "draining", 0);
		json_object_set_new(cfg, "address", json_string(a->address));
		json_object_set_new(cfg, "api", json_string(a->api_url));
		if (a->power_cmd_standby[0])
			json_object_set_new(cfg, "power_cmd_standby", json_string(a->power_cmd_standby));
		if (a->power_cmd_wake[0])
			json_object_set_new(cfg, "power_cmd_wake", json_string(a->power_cmd_wake));
		rc = rec_cas(a->store, key, rev, cfg, 0);
		json_decref(cfg);
		if (rc != -ECANCELED)
			break;
	}
	if (rc) {
		snprintf(err, errlen, "cannot write %s: %s", key, store_error(a->store));
		return rc;
	}
	rc = agent_host_publish(a);
	if (rc)
		snprintf(err, errlen, "cannot publish the host record: %s", store_error(a->store));
	return rc;
}

int agent_host_accepts(struct agent *a, char *why, size_t len)
{
	json_t *cfg = agent_host_cfg(a, NULL);
	int ok = 1;
	if (!strcmp(jstr(cfg, "power", "on"), "standby")) {
		snprintf(why, len, "host %s is on standby: wake it first", a->host);
		ok = 0;
	} else if (json_is_true(json_object_get(cfg, "draining"))) {
		snprintf(why, len, "host %s is draining", a->host);
		ok = 0;
	}
	json_decref(cfg);
	return ok;
}

int agent_host_standby(struct agent *a, char *err, size_t errlen)
{
	int busy = 0;
	pthread_mutex_lock(&a->lock);
	for (struct agent_vm *v = a->vms; v; v = v->next)
		busy += !v->gone;
	pthread_mutex_unlock(&a->lock);
	if (busy) {
		snprintf(err, errlen, "host %s still runs %d VM%s: evacuate it first", a->host, busy,
			 busy == 1 ? "" : "s");
		return -EBUSY;
	}
	char key[128];
	rec_key(key, sizeof(key), REC_HOSTCFG, a->host);
	long long rev = 0;
	json_t *cfg = agent_host_cfg(a, &rev);
	if (!cfg) {
		snprintf(err, errlen, "no config record for host %s", a->host);
		return -ENOENT;
	}
	const char *cmd = jstr(cfg, "power_cmd_standby", "");
	if (!cmd[0]) {
		snprintf(err, errlen, "host %s has no standby command (ternd --power-cmd-standby)", a->host);
		json_decref(cfg);
		return -EINVAL;
	}
	char *cmdcopy = strdup(cmd);
	/* First the record, so that no VM is placed here meanwhile. */
	json_object_set_new(cfg, "power", json_string("standby"));
	int rc = rec_cas(a->store, key, rev, cfg, 0);
	json_decref(cfg);
	if (rc) {
		snprintf(err, errlen, "cannot record standby: %s", store_error(a->store));
		free(cmdcopy);
		return rc;
	}
	agent_host_publish(a);
	fprintf(stderr, "ternd: standby: running '%s'\n", cmdcopy);
	if (rec_run_cmd(cmdcopy, 60, err, errlen)) {
		/* It did not go to sleep: it is still on. */
		for (int tries = 0; tries < 5; tries++) {
			cfg = agent_host_cfg(a, &rev);
			if (!cfg)
				break;
			json_object_set_new(cfg, "power", json_string("on"));
			int r = rec_cas(a->store, key, rev, cfg, 0);
			json_decref(cfg);
			if (r != -ECANCELED)
				break;
		}
		free(cmdcopy);
		return -EIO;
	}
	free(cmdcopy);
	return 0;
}
