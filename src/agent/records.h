/* The cluster's records in the store, shared by ternd and the `tern host`
 * verbs: key names, the host and VM record shapes, how a host's state
 * (up, down, draining, standby) follows from them, and the API token. */
#ifndef TERN_AGENT_RECORDS_H
#define TERN_AGENT_RECORDS_H
#include <stddef.h>
#include <jansson.h>

struct store;

/* Leased, rewritten every few seconds by the host's agent: what it runs. */
#define REC_HOSTS "/tern/hosts/"
/* Kept (no lease): the host's power state, draining flag, power commands. */
#define REC_HOSTCFG "/tern/hostcfg/"
/* The desired state: one record per VM, {"name","host","state","spec"}. */
#define REC_VMS "/tern/vms/"
/* Exclusive actions on a VM (migration), under the acting agent's lease. */
#define REC_LOCKS "/tern/locks/vm/"
/* Project switches spanning hosts: {"name","hub","cable":"ADDR:PORT"}. */
#define REC_SWITCHES "/tern/switches/"
/* The cluster CA's certificate (PEM), published by agents with --tls-dir,
 * so that the CLI can verify them knowing only the etcd URLs. */
#define REC_CA "/tern/cluster/ca.crt"
/* The CA for api_auth.ca_pem: a new string, or NULL (no TLS in the cluster). */
char *rec_ca_pem(struct store *s);
/* The cluster's shared API token. */
#define REC_TOKEN "/tern/cluster/token"

#define REC_NAME_MAX 63

/* Names of hosts and VMs: 1..63 of [A-Za-z0-9_.-], not starting with '.'. */
int rec_name_ok(const char *name);
void rec_key(char *buf, size_t len, const char *prefix, const char *name);

/* Reads and parses the JSON record at key: -ENOENT, -EIO for a record that
 * is not a JSON object, or another store error. rev (may be NULL) gets its
 * mod_revision for a later store_cas. */
int rec_get(struct store *s, const char *key, json_t **out, long long *rev);
/* Writes obj (borrowed) at key if its revision is still rev (0: absent). */
int rec_cas(struct store *s, const char *key, long long rev, json_t *obj, long long lease);

/* Every host the store knows of (a live record or a kept config), merged
 * into the `tern host list --json` shape:
 * {"hosts":[{"name","address","state","power","cpu_percent","mem_used",
 *  "mem_total","vms":[...], "api", "cpus", "draining"}]} */
int rec_hosts(struct store *s, json_t **out);
/* One host from rec_hosts' list (a new reference), or NULL. */
json_t *rec_host_find(json_t *hosts, const char *name);

/* The cluster's API token (etcd) or this host's (local store, the file
 * STATE_DIR/token). Returns 0 with the token in buf. */
int rec_token(struct store *s, const char *state_dir, int is_etcd, char *buf, size_t len,
	      char *err, size_t errlen);

/* Wakes host name: runs its power_cmd_wake (if it has one) here, then
 * records it on and no longer draining. 0, or -1 with err. */
int rec_host_wake(struct store *s, const char *name, char *err, size_t errlen);

/* Runs cmd through /bin/sh -c, waiting at most timeout_s; 0 when it exited
 * 0, else -1 with its status and output's last line in err. */
int rec_run_cmd(const char *cmd, int timeout_s, char *err, size_t errlen);

/* The default state directory: /var/lib/ternd for root, else
 * $XDG_STATE_HOME/ternd or ~/.local/state/ternd; TERN_STATE_DIR wins. */
int rec_default_state_dir(char *buf, size_t len);
#endif
