/* What the dashboard needs beyond the plain API: the live feed of hosts and
 * VMs as server-sent events, each VM's serial console over a WebSocket
 * (bridged to the VM's console socket, starting with its log's tail; a VM
 * of another host through that host's agent), and
 * the VM actions qmp, clone (from a snapshot file) and migration cancel. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/random.h>
#include <sys/un.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <time.h>
#include <unistd.h>
#include <civetweb.h>
#include "agent/agent.h"
#include "agent/records.h"
#include "cluster/gate.h"
#include "store/store.h"

#define STREAMS_MAX 16          /* event streams at once */
#define CONSOLES_MAX 16         /* console WebSockets at once */
#define TAIL_BYTES (64 * 1024)  /* scrollback sent when a console opens */

struct console {
	struct agent *a;
	struct mg_connection *conn;
	char name[64];
	int fd;                     /* the VM's console socket, -1: none */
	int relay;                  /* fd is a WebSocket to the VM host's agent */
	char remote[200];           /* that agent's API URL (http://HOST:PORT) */
	int reader_started;
	pthread_t reader;
	struct console *next;
};

struct agent_live {
	pthread_mutex_t lock;
	int streams;
	int consoles;
	struct console *list;
};

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* A Sec-WebSocket-Key: 16 random bytes, base64. */
static void rand_key(char *out, size_t len)
{
	unsigned char r[16];
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		memset(r, 0x33, sizeof(r));
	if (len >= 25)
		EVP_EncodeBlock((unsigned char *)out, r, sizeof(r));
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static int fail(json_t **out, int status, const char *fmt, const char *arg)
{
	char msg[1400];
	snprintf(msg, sizeof(msg), fmt, arg);
	*out = json_pack("{s:s}", "error", msg);
	return status;
}

/* ---- the live feed ---------------------------------------------------- */

static json_t *feed_message(struct agent *a)
{
	json_t *h = NULL, *v = NULL, *msg;
	int hs = agent_api_handle(a, "GET", "/hosts", NULL, &h);
	int vs = agent_api_handle(a, "GET", "/vms", NULL, &v);
	if (hs == 200 && vs == 200)
		msg = json_pack("{s:O,s:O,s:I}", "hosts", json_object_get(h, "hosts"), "vms",
				json_object_get(v, "vms"), "time_ms", (json_int_t)agent_now_ms());
	else
		msg = json_pack("{s:s}", "error", jstr(hs != 200 ? h : v, "error"));
	json_decref(h);
	json_decref(v);
	return msg;
}

int agent_web_events(struct agent *a, struct mg_connection *c)
{
	struct agent_live *l = a->live;
	pthread_mutex_lock(&l->lock);
	int busy = l->streams >= STREAMS_MAX;
	if (!busy)
		l->streams++;
	pthread_mutex_unlock(&l->lock);
	if (busy) {
		const char *b = "{\"error\":\"too many event streams: poll /api/v1/vms instead\"}\n";
		mg_printf(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
			  "Content-Length: %zu\r\nRetry-After: 5\r\nConnection: close\r\n\r\n%s", strlen(b), b);
		return 503;
	}
	mg_printf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
		  "X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\nretry: 2000\n\n");
	/* One message a second, until the client leaves, its session ends or
	 * the agent stops. */
	while (!atomic_load(&a->stop) && agent_http_who(a, c)) {
		json_t *m = feed_message(a);
		char *text = json_dumps(m, JSON_COMPACT);
		json_decref(m);
		int ok = text && mg_write(c, "data: ", 6) > 0 && mg_write(c, text, strlen(text)) > 0 &&
			 mg_write(c, "\n\n", 2) > 0;
		free(text);
		if (!ok)
			break;
		for (int t = 0; t < 10 && !atomic_load(&a->stop); t++)
			sleep_ms(100);
	}
	pthread_mutex_lock(&l->lock);
	l->streams--;
	pthread_mutex_unlock(&l->lock);
	return 200;
}

/* ---- consoles ----------------------------------------------------------- */

/* The VM name in /api/v1/vms/NAME/console, or -1. */
static int console_name(const struct mg_connection *c, char *name, size_t len)
{
	const char *uri = mg_get_request_info(c)->local_uri, *pre = "/api/v1/vms/";
	if (strncmp(uri, pre, strlen(pre)))
		return -1;
	uri += strlen(pre);
	size_t n = strcspn(uri, "/");
	if (n >= len || strcmp(uri + n, "/console"))
		return -1;
	memcpy(name, uri, n);
	name[n] = 0;
	return rec_name_ok(name) ? 0 : -1;
}

static int refuse(const struct mg_connection *cc, int status, const char *msg)
{
	/* civetweb closes the connection after a refusing connect handler;
	 * the answer says why first. */
	struct mg_connection *c = (struct mg_connection *)cc;
	char body[400];
	int n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}\n", msg);
	mg_printf(c, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s"
		  "Connection: close\r\n\r\n%s", status, mg_get_response_code_text(c, status), n,
		  status == 401 ? "WWW-Authenticate: Bearer realm=\"ternd\"\r\n" : "", body);
	return 1;
}

/* The API URL of the agent whose host runs VM name (not this one). */
static int remote_api(struct agent *a, const char *name, char *url, size_t len)
{
	json_t *rec = NULL, *hosts = NULL, *h = NULL;
	long long rev;
	int rc = -1;
	if (agent_vm_record(a, name, &rec, &rev) == 0 && strcmp(jstr(rec, "host"), a->host) &&
	    rec_hosts(a->store, &hosts) == 0 && (h = rec_host_find(hosts, jstr(rec, "host"))) &&
	    !strcmp(jstr(h, "state"), "up") && !strncmp(jstr(h, "api"), "http://", 7)) {
		snprintf(url, len, "%s", jstr(h, "api"));
		rc = 0;
	}
	json_decref(h);
	json_decref(hosts);
	json_decref(rec);
	return rc;
}

/* One WebSocket frame to the other agent (a client's frames are masked). */
static int relay_send(int fd, int op, const char *data, size_t len)
{
	unsigned char hdr[14];
	size_t n = 0;
	hdr[n++] = (unsigned char)(0x80 | op);
	if (len < 126) {
		hdr[n++] = (unsigned char)(0x80 | len);
	} else if (len < 65536) {
		hdr[n++] = 0x80 | 126;
		hdr[n++] = (unsigned char)(len >> 8);
		hdr[n++] = (unsigned char)len;
	} else {
		hdr[n++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			hdr[n++] = (unsigned char)((uint64_t)len >> (8 * i));
	}
	unsigned char mask[4];
	if (getrandom(mask, sizeof(mask), 0) != (ssize_t)sizeof(mask))
		memset(mask, 0x5a, sizeof(mask));
	memcpy(hdr + n, mask, 4);
	n += 4;
	unsigned char *buf = malloc(n + len);
	if (!buf)
		return -1;
	memcpy(buf, hdr, n);
	for (size_t i = 0; i < len; i++)
		buf[n + i] = (unsigned char)data[i] ^ mask[i % 4];
	size_t off = 0;
	while (off < n + len) {
		ssize_t w = send(fd, buf + off, n + len - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	free(buf);
	return off == n + len ? 0 : -1;
}

/* Opens the console of VM name at the agent at url (http://HOST:PORT),
 * authenticated with the cluster token: the connected socket, or -1. */
static int relay_open(struct agent *a, const char *url, const char *name)
{
	char host[160];
	const char *hp = url + 7;
	const char *colon = strrchr(hp, ':');
	if (!colon || (size_t)(colon - hp) >= sizeof(host))
		return -1;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - hp), hp);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai;
	if (getaddrinfo(host, colon + 1, &hints, &ai))
		return -1;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = { 5, 0 };
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen)) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0)
		return -1;
	char key[40], req[1024], resp[2048];
	rand_key(key, sizeof(key));
	int n = snprintf(req, sizeof(req), "GET /api/v1/vms/%s/console HTTP/1.1\r\nHost: %s\r\n"
			 "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
			 "Sec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n\r\n",
			 name, hp, key, a->token);
	size_t got = 0;
	if (n > 0 && n < (int)sizeof(req) && send(fd, req, (size_t)n, MSG_NOSIGNAL) == n) {
		/* Byte by byte up to the blank line: what follows is frames. */
		while (got < sizeof(resp) - 1 && recv(fd, resp + got, 1, 0) == 1) {
			got++;
			if (got >= 4 && !memcmp(resp + got - 4, "\r\n\r\n", 4))
				break;
		}
	}
	resp[got] = 0;
	if (strncmp(resp, "HTTP/1.1 101", 12)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int ws_connect(const struct mg_connection *c, void *ud)
{
	struct agent *a = ud;
	struct agent_live *l = a->live;
	char name[64];
	if (!agent_http_who(a, c))
		return refuse(c, 401, "the console needs a session (/login?token=TOKEN) from this origin");
	if (console_name(c, name, sizeof(name)))
		return refuse(c, 404, "no such console");
	pthread_mutex_lock(&a->lock);
	struct agent_vm *v = agent_vm_find(a, name);
	int here = v && !v->gone;
	pthread_mutex_unlock(&a->lock);
	char remote[200] = "";
	if (!here && remote_api(a, name, remote, sizeof(remote)))
		return refuse(c, 404, "that VM runs on no host that is up");
	struct console *con = calloc(1, sizeof(*con));
	if (!con)
		return refuse(c, 500, "out of memory");
	pthread_mutex_lock(&l->lock);
	int busy = l->consoles >= CONSOLES_MAX;
	if (!busy) {
		l->consoles++;
		con->next = l->list;
		l->list = con;
	}
	pthread_mutex_unlock(&l->lock);
	if (busy) {
		free(con);
		return refuse(c, 503, "too many consoles open");
	}
	con->a = a;
	con->fd = -1;
	snprintf(con->name, sizeof(con->name), "%s", name);
	snprintf(con->remote, sizeof(con->remote), "%s", remote);
	mg_set_user_connection_data(c, con);
	return 0;
}

static int ws_send(struct console *con, const char *buf, size_t n)
{
	return mg_websocket_write(con->conn, MG_WEBSOCKET_OPCODE_BINARY, buf, n) > 0 ? 0 : -1;
}

/* The last TAIL_BYTES of the console log, from a line start. */
static void send_tail(struct console *con)
{
	char path[1200];
	agent_vm_dir(con->a, con->name, path, sizeof(path) - 20);
	strcat(path, "/console.log");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat st;
	char *buf = malloc(TAIL_BYTES);
	if (buf && fstat(fd, &st) == 0) {
		off_t from = st.st_size > TAIL_BYTES ? st.st_size - TAIL_BYTES : 0;
		ssize_t n = pread(fd, buf, TAIL_BYTES, from);
		char *p = buf;
		if (n > 0 && from > 0) {
			char *nl = memchr(buf, '\n', (size_t)n);
			if (nl) {
				n -= nl + 1 - buf;
				p = nl + 1;
			}
		}
		if (n > 0)
			ws_send(con, p, (size_t)n);
	}
	free(buf);
	close(fd);
}

/* Passes on the complete frames at the start of buf[0..*len) from the
 * other agent; -1 at its close frame or a frame too large. */
static int relay_frames(struct console *con, unsigned char *buf, size_t *len, size_t cap)
{
	for (;;) {
		if (*len < 2)
			return 0;
		size_t hl = 2;
		uint64_t n = buf[1] & 0x7f;
		if (n == 126) {
			hl = 4;
			if (*len < hl)
				return 0;
			n = ((uint64_t)buf[2] << 8) | buf[3];
		} else if (n == 127) {
			hl = 10;
			if (*len < hl)
				return 0;
			n = 0;
			for (int i = 0; i < 8; i++)
				n = (n << 8) | buf[2 + i];
		}
		if (buf[1] & 0x80 || n > cap - hl)
			return -1;     /* a server never masks; too large for us */
		if (*len < hl + n)
			return 0;
		int op = buf[0] & 0x0f;
		if (op == MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE)
			return -1;
		if ((op == MG_WEBSOCKET_OPCODE_TEXT || op == MG_WEBSOCKET_OPCODE_BINARY ||
		     op == MG_WEBSOCKET_OPCODE_CONTINUATION) && n && ws_send(con, (char *)buf + hl, (size_t)n))
			return -1;
		memmove(buf, buf + hl + n, *len - hl - n);
		*len -= hl + n;
	}
}

static void *console_reader(void *arg)
{
	struct console *con = arg;
	size_t cap = TAIL_BYTES + 16384, len = 0;
	unsigned char *buf = malloc(cap);
	while (buf && !atomic_load(&con->a->stop)) {
		struct pollfd p = { .fd = con->fd, .events = POLLIN };
		int r = poll(&p, 1, 500);
		if (r < 0 && errno != EINTR)
			break;
		if (r <= 0)
			continue;
		ssize_t n = read(con->fd, buf + len, con->relay ? cap - len : 4096);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		if (!con->relay) {
			if (ws_send(con, (char *)buf, (size_t)n))
				break;
			continue;
		}
		len += (size_t)n;
		if (relay_frames(con, buf, &len, cap))
			break;
	}
	free(buf);
	const char *bye = "console closed";
	mg_websocket_write(con->conn, MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE, bye, strlen(bye));
	return NULL;
}

static void ws_ready(struct mg_connection *c, void *ud)
{
	struct agent *a = ud;
	struct agent_live *l = a->live;
	struct console *con = mg_get_user_connection_data(c);
	if (!con)
		return;
	con->conn = c;
	/* The VM's socket takes one client: a newer console takes over. */
	pthread_mutex_lock(&l->lock);
	for (struct console *o = l->list; o; o = o->next)
		if (o != con && !strcmp(o->name, con->name) && o->fd >= 0 && !o->relay && !con->remote[0])
			shutdown(o->fd, SHUT_RDWR);
	pthread_mutex_unlock(&l->lock);
	if (con->remote[0]) {
		int fd = relay_open(a, con->remote, con->name);
		if (fd < 0) {
			const char *m = "\r\n[tern: the agent of this VM's host refused its console]\r\n";
			ws_send(con, m, strlen(m));
			mg_websocket_write(c, MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE, "refused", 7);
			return;
		}
		struct timeval tv0 = { 0, 0 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv0, sizeof(tv0));
		pthread_mutex_lock(&l->lock);
		con->fd = fd;
		con->relay = 1;
		pthread_mutex_unlock(&l->lock);
		if (pthread_create(&con->reader, NULL, console_reader, con) == 0)
			con->reader_started = 1;
		return;
	}
	char path[1200];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	agent_vm_dir(a, con->name, path, sizeof(path) - 20);
	strcat(path, "/console.sock");
	int fd = -1;
	if (strlen(path) < sizeof(sa.sun_path)) {
		memcpy(sa.sun_path, path, strlen(path) + 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
			close(fd);
			fd = -1;
		}
	}
	send_tail(con);
	if (fd < 0) {
		const char *m = "\r\n[tern: this VM's console takes no input here: it has no console socket "
				"(started by an older agent?); showing its log]\r\n";
		ws_send(con, m, strlen(m));
		return;
	}
	struct timeval tv = { 2, 0 };
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	pthread_mutex_lock(&l->lock);
	con->fd = fd;
	pthread_mutex_unlock(&l->lock);
	if (pthread_create(&con->reader, NULL, console_reader, con) == 0)
		con->reader_started = 1;
}

static int ws_data(struct mg_connection *c, int bits, char *data, size_t len, void *ud)
{
	(void)ud;
	struct console *con = mg_get_user_connection_data(c);
	int op = bits & 0x0f;
	if (op == MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE)
		return 0;
	if (!con || (op != MG_WEBSOCKET_OPCODE_TEXT && op != MG_WEBSOCKET_OPCODE_BINARY &&
		     op != MG_WEBSOCKET_OPCODE_CONTINUATION))
		return 1;
	if (con->fd < 0)
		return 1;           /* a log-only console: keystrokes go nowhere */
	if (con->relay)
		return relay_send(con->fd, MG_WEBSOCKET_OPCODE_BINARY, data, len) == 0;
	while (len) {
		ssize_t n = send(con->fd, data, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;   /* the VM went away or stopped reading */
		data += n;
		len -= (size_t)n;
	}
	return 1;
}

static void ws_close(const struct mg_connection *c, void *ud)
{
	struct agent *a = ud;
	struct agent_live *l = a->live;
	struct console *con = mg_get_user_connection_data(c);
	if (!con)
		return;
	pthread_mutex_lock(&l->lock);
	for (struct console **pp = &l->list; *pp; pp = &(*pp)->next)
		if (*pp == con) {
			*pp = con->next;
			break;
		}
	l->consoles--;
	if (con->fd >= 0)
		shutdown(con->fd, SHUT_RDWR);
	pthread_mutex_unlock(&l->lock);
	if (con->reader_started)
		pthread_join(con->reader, NULL);
	if (con->fd >= 0)
		close(con->fd);
	mg_set_user_connection_data(c, NULL);
	free(con);
}

int agent_web_start(struct agent *a)
{
	a->live = calloc(1, sizeof(*a->live));
	if (!a->live)
		return -ENOMEM;
	pthread_mutex_init(&a->live->lock, NULL);
	mg_set_websocket_handler(a->http, "/api/v1/vms/*/console$", ws_connect, ws_ready, ws_data, ws_close, a);
	return 0;
}

void agent_web_stop(struct agent *a)
{
	if (!a->live)
		return;
	pthread_mutex_destroy(&a->live->lock);
	free(a->live);
	a->live = NULL;
}

/* ---- VM actions ----------------------------------------------------------- */

int agent_snapshot_path(struct agent *a, const char *file, char *buf, size_t len, char *err, size_t errlen)
{
	if (file[0] == '/') {
		snprintf(buf, len, "%s", file);
		return 0;
	}
	if (!file[0] || strchr(file, '/') || file[0] == '.') {
		snprintf(err, errlen, "file: '%s' is neither an absolute path nor a plain file name "
			 "(kept in the agent's STATE_DIR/snapshots)", file);
		return -1;
	}
	snprintf(buf, len, "%s/snapshots", a->state_dir);
	mkdir(buf, 0700);
	snprintf(buf, len, "%s/snapshots/%s", a->state_dir, file);
	return 0;
}

static int vm_qmp(struct agent *a, const char *name, json_t *body, json_t **out)
{
	json_t *ex = json_object_get(body, "execute"), *args = json_object_get(body, "arguments");
	char err[512];
	if (!json_is_string(ex) || !json_string_length(ex))
		return fail(out, 400, "%s", "execute: a QMP command name is needed ({\"execute\",\"arguments\"})");
	if (args && !json_is_object(args))
		return fail(out, 400, "%s", "arguments: a JSON object");
	const char *k;
	json_t *x;
	json_object_foreach(body, k, x)
		if (strcmp(k, "execute") && strcmp(k, "arguments") && strcmp(k, "id"))
			return fail(out, 400, "unknown field '%s' (a QMP command has execute and arguments)", k);
	json_t *r = agent_vm_qmp(a, name, json_string_value(ex), args, err, sizeof(err));
	if (!r)
		return fail(out, 409, "%s", err);
	*out = json_pack("{s:o}", "return", r);
	return 200;
}

static int vm_cancel_migration(struct agent *a, const char *name, json_t **out)
{
	char err[512];
	pthread_mutex_lock(&a->lock);
	struct agent_vm *v = agent_vm_find(a, name);
	int running = v && v->migrating;
	pthread_mutex_unlock(&a->lock);
	if (!running)
		return fail(out, 409, "no migration of %s runs", name);
	json_t *r = agent_vm_qmp(a, name, "migrate_cancel", NULL, err, sizeof(err));
	if (!r)
		return fail(out, 409, "%s", err);
	json_decref(r);
	*out = json_pack("{s:s,s:b}", "name", name, "cancelled", 1);
	return 200;
}

/* Starts a new VM on this host from a snapshot file of name: the same spec
 * (kernel, memory, nets), restored with `tern run --incoming file:`. */
static int vm_clone(struct agent *a, const char *name, json_t *body, json_t **out)
{
	const char *newname = jstr(body, "name"), *snap = jstr(body, "snapshot");
	char path[1200], uri[1300], err[512], why[256];
	if (!rec_name_ok(newname))
		return fail(out, 400, "name: '%s' is not 1-63 of A-Z a-z 0-9 _ . -", newname);
	if (agent_snapshot_path(a, snap, path, sizeof(path), err, sizeof(err)))
		return fail(out, 400, "snapshot: %s", err);
	if (access(path, R_OK))
		return fail(out, 400, "snapshot: cannot read %s", path);
	json_t *rec;
	long long rev;
	int rc = agent_vm_record(a, name, &rec, &rev);
	if (rc)
		return fail(out, rc == -ENOENT ? 404 : 503, "no record of VM %s", name);
	json_t *spec = json_deep_copy(json_object_get(rec, "spec"));
	json_t *proj = json_object_get(rec, "project");
	json_t *nrec = json_pack("{s:s,s:s,s:s,s:O,s:s}", "name", newname, "host", a->host, "state", "running",
				 "spec", spec, "restored_from", path);
	if (proj)
		json_object_set(nrec, "project", proj);
	json_decref(rec);
	if (json_array_size(json_object_get(spec, "disks"))) {
		json_decref(spec);
		json_decref(nrec);
		return fail(out, 409, "%s has disks: a clone would share them (copy them and create a VM instead)",
			    name);
	}
	if (!agent_host_accepts(a, why, sizeof(why))) {
		json_decref(spec);
		json_decref(nrec);
		return fail(out, 409, "%s", why);
	}
	/* The record first (the name must be free), then the process; the
	 * reconciler skips a record whose VM is already there. */
	char key[128];
	rec_key(key, sizeof(key), REC_VMS, newname);
	snprintf(uri, sizeof(uri), "file:%s", path);
	pthread_mutex_lock(&a->lock);
	rc = agent_vm_find(a, newname) ? -ECANCELED : rec_cas(a->store, key, 0, nrec, 0);
	struct agent_vm *v = NULL;
	if (!rc) {
		v = agent_vm_spawn(a, newname, spec, uri, NULL, 0, err, sizeof(err));
		if (v) {
			v->incoming = 0;    /* restoring a file, not waiting for a peer */
			snprintf(v->status, sizeof(v->status), "starting");
		}
	}
	pthread_mutex_unlock(&a->lock);
	json_decref(spec);
	json_decref(nrec);
	if (rc == -ECANCELED)
		return fail(out, 409, "a VM named %s exists already", newname);
	if (rc)
		return fail(out, 503, "the store refused the record of %s", newname);
	if (!v) {
		json_t *x;
		long long r2;
		if (rec_get(a->store, key, &x, &r2) == 0) {
			json_decref(x);
			store_cas(a->store, key, r2, NULL, 0);
		}
		return fail(out, 500, "%s", err);
	}
	*out = json_pack("{s:s,s:s,s:s,s:s}", "name", newname, "host", a->host, "from", path, "state", "starting");
	return 201;
}

/* GET /vms/NAME/console-log?match=TEXT: whether the VM's console log
 * holds TEXT (a cluster's console gate, asked from another host). */
static int vm_console_match(struct agent *a, const char *name, json_t *body, json_t **out)
{
	const char *q = json_string_value(json_object_get(body, "query"));
	char text[256], path[1200];
	if (!q || mg_get_var(q, strlen(q), "match", text, sizeof(text)) <= 0)
		return fail(out, 400, "%s", "match: the text to look for is needed (?match=TEXT, up to 255 bytes)");
	agent_vm_dir(a, name, path, sizeof(path) - 20);
	strcat(path, "/console.log");
	*out = json_pack("{s:s,s:b}", "name", name, "match", gate_file_contains(path, text));
	return 200;
}

int agent_web_vm_action(struct agent *a, const char *method, const char *name, const char *action,
			json_t *body, json_t **out)
{
	int post = !strcmp(method, "POST");
	if (!strcmp(action, "console-log") && !strcmp(method, "GET"))
		return vm_console_match(a, name, body, out);
	if (!strcmp(action, "qmp") && post)
		return vm_qmp(a, name, body, out);
	if (!strcmp(action, "clone") && post)
		return vm_clone(a, name, body, out);
	if (!strcmp(action, "migration") && !strcmp(method, "DELETE"))
		return vm_cancel_migration(a, name, out);
	return 0;
}
