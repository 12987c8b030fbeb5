/* ternd's HTTP server (civetweb): the API under /api/v1 behind a bearer
 * token or a browser session, /login?token= which opens a session (an
 * HttpOnly, SameSite=Strict cookie), CSRF checks (Origin and the session's
 * X-CSRF-Token) on every cookie-authenticated change, and the dashboard's
 * static files when a web root is given. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <civetweb.h>
#include <openssl/crypto.h>
#include "agent/agent.h"

#define SESSIONS_MAX 64
#define SESSION_TTL_MS (12 * 3600 * 1000LL)
#define BODY_MAX (1 << 20)

struct session {
	char id[65], csrf[65];
	int64_t expires_ms;
};

struct agent_web {
	pthread_mutex_t lock;
	struct session s[SESSIONS_MAX];
};

static void rand_hex(char *out, size_t bytes)
{
	unsigned char r[32];
	if (bytes > sizeof(r))
		bytes = sizeof(r);
	if (getrandom(r, bytes, 0) != (ssize_t)bytes)
		memset(r, 0, bytes);    /* never: getrandom on Linux >= 3.17 */
	for (size_t i = 0; i < bytes; i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
}

static int same(const char *a, const char *b)
{
	size_t n = strlen(a);
	return n == strlen(b) && n > 0 && CRYPTO_memcmp(a, b, n) == 0;
}

static void send_json(struct mg_connection *c, int status, json_t *body, const char *extra_headers)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : strdup("{}");
	size_t n = text ? strlen(text) : 0;
	mg_printf(c, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
		  "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n%sConnection: close\r\n\r\n",
		  status, mg_get_response_code_text(c, status), n + 1, extra_headers ? extra_headers : "");
	if (text)
		mg_write(c, text, n);
	mg_write(c, "\n", 1);
	free(text);
}

static void send_error(struct mg_connection *c, int status, const char *msg)
{
	json_t *e = json_pack("{s:s}", "error", msg);
	send_json(c, status, e, status == 401 ? "WWW-Authenticate: Bearer realm=\"ternd\"\r\n" : NULL);
	json_decref(e);
}

/* The session named by the request's cookie, copied into out; 0 or -1. */
static int find_session(struct agent *a, const struct mg_connection *c, struct session *out)
{
	const char *cookie = mg_get_header(c, "Cookie");
	char id[80];
	if (!cookie || mg_get_cookie(cookie, "tern_session", id, sizeof(id)) <= 0)
		return -1;
	int found = -1;
	int64_t now = agent_now_ms();
	pthread_mutex_lock(&a->web->lock);
	for (int i = 0; i < SESSIONS_MAX; i++) {
		struct session *s = &a->web->s[i];
		if (s->id[0] && s->expires_ms > now && same(s->id, id)) {
			*out = *s;
			found = 0;
			break;
		}
	}
	pthread_mutex_unlock(&a->web->lock);
	return found;
}

static int bearer_ok(struct agent *a, const struct mg_connection *c)
{
	const char *h = mg_get_header(c, "Authorization");
	return h && !strncmp(h, "Bearer ", 7) && same(h + 7, a->token);
}

/* A cookie-authenticated change must come from our own origin and carry
 * the session's CSRF token. */
static int origin_ok(const struct mg_connection *c)
{
	const char *origin = mg_get_header(c, "Origin"), *host = mg_get_header(c, "Host");
	if (origin) {
		const struct mg_request_info *ri = mg_get_request_info(c);
		char want[300];
		const struct agent *a = mg_get_user_data(mg_get_context(c));
		snprintf(want, sizeof(want), "%s://%s", ri->is_ssl || (a && a->tls_dir[0]) ? "https" : "http",
			 host ? host : "");
		if (strcmp(origin, want))
			return 0;
	}
	return 1;
}

static int csrf_ok(const struct mg_connection *c, const struct session *s)
{
	const char *tok = mg_get_header(c, "X-CSRF-Token");
	return tok && same(tok, s->csrf) && origin_ok(c);
}

int agent_http_who(struct agent *a, const struct mg_connection *c)
{
	struct session s;
	if (bearer_ok(a, c))
		return 1;
	return find_session(a, c, &s) == 0 && origin_ok(c) ? 2 : 0;
}

static int api_handler(struct mg_connection *c, void *ud)
{
	struct agent *a = ud;
	const struct mg_request_info *ri = mg_get_request_info(c);
	const char *method = ri->request_method, *uri = ri->local_uri;
	int changes = strcmp(method, "GET") && strcmp(method, "HEAD");
	struct session sess;
	if (!bearer_ok(a, c)) {
		if (find_session(a, c, &sess)) {
			send_error(c, 401, "authentication required: Authorization: Bearer TOKEN, or /login?token=TOKEN");
			return 401;
		}
		if (changes && !csrf_ok(c, &sess)) {
			send_error(c, 403, "cross-site request refused: Origin or X-CSRF-Token does not match the session");
			return 403;
		}
		if (!strcmp(uri, "/api/v1/session")) {
			json_t *r = json_pack("{s:s,s:s}", "csrf", sess.csrf, "host", a->host);
			send_json(c, 200, r, NULL);
			json_decref(r);
			return 200;
		}
	}
	if (!strcmp(uri, "/api/v1/events") && !changes)
		return agent_web_events(a, c);
	json_t *body = NULL;
	if (changes) {
		if (ri->content_length > BODY_MAX) {
			send_error(c, 413, "request body too large");
			return 413;
		}
		char *buf = malloc(BODY_MAX + 1);
		size_t n = 0;
		int r;
		while (buf && n < BODY_MAX && (r = mg_read(c, buf + n, BODY_MAX - n)) > 0)
			n += (size_t)r;
		if (!buf) {
			send_error(c, 500, "out of memory");
			return 500;
		}
		buf[n] = 0;
		if (n) {
			json_error_t je;
			body = json_loads(buf, 0, &je);
			if (!body) {
				char msg[300];
				snprintf(msg, sizeof(msg), "request body: line %d: %s", je.line, je.text);
				free(buf);
				send_error(c, 400, msg);
				return 400;
			}
		}
		free(buf);
	}
	if (!body && ri->query_string)   /* GET parameters, e.g. ?window=S */
		body = json_pack("{s:s}", "query", ri->query_string);
	json_t *out = NULL;
	int status = agent_api_handle(a, method, uri + strlen("/api/v1"), body, &out);
	/* A request another agent passed on (?via=) was logged there. */
	if (changes && !(ri->query_string && strstr(ri->query_string, "via=")))
		agent_task_record(a, bearer_ok(a, c) ? "token" : "session", method, uri + strlen("/api/v1"),
				  body, status, out);
	json_decref(body);
	send_json(c, status, out, NULL);
	json_decref(out);
	return status;
}

static int login_handler(struct mg_connection *c, void *ud)
{
	struct agent *a = ud;
	const struct mg_request_info *ri = mg_get_request_info(c);
	char tok[160] = "";
	if (ri->query_string)
		mg_get_var(ri->query_string, strlen(ri->query_string), "token", tok, sizeof(tok));
	if (!same(tok, a->token)) {
		send_error(c, 401, "wrong or missing token (it is in STATE_DIR/token)");
		return 401;
	}
	struct session s = { .expires_ms = agent_now_ms() + SESSION_TTL_MS };
	rand_hex(s.id, 32);
	rand_hex(s.csrf, 32);
	pthread_mutex_lock(&a->web->lock);
	int slot = 0;
	for (int i = 0; i < SESSIONS_MAX; i++)
		if (a->web->s[i].expires_ms < a->web->s[slot].expires_ms)
			slot = i;     /* an empty or the oldest slot */
	a->web->s[slot] = s;
	pthread_mutex_unlock(&a->web->lock);
	mg_printf(c, "HTTP/1.1 303 See Other\r\nLocation: /\r\n"
		  "Set-Cookie: tern_session=%s; Path=/; HttpOnly; SameSite=Strict%s\r\n"
		  "Cache-Control: no-store\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
		  s.id, ri->is_ssl ? "; Secure" : "");
	return 303;
}

static int logout_handler(struct mg_connection *c, void *ud)
{
	struct agent *a = ud;
	struct session s;
	if (find_session(a, c, &s) == 0) {
		pthread_mutex_lock(&a->web->lock);
		for (int i = 0; i < SESSIONS_MAX; i++)
			if (!strcmp(a->web->s[i].id, s.id))
				memset(&a->web->s[i], 0, sizeof(a->web->s[i]));
		pthread_mutex_unlock(&a->web->lock);
	}
	mg_printf(c, "HTTP/1.1 303 See Other\r\nLocation: /\r\n"
		  "Set-Cookie: tern_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0\r\n"
		  "Content-Length: 0\r\nConnection: close\r\n\r\n");
	return 303;
}

/* Without a dashboard installed, / says where the API is. */
static int root_handler(struct mg_connection *c, void *ud)
{
	struct agent *a = ud;
	char page[1024];
	int n = snprintf(page, sizeof(page), "<!doctype html><title>ternd %s</title>"
			 "<p>ternd on host %s. The API is under /api/v1 (docs/API.md); "
			 "no dashboard is installed (ternd --web-root DIR).</p>\n", a->host, a->host);
	mg_printf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n"
		  "Connection: close\r\n\r\n%s", n, page);
	return 200;
}

static int log_message(const struct mg_connection *c, const char *msg)
{
	fprintf(stderr, "ternd: http: %s\n", msg);
	return 1;
}

int agent_http_start(struct agent *a, char *err, size_t errlen)
{
	a->web = calloc(1, sizeof(*a->web));
	if (!a->web) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&a->web->lock, NULL);
	char ports[200];
	snprintf(ports, sizeof(ports), "%s", a->listen);
	if (a->tls_dir[0]) {
		/* HTTPS: civetweb serves a private loopback port behind the TLS
		 * front end (agent_tls.c). */
		a->http_backend_port = agent_free_loopback_port();
		snprintf(ports, sizeof(ports), "127.0.0.1:%d", a->http_backend_port);
	}
	const char *opts[32];
	int n = 0;
	opts[n++] = "listening_ports";
	opts[n++] = ports;
	opts[n++] = "num_threads";
	opts[n++] = "48";    /* event streams and consoles hold one each */
	opts[n++] = "request_timeout_ms";
	opts[n++] = "120000";
	opts[n++] = "enable_directory_listing";
	opts[n++] = "no";
	if (a->web_root[0]) {
		opts[n++] = "document_root";
		opts[n++] = a->web_root;
	}
	opts[n] = NULL;
	struct mg_callbacks cb = { .log_message = log_message };
	mg_init_library(0);
	a->http = mg_start(&cb, a, opts);
	if (!a->http) {
		snprintf(err, errlen, "cannot serve on %s: address in use or not on this host", a->listen);
		return -EADDRINUSE;
	}
	if (a->tls_dir[0] && agent_tls_front_start(a, err, errlen)) {
		mg_stop(a->http);
		a->http = NULL;
		return -EADDRINUSE;
	}
	mg_set_request_handler(a->http, "/api/", api_handler, a);
	mg_set_request_handler(a->http, "/login$", login_handler, a);
	mg_set_request_handler(a->http, "/logout$", logout_handler, a);
	if (!a->web_root[0])
		mg_set_request_handler(a->http, "/$", root_handler, a);
	return agent_web_start(a) ? (snprintf(err, errlen, "out of memory"), -ENOMEM) : 0;
}

void agent_http_stop(struct agent *a)
{
	atomic_store(&a->stop, 1);   /* ends event streams and consoles */
	agent_tls_front_stop(a);
	if (a->http)
		mg_stop(a->http);
	a->http = NULL;
	agent_web_stop(a);
	if (a->web) {
		pthread_mutex_destroy(&a->web->lock);
		free(a->web);
		a->web = NULL;
	}
}
