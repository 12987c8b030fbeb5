/* ternd's shared state: the host it stands for, the store, the VMs it
 * supervises (each its own detached `tern run`), and the pieces that use
 * them: supervision (agent_vm), the host record (agent_host), the
 * reconciler, the HTTP API (agent_http, agent_api) and migration. */
#ifndef TERN_AGENT_H
#define TERN_AGENT_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

struct store;
struct mg_context;
struct agent_web;

#define AGENT_LEASE_TTL 10

/* An outgoing migration's progress, as GET /api/v1/vms/NAME/migration shows. */
struct agent_mig {
	char to[64];
	char status[32];            /* setup, active, completed, failed */
	char error[256];
	json_t *progress;           /* the VM's last query-migrate reply */
	int64_t started_ms, finished_ms;
};

struct agent_vm {
	char name[64];
	pid_t pid;
	int incoming;               /* a `tern run --incoming` waiting for a migration */
	int migrating;              /* an outgoing migration runs */
	int gone;                   /* the process ended; dropped at the next sweep */
	char status[32];            /* last QMP status: running, paused, inmigrate, ... */
	json_t *spec;               /* as created: memory, cpus, kernel, ... */
	double cpu_pct;
	uint64_t rss, mem;
	double last_cpu_s;
	int64_t last_sample_ms, started_ms;
	struct agent_mig mig;
	struct agent_vm *next;
};

struct agent {
	char host[64];
	char listen[128];           /* HOST:PORT the API is served on */
	char address[128];          /* the address other hosts reach (HOST part of listen) */
	char api_url[200];          /* http(s)://HOST:PORT */
	char state_dir[1024];
	char qmp_dir[200];          /* VMs' control sockets (NAME.qmp) */
	char tern_bin[1024];
	char tls_dir[1024];         /* empty: plain HTTP (loopback only) */
	char images_dir[1024];      /* --images: bases of copied disks; empty: same path */
	char web_root[1024];
	const char *etcd;           /* NULL: local store */
	char power_cmd_standby[512], power_cmd_wake[512];
	char token[128];
	struct store *store;
	int64_t lease;
	atomic_int stop;
	atomic_int store_ok;        /* the store answered last time */
	pthread_mutex_t lock;       /* guards vms and everything in them */
	struct agent_vm *vms;
	json_t *evacuation;         /* this host's evacuation progress, or NULL */
	int evac_copy_storage;      /* the running evacuation copies disks */
	struct mg_context *http;
	struct agent_web *web;       /* browser sessions (agent_http.c) */
	struct agent_live *live;     /* event streams and consoles (agent_web.c) */
	/* Project switches spanning hosts (agent_switch.c). */
	int cable_port;             /* VDE cables from other hosts are accepted here */
	int cable_fd;
	pthread_t cable_thread;
	pthread_mutex_t sw_lock;
	/* HTTPS (agent_tls.c): the TLS front end and civetweb's private port. */
	struct ssl_ctx_st *tls_ctx;
	int tls_fd;
	pthread_t tls_thread;
	int http_backend_port;
	/* host CPU % between samples */
	uint64_t cpu_busy, cpu_total;
	double host_cpu_pct;
	/* Consolidation (agent_cons.h), a layer above this core: its state,
	 * and the hooks through which the core calls it (set by ternd.c; NULL:
	 * none). */
	struct agent_cons *cons;
	const struct agent_ext *ext;
};

/* What a layer above the core adds to it (consolidation: agent_cons_ext). */
struct agent_ext {
	/* An API request the core does not know: 1 when handled (the HTTP
	 * status in *status, the reply in *out), else 0. */
	int (*api)(struct agent *a, const char *method, const char *path, json_t *body,
		   json_t **out, int *status);
	/* Fields it adds to this host's record. */
	void (*host_fields)(struct agent *a, json_t *rec);
	/* Fills the migration options a request left out. */
	void (*mig_defaults)(struct agent *a, json_t *body, int *postcopy, long long *downtime_ms,
			     long long *bandwidth_mbs);
};

/* agent_vm.c: supervision. The lock is held by the caller where noted. */
int64_t agent_now_ms(void);
void agent_vm_dir(const struct agent *a, const char *name, char *buf, size_t len);
struct agent_vm *agent_vm_find(struct agent *a, const char *name);        /* lock held */
/* Starts `tern run` for spec, detached; incoming_uri non-NULL makes it wait
 * for a migration there, proving key (raw bytes; NULL: a random one).
 * Returns the new entry (lock held) or NULL. */
struct agent_vm *agent_vm_spawn(struct agent *a, const char *name, json_t *spec,
				const char *incoming_uri, const unsigned char *key, size_t keylen,
				char *err, size_t errlen);
/* Writes key as the VM's migration key file (0600). */
int agent_vm_write_key(struct agent *a, const char *name, const unsigned char *key, size_t keylen);
/* Finds VMs left running by an earlier agent (pid files, live sockets). */
void agent_vm_adopt_all(struct agent *a);
/* Refreshes each VM's status, CPU % and memory; marks ended ones gone.
 * Takes the lock itself, but never while talking to a VM. */
void agent_vm_sample(struct agent *a);
/* One QMP command to the named VM (no lock held). Returns the reply or NULL
 * with err. */
json_t *agent_vm_qmp(struct agent *a, const char *name, const char *cmd, json_t *args,
		     char *err, size_t errlen);
/* Ends the VM process: quit over QMP, then SIGKILL. */
int agent_vm_kill(struct agent *a, const char *name);
/* The VMs as a JSON array for the host record and the API (lock held). */
json_t *agent_vm_list_json(struct agent *a);
json_t *agent_vm_json(const struct agent_vm *v);
/* Drops entries whose process is gone (lock held). */
void agent_vm_sweep(struct agent *a);
/* A spec's `tern run` arguments are checked here, before any record is
 * written: 0, or -1 with the offending field in err. */
int agent_spec_check(json_t *spec, char *err, size_t errlen);

/* agent_host.c: the leased host record, host config and power. */
int agent_host_register(struct agent *a, char *err, size_t errlen);
int agent_host_publish(struct agent *a);
json_t *agent_host_cfg(struct agent *a, long long *rev);
/* Sets the host's power state to standby (no VMs allowed) and runs its
 * power command; -EBUSY while VMs remain. */
int agent_host_standby(struct agent *a, char *err, size_t errlen);
/* 1 when this host accepts new VMs (not standby, not draining). */
int agent_host_accepts(struct agent *a, char *why, size_t len);

/* agent_reconcile.c: the desired state. Returns the store revision it
 * acted on (to watch from), or -1 when the store did not answer. */
int64_t agent_reconcile(struct agent *a);
/* The VM record, with its revision; -ENOENT, ... */
int agent_vm_record(struct agent *a, const char *name, json_t **rec, long long *rev);

/* agent_http.c: the server, authentication, sessions and CSRF checks. */
int agent_http_start(struct agent *a, char *err, size_t errlen);
void agent_http_stop(struct agent *a);
/* agent_api.c: one API request, already authenticated. path is what
 * follows /api/v1; body the parsed JSON body or NULL. Returns the HTTP
 * status with the reply in *out. */
int agent_api_handle(struct agent *a, const char *method, const char *path, json_t *body,
		     json_t **out);

/* agent_http.c: who sent the request: 1 a bearer token, 2 a session
 * (from our own origin when it says where it comes from), 0 nobody. */
struct mg_connection;
int agent_http_who(struct agent *a, const struct mg_connection *c);

/* agent_web.c: what the dashboard needs beyond the plain API: the live
 * feed (GET /api/v1/events, server-sent events), consoles over WebSocket
 * (/api/v1/vms/NAME/console), and the VM actions qmp, clone and
 * DELETE migration. */
int agent_web_start(struct agent *a);
void agent_web_stop(struct agent *a);
/* Serves the event stream on c until the client leaves (authenticated). */
int agent_web_events(struct agent *a, struct mg_connection *c);
/* A VM action of this host that the plain API lacks: the HTTP status, or
 * 0 when action is not one of them. */
int agent_web_vm_action(struct agent *a, const char *method, const char *name, const char *action,
			json_t *body, json_t **out);
/* The path of a snapshot file named in a request: absolute as given, or
 * a plain name in STATE_DIR/snapshots. 0, or -1 with err. */
int agent_snapshot_path(struct agent *a, const char *file, char *buf, size_t len, char *err, size_t errlen);

/* agent_tasks.c: the task log, kept bounded in the store (/tern/tasks/). */
void agent_task_record(struct agent *a, const char *user, const char *method, const char *path,
		       json_t *body, int status, json_t *reply);
int agent_tasks_list(struct agent *a, json_t **out);
/* agent_switch.c: project switches spanning hosts. A spec whose nets hold
 * "vde,switch=NAME,..." runs with this host's switch NAME (started, and
 * cabled to the hub host's, when missing) in their place: *out is the spec
 * to run (a new reference). */
int agent_switch_rewrite(struct agent *a, json_t *spec, json_t **out, char *err, size_t errlen);
/* Accepting cables from other hosts on cable_port (a thread). */
int agent_cable_start(struct agent *a, char *err, size_t errlen);
void agent_cable_stop(struct agent *a);
/* Every few seconds: remakes broken cables; removes this host's part of a
 * switch whose record is gone. */
void agent_switch_tick(struct agent *a);

/* agent_tls.c: with --tls-dir, the API's TLS front end. */
int agent_tls_load(struct agent *a, char *err, size_t errlen);      /* checks the folder */
int agent_tls_front_start(struct agent *a, char *err, size_t errlen);
void agent_tls_front_stop(struct agent *a);
int agent_free_loopback_port(void);

/* agent_clusters.c: /api/v1/clusters (seg as agent_api_handle splits it). */
int agent_clusters_handle(struct agent *a, const char *method, int nseg, char seg[][128], json_t *body,
			  json_t **out);

/* agent_migrate.c: live migration between agents. */
/* Takes the VM's lock in the store, then migrates in a thread; -EBUSY when
 * another migration holds the lock, -ENOENT, -EINVAL with err. */
struct agent_mig_opts {
	int postcopy;
	long long downtime_ms;      /* 0: the VM's default */
	long long bandwidth_mbs;    /* MB/s, 0: unlimited */
	int copy_storage;           /* the disks travel with the VM (no shared storage) */
};
int agent_migrate_start(struct agent *a, const char *name, const char *to,
			const struct agent_mig_opts *o, char *err, size_t errlen);
/* The destination side: starts `tern run --incoming` for name with key
 * (hex); the tcp: URI to migrate to in uri. */
int agent_incoming_start(struct agent *a, const char *name, json_t *spec, const char *key_hex,
			 char *uri, size_t urilen, char *err, size_t errlen);
/* The same for a storage migration: each writable disk of spec gets a new
 * file in the VM's folder here (the copy, made by tern run from the
 * stream); *run_spec is spec with those paths (the record's after the
 * move). */
int agent_incoming_start_storage(struct agent *a, const char *name, json_t *spec, const char *key_hex,
				 int copy_storage, json_t **run_spec, char *uri, size_t urilen,
				 char *err, size_t errlen);
int agent_incoming_abort(struct agent *a, const char *name);
/* Removes the disk copies a storage migration to here was making for name
 * (files disk<N>.qcow2 / disk<N>.raw in its folder): it did not complete. */
void agent_incoming_drop_copies(struct agent *a, const char *name);
/* Evacuation: migrate every VM away, one at a time, in a thread. */
int agent_evacuate_start(struct agent *a, char *err, size_t errlen);
/* The same, each VM with copy_storage. */
int agent_evacuate_start_storage(struct agent *a, int copy_storage, char *err, size_t errlen);
#endif
