/* A cluster project file (docs/CLUSTER.md): parsed with libxml2, validated
 * against share/tern-cluster.dtd, templates resolved and checked, as a plain
 * struct that the start plan, the supervisor and the host agent read. */
#ifndef TERN_CLUSTER_PROJECT_H
#define TERN_CLUSTER_PROJECT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "cluster/value.h"

#define PROJECT_NAME_MAX VALUE_NAME_MAX
#define PROJECT_DEFAULT_PRIORITY 99
#define PROJECT_DEFAULT_TIMEOUT 300.0   /* seconds, for a <ready> gate */

struct project_disk {
	const char *base;           /* absolute; an overlay is made on it, or NULL */
	const char *file;           /* absolute; used as it is, or NULL */
	const char *format;         /* of base or file: "raw" (default) or "qcow2" */
	int line;
};

struct project_nic {
	const char *sw;             /* a project switch, or NULL */
	bool user;                  /* slirp NAT */
	const char *hostfwd;        /* with user: space-separated tcp:...-:PORT rules */
	const char *tap;            /* a host tap interface, or NULL */
	uint8_t mac[6];             /* given or generated (stable, unique) */
	bool mac_given;
	const char *address;        /* guest address, CIDR (cloud-init), or NULL */
	const char *gateway;        /* or NULL */
	int line;
};

enum project_ready_kind {
	PROJECT_READY_STARTED,      /* no <ready>: ready once its process runs */
	PROJECT_READY_CONSOLE,      /* text seen on the console */
	PROJECT_READY_TCP,          /* host:port accepts a connection */
	PROJECT_READY_DELAY,        /* seconds after the start */
};

struct project_ready {
	enum project_ready_kind kind;
	const char *console;
	char tcp_host[64];
	int tcp_port;
	double delay_s;
	double timeout_s;
	int line;
};

struct project_user {
	const char *name, *password_hash, *ssh_key;
	int line;
};

struct project_machine {
	const char *name;
	const char *host;           /* host= (multi-host placement), or NULL */
	int line;
	const char *kernel, *initrd, *append;   /* paths absolute */
	uint64_t memory;            /* bytes */
	int cpus;
	int priority;
	struct project_disk *disks;
	size_t ndisks;
	struct project_nic *nics;
	size_t nnics;
	size_t *depends;            /* indexes into project.machines */
	size_t ndepends;
	struct project_ready ready;
	/* Guest configuration (cloud-init seed). */
	const char *hostname;
	struct project_user *users;
	size_t nusers;
	const char **runs;
	size_t nruns;
};

struct project_switch {
	const char *name;
	int line;
};

struct project {
	const char *name;
	const char *path;           /* the project file, absolute */
	const char *dir;            /* its folder: relative paths start here */
	struct project_switch *switches;
	size_t nswitches;
	struct project_machine *machines;   /* in file order */
	size_t nmachines;
	struct project_arena *arena;        /* owns every string and array */
};

/* Where the shipped DTD is: $TERN_CLUSTER_DTD, else beside the binary
 * (../share/tern/tern-cluster.dtd, ../share/tern-cluster.dtd from
 * /proc/self/exe). Returns 0 or -1. */
int project_dtd_path(char *buf, size_t len);

/* Parses, validates and resolves path. On any error returns NULL after
 * writing every problem as "FILE:LINE: message\n" to diag. dtd may be NULL
 * for project_dtd_path(). */
struct project *project_load(const char *path, const char *dtd, FILE *diag);
/* The same, with relative paths resolved against base_dir instead of the
 * file's folder (a copy kept elsewhere, e.g. in the project folder). */
struct project *project_load_at(const char *path, const char *base_dir, const char *dtd, FILE *diag);
void project_free(struct project *p);

/* Index of the machine or switch named, or -1. */
int project_machine_index(const struct project *p, const char *name);
int project_switch_index(const struct project *p, const char *name);
/* Does the machine need a cloud-init seed (hostname, user, run, address)? */
bool project_machine_has_guest_config(const struct project_machine *m);
/* "52:54:00:12:34:56" into buf (18 bytes). */
void project_format_mac(const uint8_t mac[6], char *buf);
#endif
