/* tls: mutually authenticated TLS 1.3 contexts built from a host folder
 * (ca.crt, host.crt, host.key), and a blocking handshake that reports why
 * a peer was refused. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include "pki/pki.h"
#include "pki/tls.h"

void tls_error(SSL *ssl, const char *what, char *err, size_t errlen)
{
	char ossl[256] = "";
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, ossl, sizeof ossl);
	ERR_clear_error();
	long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
	if (v != X509_V_OK)
		snprintf(err, errlen, "%s: peer certificate refused: %s", what,
			 X509_verify_cert_error_string(v));
	else
		snprintf(err, errlen, "%s%s%s", what, *ossl ? ": " : "", ossl);
}

SSL_CTX *tls_ctx_load(const char *dir, int server, char *err, size_t errlen)
{
	char ca[4096], crt[4096], key[4096];
	snprintf(ca, sizeof ca, "%s/%s", dir, PKI_CA_CERT);
	snprintf(crt, sizeof crt, "%s/%s", dir, PKI_HOST_CERT);
	snprintf(key, sizeof key, "%s/%s", dir, PKI_HOST_KEY);

	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (!ctx) {
		tls_error(NULL, "cannot create a TLS context", err, errlen);
		return NULL;
	}
	const char *step = NULL, *file = NULL;
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION))
		step = "cannot require TLS 1.3";
	else if ((file = ca), !SSL_CTX_load_verify_locations(ctx, ca, NULL))
		step = "cannot load the CA certificate";
	else if ((file = crt), !SSL_CTX_use_certificate_chain_file(ctx, crt))
		step = "cannot load the host certificate";
	else if ((file = key), !SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM))
		step = "cannot load the host key";
	else if ((file = key), !SSL_CTX_check_private_key(ctx))
		step = "the host key does not match the host certificate";
	if (step) {
		char what[4200];
		snprintf(what, sizeof what, "%s (%s)", step, file ? file : dir);
		tls_error(NULL, what, err, errlen);
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* Both ways: a server asks for the client's certificate too. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_verify_depth(ctx, 2);
	return ctx;
}

SSL *tls_handshake(SSL_CTX *ctx, int fd, int server, char *err, size_t errlen)
{
	SSL *ssl = SSL_new(ctx);
	if (!ssl || !SSL_set_fd(ssl, fd)) {
		tls_error(NULL, "cannot set up TLS", err, errlen);
		SSL_free(ssl);
		return NULL;
	}
	int r = server ? SSL_accept(ssl) : SSL_connect(ssl);
	if (r != 1) {
		tls_error(ssl, "TLS handshake failed", err, errlen);
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}
