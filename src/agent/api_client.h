/* A client for ternd's HTTP API (libcurl): used by agents to reach each
 * other and by the `tern host` verbs. */
#ifndef TERN_API_CLIENT_H
#define TERN_API_CLIENT_H
#include <stddef.h>
#include <jansson.h>

struct api_auth {
	const char *token;          /* sent as Authorization: Bearer */
	/* https: agents give their host folder (tern pki host: ca.crt trusted,
	 * host.crt and host.key presented); the CLI gives the cluster CA's PEM
	 * (from the store) and no certificate of its own. */
	const char *tls_dir;
	const char *ca_pem;
};

/* method (GET, POST, DELETE) on base_url + path with body (borrowed, may be
 * NULL). Returns the HTTP status with the reply's JSON in *out (NULL when
 * none), or -errno with a one-line reason in err. */
int api_call(const char *base_url, const struct api_auth *auth, const char *method, const char *path,
	     json_t *body, json_t **out, int timeout_ms, char *err, size_t errlen);
#endif
