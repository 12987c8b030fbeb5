/* Loads a cluster project file: libxml2 parse (with line numbers), DTD
 * validation, then the meaning: names, references, template inheritance,
 * files, sizes, gates, guest configuration, MACs and dependency cycles. */
#define _GNU_SOURCE
#include "cluster/project.h"
#include "cluster/value.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/valid.h>
#include <libxml/xmlerror.h>

#define MIN_MEMORY (16ull << 20)
#define MAX_MEMORY (64ull << 30)
#define MAX_CPUS 8

/* ---- arena: every string and array of a project ---- */

struct project_arena {
	void **ptrs;
	size_t n, cap;
};

static void *arena_keep(struct project_arena *a, void *p)
{
	if (!p)
		return NULL;
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		void **np = realloc(a->ptrs, cap * sizeof(*np));
		if (!np) {
			free(p);
			return NULL;
		}
		a->ptrs = np;
		a->cap = cap;
	}
	a->ptrs[a->n++] = p;
	return p;
}

static void *arena_zalloc(struct project_arena *a, size_t size)
{
	return arena_keep(a, calloc(1, size ? size : 1));
}

static char *arena_strdup(struct project_arena *a, const char *s)
{
	return s ? arena_keep(a, strdup(s)) : NULL;
}

/* Appends one element to *arr (of *n), growing it in the arena. */
static void *arena_push(struct project_arena *a, void *arr_p, size_t *n, size_t elem)
{
	void **arr = arr_p;
	void *na = arena_zalloc(a, (*n + 1) * elem);
	if (!na)
		return NULL;
	if (*n)
		memcpy(na, *arr, *n * elem);
	*arr = na;           /* the old array stays in the arena until the end */
	return (char *)na + (*n)++ * elem;
}

/* ---- diagnostics ---- */

struct loader {
	const char *file;           /* as the user named it */
	struct project *p;
	struct project_arena *a;
	FILE *diag;
	int errors;
};

__attribute__((format(printf, 3, 4)))
static void fail(struct loader *L, int line, const char *fmt, ...)
{
	va_list ap;
	fprintf(L->diag, "%s:%d: ", L->file, line);
	va_start(ap, fmt);
	vfprintf(L->diag, fmt, ap);
	va_end(ap);
	fputc('\n', L->diag);
	L->errors++;
}

static void on_xml_error(void *opaque, xmlErrorPtr e)
{
	struct loader *L = opaque;
	if (!e || e->level == XML_ERR_WARNING)
		return;
	char msg[512];
	snprintf(msg, sizeof(msg), "%s", e->message ? e->message : "XML error");
	size_t l = strlen(msg);
	while (l && (msg[l - 1] == '\n' || msg[l - 1] == ' '))
		msg[--l] = 0;
	fail(L, e->line > 0 ? e->line : 1, "%s%s", e->domain == XML_FROM_VALID ? "does not match "
	     "tern-cluster.dtd: " : "", msg);
}

/* ---- the raw records: a template or a machine as written ---- */

enum field {
	F_KERNEL, F_INITRD, F_APPEND, F_MEMORY, F_CPUS, F_PRIORITY, F_DISKS, F_NICS,
	F_DEPENDS, F_READY, F_HOSTNAME, F_USERS, F_RUNS, F_COUNT
};

struct dep_ref {
	const char *name;
	int line;
};

struct proto {
	bool is_template;
	const char *name, *tmpl;
	int line;
	unsigned set;                   /* 1 << field */
	struct project_machine m;       /* the values set here */
	struct dep_ref *deps;
	size_t ndeps;
};

static char *attr(struct loader *L, xmlNodePtr n, const char *name)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
	if (!v)
		return NULL;
	char *s = arena_strdup(L->a, (const char *)v);
	xmlFree(v);
	return s;
}

static char *text(struct loader *L, xmlNodePtr n)
{
	xmlChar *v = xmlNodeGetContent(n);
	char *s = arena_strdup(L->a, v ? (const char *)v : "");
	xmlFree(v);
	if (!s)
		return NULL;
	/* Trim: an element spread over lines reads as its words. */
	char *b = s, *e = s + strlen(s);
	while (*b && isspace((unsigned char)*b))
		b++;
	while (e > b && isspace((unsigned char)e[-1]))
		*--e = 0;
	for (char *c = b; *c; c++)
		if (*c == '\n' || *c == '\t' || *c == '\r')
			*c = ' ';
	return b;
}

static int line_of(xmlNodePtr n)
{
	long l = xmlGetLineNo(n);
	return l > 0 ? (int)l : 1;
}

/* A path as written, made absolute against the project's folder; it must
 * name a regular file. */
static const char *file_path(struct loader *L, xmlNodePtr n, const char *what, const char *v)
{
	if (!v || !*v) {
		fail(L, line_of(n), "%s: empty path", what);
		return NULL;
	}
	char *abs;
	if (v[0] == '/')
		abs = arena_strdup(L->a, v);
	else if (asprintf(&abs, "%s/%s", L->p->dir, v) < 0)
		abs = NULL;
	else
		abs = arena_keep(L->a, abs);
	if (!abs)
		return NULL;
	struct stat st;
	if (stat(abs, &st) < 0)
		fail(L, line_of(n), "%s '%s' not found (%s: %s)", what, v, abs, strerror(errno));
	else if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		fail(L, line_of(n), "%s '%s' is not a file", what, v);
	return abs;
}

static void once(struct loader *L, struct proto *r, enum field f, xmlNodePtr n)
{
	if (r->set & (1u << f))
		fail(L, line_of(n), "<%s> given twice in %s '%s'", (const char *)n->name,
		     r->is_template ? "template" : "machine", r->name);
	r->set |= 1u << f;
}

static void parse_nic(struct loader *L, struct proto *r, xmlNodePtr n)
{
	struct project_nic *nic = arena_push(L->a, &r->m.nics, &r->m.nnics, sizeof(*nic));
	if (!nic)
		return;
	r->set |= 1u << F_NICS;
	int line = nic->line = line_of(n);
	nic->sw = attr(L, n, "switch");
	const char *user = attr(L, n, "user");
	nic->user = user && !strcmp(user, "on");
	nic->hostfwd = attr(L, n, "hostfwd");
	nic->tap = attr(L, n, "tap");
	nic->address = attr(L, n, "address");
	nic->gateway = attr(L, n, "gateway");
	int kinds = !!nic->sw + nic->user + !!nic->tap;
	if (kinds != 1)
		fail(L, line, "<nic> needs exactly one of switch=, user=\"on\" or tap=");
	if (nic->sw && project_switch_index(L->p, nic->sw) < 0)
		fail(L, line, "unknown switch '%s'", nic->sw);
	if (nic->hostfwd && !nic->user)
		fail(L, line, "hostfwd= needs user=\"on\"");
	if (nic->hostfwd) {
		char *copy = strdup(nic->hostfwd), *save = NULL;
		for (char *t = copy ? strtok_r(copy, " ", &save) : NULL; t; t = strtok_r(NULL, " ", &save))
			if ((strncmp(t, "tcp:", 4) && strncmp(t, "udp:", 4)) || !strchr(t, '-') || strchr(t, ','))
				fail(L, line, "hostfwd rule '%s' is not tcp:[HOSTADDR]:PORT-[GUESTADDR]:PORT", t);
		free(copy);
	}
	if (nic->tap && (!*nic->tap || strlen(nic->tap) > 15 || strchr(nic->tap, ',')))
		fail(L, line, "tap= '%s' is not an interface name (1 to 15 characters)", nic->tap);
	const char *mac = attr(L, n, "mac");
	if (mac) {
		nic->mac_given = true;
		if (value_mac(mac, nic->mac))
			fail(L, line, "mac '%s' is not a unicast MAC address like 52:54:00:12:34:56", mac);
	}
	if (nic->address && !value_cidr(nic->address))
		fail(L, line, "address '%s' is not ADDRESS/PREFIX (e.g. 10.0.0.2/24)", nic->address);
	if (nic->gateway && !value_ip(nic->gateway))
		fail(L, line, "gateway '%s' is not an IP address", nic->gateway);
	if (nic->gateway && !nic->address)
		fail(L, line, "gateway= needs address=");
}

static void parse_ready(struct loader *L, struct proto *r, xmlNodePtr n)
{
	once(L, r, F_READY, n);
	struct project_ready *g = &r->m.ready;
	int line = g->line = line_of(n);
	const char *console = attr(L, n, "console"), *tcp = attr(L, n, "tcp");
	const char *delay = attr(L, n, "delay"), *timeout = attr(L, n, "timeout");
	if (!!console + !!tcp + !!delay != 1) {
		fail(L, line, "<ready> needs exactly one of console=, tcp= or delay=");
		return;
	}
	g->timeout_s = PROJECT_DEFAULT_TIMEOUT;
	if (timeout && (value_seconds(timeout, 0, &g->timeout_s) || g->timeout_s <= 0))
		fail(L, line, "timeout '%s' is not a number of seconds above 0", timeout);
	if (console) {
		g->kind = PROJECT_READY_CONSOLE;
		g->console = console;
		if (!*console)
			fail(L, line, "console= is empty");
	} else if (tcp) {
		g->kind = PROJECT_READY_TCP;
		const char *colon = strrchr(tcp, ':');
		long port;
		size_t hl = colon ? (size_t)(colon - tcp) : 0;
		if (!colon || !hl || hl >= sizeof(g->tcp_host) || value_int(colon + 1, 1, 65535, &port)) {
			fail(L, line, "tcp '%s' is not HOST:PORT", tcp);
			return;
		}
		memcpy(g->tcp_host, tcp, hl);
		g->tcp_host[hl] = 0;
		g->tcp_port = (int)port;
	} else {
		g->kind = PROJECT_READY_DELAY;
		if (value_seconds(delay, 0, &g->delay_s))
			fail(L, line, "delay '%s' is not a number of seconds (0 or more)", delay);
	}
}

static void parse_child(struct loader *L, struct proto *r, xmlNodePtr n)
{
	const char *el = (const char *)n->name;
	int line = line_of(n);
	if (!strcmp(el, "kernel") || !strcmp(el, "initrd")) {
		bool k = el[0] == 'k';
		once(L, r, k ? F_KERNEL : F_INITRD, n);
		const char *p = file_path(L, n, el, attr(L, n, "path"));
		if (k)
			r->m.kernel = p;
		else
			r->m.initrd = p;
	} else if (!strcmp(el, "append")) {
		once(L, r, F_APPEND, n);
		r->m.append = text(L, n);
	} else if (!strcmp(el, "disk")) {
		struct project_disk *d = arena_push(L->a, &r->m.disks, &r->m.ndisks, sizeof(*d));
		if (!d)
			return;
		r->set |= 1u << F_DISKS;
		d->line = line;
		const char *base = attr(L, n, "base"), *file = attr(L, n, "file");
		d->format = attr(L, n, "format");
		if (!d->format)
			d->format = "raw";
		if (!!base + !!file != 1)
			fail(L, line, "<disk> needs exactly one of base= or file=");
		if (base)
			d->base = file_path(L, n, "disk base", base);
		if (file)
			d->file = file_path(L, n, "disk file", file);
	} else if (!strcmp(el, "nic")) {
		parse_nic(L, r, n);
	} else if (!strcmp(el, "depends")) {
		struct dep_ref *d = arena_push(L->a, &r->deps, &r->ndeps, sizeof(*d));
		if (!d)
			return;
		r->set |= 1u << F_DEPENDS;
		d->name = attr(L, n, "on");
		d->line = line;
	} else if (!strcmp(el, "ready")) {
		parse_ready(L, r, n);
	} else if (!strcmp(el, "hostname")) {
		once(L, r, F_HOSTNAME, n);
		r->m.hostname = text(L, n);
		if (r->m.hostname && !value_hostname(r->m.hostname))
			fail(L, line, "hostname '%s' is not a host name (letters, digits, '-', dots)",
			     r->m.hostname);
	} else if (!strcmp(el, "user")) {
		struct project_user *u = arena_push(L->a, &r->m.users, &r->m.nusers, sizeof(*u));
		if (!u)
			return;
		r->set |= 1u << F_USERS;
		u->line = line;
		u->name = attr(L, n, "name");
		u->password_hash = attr(L, n, "password-hash");
		u->ssh_key = attr(L, n, "ssh-key");
		if (u->name && !value_user_name(u->name))
			fail(L, line, "user name '%s' is not a login name (a-z, 0-9, '_', '-')", u->name);
		if (u->password_hash && (u->password_hash[0] != '$' || strpbrk(u->password_hash, " :\n")))
			fail(L, line, "password-hash must be a crypt(3) hash such as $6$salt$..., not a password");
		if (u->ssh_key && !value_ssh_key(u->ssh_key))
			fail(L, line, "ssh-key is not a public key line (ssh-ed25519 AAAA... [comment])");
	} else if (!strcmp(el, "run")) {
		const char **c = arena_push(L->a, &r->m.runs, &r->m.nruns, sizeof(*c));
		if (!c)
			return;
		r->set |= 1u << F_RUNS;
		*c = text(L, n);
		if (*c && !**c)
			fail(L, line, "<run> is empty");
	}
}

static void parse_proto(struct loader *L, struct proto *r, xmlNodePtr n)
{
	r->line = line_of(n);
	r->name = attr(L, n, "name");
	r->tmpl = attr(L, n, "template");
	r->m.name = r->name;
	r->m.line = r->line;
	if (!r->is_template)
		r->m.host = attr(L, n, "host");
	const char *what = r->is_template ? "template" : "machine";
	if (r->name && !value_name(r->name))
		fail(L, r->line, "%s name '%s': use 1 to %d letters, digits, '-' or '_'", what, r->name,
		     PROJECT_NAME_MAX);
	const char *v;
	if ((v = attr(L, n, "memory"))) {
		r->set |= 1u << F_MEMORY;
		if (value_size(v, &r->m.memory) || r->m.memory < MIN_MEMORY || r->m.memory > MAX_MEMORY ||
		    (r->m.memory & 0xfff))
			fail(L, r->line, "memory '%s': give 16M to 64G, e.g. 256M or 1G", v);
	}
	if ((v = attr(L, n, "cpus"))) {
		long c;
		r->set |= 1u << F_CPUS;
		if (value_int(v, 1, MAX_CPUS, &c))
			fail(L, r->line, "cpus '%s': give 1 to %d", v, MAX_CPUS);
		r->m.cpus = (int)c;
	}
	if ((v = attr(L, n, "priority"))) {
		long pr;
		r->set |= 1u << F_PRIORITY;
		if (value_int(v, LONG_MIN, LONG_MAX, &pr) || pr < 0 || pr > 1000000)
			fail(L, r->line, "priority '%s': give a whole number from 0 (first) up", v);
		r->m.priority = (int)pr;
	}
	for (xmlNodePtr c = n->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE)
			parse_child(L, r, c);
}

/* ---- templates ---- */

static struct proto *find_template(struct proto *recs, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (recs[i].is_template && recs[i].name && !strcmp(recs[i].name, name))
			return &recs[i];
	return NULL;
}

/* Follows template= from r; refuses unknown templates and cycles. The chain
 * (r first) goes into chain[]; returns its length, or 0 on error. */
static size_t template_chain(struct loader *L, struct proto *recs, size_t n, struct proto *r,
			     struct proto **chain, bool report)
{
	size_t len = 0;
	for (struct proto *t = r; t; ) {
		for (size_t i = 0; i < len; i++) {
			if (chain[i] != t)
				continue;
			if (report) {
				char cyc[512] = "";
				size_t o = 0;
				for (size_t j = i; j < len && o < sizeof(cyc); j++)
					o += (size_t)snprintf(cyc + o, sizeof(cyc) - o, "%s -> ", chain[j]->name);
				if (o < sizeof(cyc))
					snprintf(cyc + o, sizeof(cyc) - o, "%s", t->name);
				fail(L, t->line, "template inheritance cycle: %s", cyc);
			}
			return 0;
		}
		if (len > n)
			return 0;
		chain[len++] = t;
		if (!t->tmpl)
			break;
		struct proto *next = find_template(recs, n, t->tmpl);
		if (!next) {
			if (report)
				fail(L, t->line, "unknown template '%s'", t->tmpl);
			return 0;
		}
		t = next;
	}
	return len;
}

/* The machine as resolved: each field from the nearest record setting it. */
static void resolve(struct loader *L, struct proto **chain, size_t len, struct project_machine *out,
		    struct dep_ref **deps, size_t *ndeps)
{
	struct proto *m = chain[0];
	*out = m->m;
	out->cpus = 1;
	out->memory = 256ull << 20;
	out->priority = PROJECT_DEFAULT_PRIORITY;
	out->append = "console=ttyS0";
	out->ready = (struct project_ready){ .kind = PROJECT_READY_STARTED, .timeout_s = PROJECT_DEFAULT_TIMEOUT };
	*deps = NULL;
	*ndeps = 0;
	unsigned done = 0;
	for (size_t i = 0; i < len; i++) {
		struct proto *r = chain[i];
		unsigned take = r->set & ~done;
		done |= r->set;
		const struct project_machine *v = &r->m;
		if (take & (1u << F_KERNEL)) out->kernel = v->kernel;
		if (take & (1u << F_INITRD)) out->initrd = v->initrd;
		if (take & (1u << F_APPEND)) out->append = v->append;
		if (take & (1u << F_MEMORY)) out->memory = v->memory;
		if (take & (1u << F_CPUS)) out->cpus = v->cpus;
		if (take & (1u << F_PRIORITY)) out->priority = v->priority;
		if (take & (1u << F_READY)) out->ready = v->ready;
		if (take & (1u << F_HOSTNAME)) out->hostname = v->hostname;
		if (take & (1u << F_DISKS)) { out->disks = v->disks; out->ndisks = v->ndisks; }
		if (take & (1u << F_USERS)) { out->users = v->users; out->nusers = v->nusers; }
		if (take & (1u << F_RUNS)) { out->runs = v->runs; out->nruns = v->nruns; }
		if (take & (1u << F_DEPENDS)) { *deps = r->deps; *ndeps = r->ndeps; }
		if (take & (1u << F_NICS)) {
			/* A copy: MACs are generated per machine. */
			out->nics = arena_zalloc(L->a, v->nnics * sizeof(*out->nics));
			if (out->nics)
				memcpy(out->nics, v->nics, v->nnics * sizeof(*out->nics));
			out->nnics = out->nics ? v->nnics : 0;
		}
	}
	if (!(done & (1u << F_NICS))) {
		out->nics = NULL;
		out->nnics = 0;
	}
	if (!out->kernel)
		fail(L, m->line, "machine '%s' has no kernel: give <kernel path=\"...\"/> here or in its template",
		     m->name);
}

/* ---- MACs ---- */

static uint64_t fnv1a(const char *s, uint64_t h)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

static const struct project_nic *mac_owner(const struct project *p, const uint8_t mac[6],
					   const struct project_nic *self, size_t *who)
{
	for (size_t i = 0; i < p->nmachines; i++)
		for (size_t j = 0; j < p->machines[i].nnics; j++) {
			const struct project_nic *n = &p->machines[i].nics[j];
			if (n != self && (n->mac_given || n->mac[0]) && !memcmp(n->mac, mac, 6)) {
				*who = i;
				return n;
			}
		}
	return NULL;
}

/* Given MACs must be unique; the rest are derived from the project and
 * machine names and the NIC's index, stepping past any MAC in use. */
static void assign_macs(struct loader *L)
{
	struct project *p = L->p;
	size_t who;
	for (size_t i = 0; i < p->nmachines; i++)
		for (size_t j = 0; j < p->machines[i].nnics; j++) {
			struct project_nic *n = &p->machines[i].nics[j];
			const struct project_nic *o;
			if (n->mac_given && (o = mac_owner(p, n->mac, n, &who)) && o->mac_given &&
			    (who < i || (who == i && o < n))) {
				char buf[18];
				project_format_mac(n->mac, buf);
				fail(L, n->line, "MAC %s is already used by machine '%s' (line %d)", buf,
				     p->machines[who].name, o->line);
			}
		}
	for (size_t i = 0; i < p->nmachines; i++)
		for (size_t j = 0; j < p->machines[i].nnics; j++) {
			struct project_nic *n = &p->machines[i].nics[j];
			if (n->mac_given)
				continue;
			char idx[24];
			snprintf(idx, sizeof(idx), "/%zu", j);
			uint64_t h = fnv1a(idx, fnv1a(p->machines[i].name, fnv1a("/", fnv1a(p->name,
						0xcbf29ce484222325ull))));
			for (unsigned step = 0; ; step++) {
				uint64_t v = h + step * 0x9e3779b97f4a7c15ull;
				uint8_t mac[6] = { 0x52, 0x54, 0x00, (uint8_t)(v >> 40), (uint8_t)(v >> 24),
						   (uint8_t)(v >> 8) };
				if (!mac_owner(p, mac, n, &who)) {
					memcpy(n->mac, mac, 6);
					break;
				}
			}
		}
}

/* ---- dependencies ---- */

/* Depth-first search; colour 1 = on the stack. Prints the first cycle. */
static bool dep_cycle(struct loader *L, size_t v, int *colour, size_t *stack, size_t depth)
{
	struct project *p = L->p;
	colour[v] = 1;
	stack[depth] = v;
	const struct project_machine *m = &p->machines[v];
	for (size_t k = 0; k < m->ndepends; k++) {
		size_t w = m->depends[k];
		if (colour[w] == 1) {
			char cyc[1024] = "";
			size_t o = 0, start = depth;
			while (stack[start] != w)
				start--;
			for (size_t j = start; j <= depth && o < sizeof(cyc); j++)
				o += (size_t)snprintf(cyc + o, sizeof(cyc) - o, "%s -> ", p->machines[stack[j]].name);
			if (o < sizeof(cyc))
				snprintf(cyc + o, sizeof(cyc) - o, "%s", p->machines[w].name);
			fail(L, p->machines[w].line, "dependency cycle: %s", cyc);
			return true;
		}
		if (colour[w] == 0 && dep_cycle(L, w, colour, stack, depth + 1))
			return true;
	}
	colour[v] = 2;
	return false;
}

static void check_depends(struct loader *L, struct dep_ref **deps, size_t *ndeps)
{
	struct project *p = L->p;
	for (size_t i = 0; i < p->nmachines; i++) {
		struct project_machine *m = &p->machines[i];
		m->depends = arena_zalloc(L->a, (ndeps[i] + 1) * sizeof(size_t));
		if (!m->depends)
			return;
		for (size_t k = 0; k < ndeps[i]; k++) {
			int w = deps[i][k].name ? project_machine_index(p, deps[i][k].name) : -1;
			if (w < 0) {
				fail(L, deps[i][k].line, "machine '%s' depends on unknown machine '%s'", m->name,
				     deps[i][k].name ? deps[i][k].name : "");
				continue;
			}
			if ((size_t)w == i) {
				fail(L, deps[i][k].line, "dependency cycle: %s -> %s", m->name, m->name);
				continue;
			}
			const struct project_machine *d = &p->machines[w];
			if (d->priority > m->priority) {
				fail(L, deps[i][k].line, "machine '%s' (priority %d) depends on '%s', which starts "
				     "later (priority %d)", m->name, m->priority, d->name, d->priority);
				continue;
			}
			bool dup = false;
			for (size_t j = 0; j < m->ndepends; j++)
				dup |= m->depends[j] == (size_t)w;
			if (!dup)
				m->depends[m->ndepends++] = (size_t)w;
		}
	}
	if (L->errors)
		return;
	int *colour = calloc(p->nmachines, sizeof(int));
	size_t *stack = calloc(p->nmachines + 1, sizeof(size_t));
	for (size_t i = 0; colour && stack && i < p->nmachines; i++)
		if (!colour[i] && dep_cycle(L, i, colour, stack, 0))
			break;
	free(colour);
	free(stack);
}

/* ---- the whole file ---- */

static void load_doc(struct loader *L, xmlDocPtr doc, const char *dtd_path)
{
	struct project *p = L->p;
	xmlNodePtr root = xmlDocGetRootElement(doc);
	if (!root || strcmp((const char *)root->name, "project")) {
		fail(L, root ? line_of(root) : 1, "the root element must be <project>");
		return;
	}
	xmlDtdPtr dtd = xmlParseDTD(NULL, (const xmlChar *)dtd_path);
	if (!dtd) {
		fail(L, 1, "cannot read the DTD %s", dtd_path);
		return;
	}
	xmlValidCtxtPtr vc = xmlNewValidCtxt();
	int ok = vc && xmlValidateDtd(vc, doc, dtd);
	xmlFreeValidCtxt(vc);
	xmlFreeDtd(dtd);
	if (!ok) {
		if (!L->errors)
			fail(L, line_of(root), "does not match tern-cluster.dtd");
		return;
	}
	p->name = attr(L, root, "name");
	if (p->name && !value_name(p->name))
		fail(L, line_of(root), "project name '%s': use 1 to %d letters, digits, '-' or '_'", p->name,
		     PROJECT_NAME_MAX);
	/* Switches first: a NIC may name a switch declared below it. */
	for (xmlNodePtr n = root->children; n; n = n->next) {
		if (n->type != XML_ELEMENT_NODE || strcmp((const char *)n->name, "switch"))
			continue;
		const char *name = attr(L, n, "name");
		if (name && !value_name(name))
			fail(L, line_of(n), "switch name '%s': use 1 to %d letters, digits, '-' or '_'", name,
			     PROJECT_NAME_MAX);
		int prev = name ? project_switch_index(p, name) : -1;
		if (prev >= 0)
			fail(L, line_of(n), "duplicate switch name '%s' (first on line %d)", name, p->switches[prev].line);
		struct project_switch *s = arena_push(L->a, &p->switches, &p->nswitches, sizeof(*s));
		if (!s)
			return;
		s->name = name;
		s->line = line_of(n);
	}
	struct proto *recs = NULL;
	size_t nrecs = 0;
	for (xmlNodePtr n = root->children; n; n = n->next) {
		if (n->type != XML_ELEMENT_NODE || !strcmp((const char *)n->name, "switch"))
			continue;
		struct proto *r = arena_push(L->a, &recs, &nrecs, sizeof(*r));
		if (!r)
			return;
		r->is_template = !strcmp((const char *)n->name, "template");
		parse_proto(L, r, n);
	}
	for (size_t i = 0; i < nrecs; i++)
		for (size_t j = 0; j < i; j++)
			if (recs[i].name && recs[j].name && recs[i].is_template == recs[j].is_template &&
			    !strcmp(recs[i].name, recs[j].name)) {
				fail(L, recs[i].line, "duplicate %s name '%s' (first on line %d)",
				     recs[i].is_template ? "template" : "machine", recs[i].name, recs[j].line);
				break;
			}
	struct proto **chain = arena_zalloc(L->a, (nrecs + 2) * sizeof(*chain));
	struct dep_ref **deps = arena_zalloc(L->a, (nrecs + 1) * sizeof(*deps));
	size_t *ndeps = arena_zalloc(L->a, (nrecs + 1) * sizeof(*ndeps));
	if (!chain || !deps || !ndeps)
		return;
	for (size_t i = 0; i < nrecs; i++)      /* each template once, for cycles */
		if (recs[i].is_template)
			template_chain(L, recs, nrecs, &recs[i], chain, true);
	int before = L->errors;
	for (size_t i = 0; i < nrecs; i++) {
		if (recs[i].is_template)
			continue;
		size_t len = template_chain(L, recs, nrecs, &recs[i], chain, false);
		if (!len) {
			if (L->errors == before && !find_template(recs, nrecs, recs[i].tmpl))
				fail(L, recs[i].line, "unknown template '%s'", recs[i].tmpl);
			continue;
		}
		struct project_machine *m = arena_push(L->a, &p->machines, &p->nmachines, sizeof(*m));
		if (!m)
			return;
		resolve(L, chain, len, m, &deps[p->nmachines - 1], &ndeps[p->nmachines - 1]);
	}
	if (!L->errors)
		assign_macs(L);
	if (!L->errors)
		check_depends(L, deps, ndeps);
}

struct project *project_load(const char *path, const char *dtd, FILE *diag)
{
	return project_load_at(path, NULL, dtd, diag);
}

struct project *project_load_at(const char *path, const char *base_dir, const char *dtd, FILE *diag)
{
	char dtd_buf[PATH_MAX];
	struct project_arena *a = calloc(1, sizeof(*a));
	struct project *p = calloc(1, sizeof(*p));
	struct loader L = { .file = path, .p = p, .a = a, .diag = diag };
	if (!a || !p) {
		free(a);
		free(p);
		fprintf(diag, "%s: out of memory\n", path);
		return NULL;
	}
	p->arena = a;
	if (!dtd) {
		if (project_dtd_path(dtd_buf, sizeof(dtd_buf))) {
			fprintf(diag, "%s:1: cannot find tern-cluster.dtd beside the tern binary "
				"(set TERN_CLUSTER_DTD)\n", path);
			project_free(p);
			return NULL;
		}
		dtd = dtd_buf;
	}
	char *abs = realpath(path, NULL);
	if (!abs) {
		fprintf(diag, "%s:1: cannot open: %s\n", path, strerror(errno));
		project_free(p);
		return NULL;
	}
	p->path = arena_keep(a, abs);
	char *dir = arena_strdup(a, base_dir ? base_dir : abs);
	if (!dir) {
		project_free(p);
		return NULL;
	}
	if (!base_dir)
		*strrchr(dir, '/') = 0;
	p->dir = *dir ? dir : "/";

	xmlSetStructuredErrorFunc(&L, on_xml_error);
	xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
	xmlDocPtr doc = ctxt ? xmlCtxtReadFile(ctxt, abs, NULL, XML_PARSE_NONET) : NULL;
	if (doc && !L.errors)
		load_doc(&L, doc, dtd);
	else if (!L.errors)
		fail(&L, 1, "not a well-formed XML file");
	xmlSetStructuredErrorFunc(NULL, NULL);
	xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctxt);
	if (L.errors) {
		project_free(p);
		return NULL;
	}
	return p;
}

void project_free(struct project *p)
{
	if (!p)
		return;
	if (p->arena) {
		for (size_t i = 0; i < p->arena->n; i++)
			free(p->arena->ptrs[i]);
		free(p->arena->ptrs);
		free(p->arena);
	}
	free(p);
}

int project_dtd_path(char *buf, size_t len)
{
	const char *env = getenv("TERN_CLUSTER_DTD");
	if (env && *env) {
		snprintf(buf, len, "%s", env);
		return access(buf, R_OK) ? -1 : 0;
	}
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = 0;
	char *slash = strrchr(exe, '/');
	if (!slash)
		return -1;
	*slash = 0;
	static const char *const rel[] = { "../share/tern/tern-cluster.dtd", "../share/tern-cluster.dtd",
					   "share/tern-cluster.dtd" };
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		if ((size_t)snprintf(buf, len, "%s/%s", exe, rel[i]) < len && access(buf, R_OK) == 0)
			return 0;
	}
	return -1;
}

int project_machine_index(const struct project *p, const char *name)
{
	for (size_t i = 0; i < p->nmachines; i++)
		if (p->machines[i].name && !strcmp(p->machines[i].name, name))
			return (int)i;
	return -1;
}

int project_switch_index(const struct project *p, const char *name)
{
	for (size_t i = 0; i < p->nswitches; i++)
		if (p->switches[i].name && !strcmp(p->switches[i].name, name))
			return (int)i;
	return -1;
}

bool project_machine_has_guest_config(const struct project_machine *m)
{
	if (m->hostname || m->nusers || m->nruns)
		return true;
	for (size_t i = 0; i < m->nnics; i++)
		if (m->nics[i].address)
			return true;
	return false;
}

void project_format_mac(const uint8_t mac[6], char *buf)
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}
