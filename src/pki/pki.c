/* pki: make the cluster CA and host certificates with OpenSSL (EC P-256,
 * SHA-256), write them with safe modes, and describe/verify a certificate
 * for `tern pki show`. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "pki/pki.h"

#define PKI_DEFAULT_DAYS 825u
#define PKI_CA_DAYS      3650u

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	unsigned long e = ERR_get_error();
	if (e) {
		size_t n = strlen(err);
		if (n + 3 < errlen) {
			snprintf(err + n, errlen - n, ": ");
			ERR_error_string_n(e, err + n + 2, errlen - n - 2);
		}
	}
	ERR_clear_error();
	return rc;
}

static void path_join(char *out, size_t len, const char *dir, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

/* Create dir (and parents) 0700 when missing; an existing one is kept. */
static int make_dir(const char *dir, char *err, size_t errlen)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp)
		return fail(err, errlen, -ENAMETOOLONG, "%s: path too long", dir);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0755) && errno != EEXIST)
			return fail(err, errlen, -errno, "%s: %s", tmp, strerror(errno));
		*p = '/';
	}
	if (mkdir(tmp, 0700) && errno != EEXIST)
		return fail(err, errlen, -errno, "%s: %s", tmp, strerror(errno));
	struct stat st;
	if (stat(tmp, &st) || !S_ISDIR(st.st_mode))
		return fail(err, errlen, -ENOTDIR, "%s: not a folder", tmp);
	return 0;
}

/* Write PEM data to a new file (O_EXCL, mode), never over an existing one. */
static int write_new(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert,
		     char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return fail(err, errlen, -errno, "%s: %s", path, strerror(errno));
	FILE *f = fdopen(fd, "w");
	if (!f) {
		int e = -errno;
		close(fd);
		unlink(path);
		return fail(err, errlen, e, "%s: %s", path, strerror(-e));
	}
	int ok = key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
		     : PEM_write_X509(f, cert);
	if (fclose(f) || !ok) {
		unlink(path);
		return fail(err, errlen, -EIO, "%s: cannot write", path);
	}
	return 0;
}

static EVP_PKEY *read_key(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		fail(err, errlen, -errno, "%s: %s", path, strerror(errno));
		return NULL;
	}
	EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!k)
		fail(err, errlen, -EINVAL, "%s: not a PEM private key", path);
	return k;
}

static X509 *read_cert(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		fail(err, errlen, -errno, "%s: %s", path, strerror(errno));
		return NULL;
	}
	X509 *c = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!c)
		fail(err, errlen, -EINVAL, "%s: not a PEM certificate", path);
	return c;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -1;
	int ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

/* A certificate skeleton: random serial, validity from a minute ago (clock
 * skew between hosts) for days, subject CN, public key. */
static X509 *new_cert(EVP_PKEY *key, const char *cn, unsigned days)
{
	X509 *c = X509_new();
	unsigned char serial[16];
	if (!c || RAND_bytes(serial, sizeof serial) != 1)
		goto bad;
	serial[0] &= 0x7f;              /* positive */
	BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
	ASN1_INTEGER *sn = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
	BN_free(bn);
	if (!sn)
		goto bad;
	int ok = X509_set_serialNumber(c, sn);
	ASN1_INTEGER_free(sn);
	X509_NAME *name = X509_get_subject_name(c);
	if (!ok || !X509_set_version(c, 2) ||
	    !X509_gmtime_adj(X509_getm_notBefore(c), -60) ||
	    !X509_gmtime_adj(X509_getm_notAfter(c), (long)days * 86400L) ||
	    !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"tern", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_pubkey(c, key))
		goto bad;
	return c;
bad:
	X509_free(c);
	return NULL;
}

int pki_ca_init(const char *dir, const char *cn, unsigned days, char *err, size_t errlen)
{
	char key_path[4096], crt_path[4096];
	int rc = make_dir(dir, err, errlen);
	if (rc)
		return rc;
	path_join(key_path, sizeof key_path, dir, PKI_CA_KEY);
	path_join(crt_path, sizeof crt_path, dir, PKI_CA_CERT);
	if (access(key_path, F_OK) == 0)
		return fail(err, errlen, -EEXIST, "%s already exists: this folder holds a CA", key_path);

	EVP_PKEY *key = EVP_EC_gen("P-256");
	if (!key)
		return fail(err, errlen, -EIO, "cannot generate a key");
	X509 *c = new_cert(key, cn && *cn ? cn : "tern cluster CA", days ? days : PKI_CA_DAYS);
	rc = -EIO;
	if (!c || X509_set_issuer_name(c, X509_get_subject_name(c)) != 1 ||
	    add_ext(c, c, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
	    add_ext(c, c, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    add_ext(c, c, NID_subject_key_identifier, "hash") ||
	    !X509_sign(c, key, EVP_sha256())) {
		rc = fail(err, errlen, -EIO, "cannot make the CA certificate");
		goto out;
	}
	rc = write_new(key_path, 0600, key, NULL, err, errlen);
	if (!rc) {
		rc = write_new(crt_path, 0644, NULL, c, err, errlen);
		if (rc)
			unlink(key_path);
	}
out:
	X509_free(c);
	EVP_PKEY_free(key);
	return rc;
}

/* "DNS:a,DNS:b,IP:1.2.3.4": every name checked for characters that would
 * change the meaning of OpenSSL's config syntax. */
static int build_san(const struct pki_host_opts *o, char *out, size_t len, char *err, size_t errlen)
{
	size_t n = 0;
	out[0] = 0;
	for (size_t i = 0; i < 1 + o->n_dns + o->n_ips; i++) {
		const char *v = i == 0 ? o->name : i <= o->n_dns ? o->dns[i - 1] : o->ips[i - 1 - o->n_dns];
		int is_ip = i > o->n_dns;
		const char *kind = is_ip ? "IP" : "DNS";
		const char *allowed = is_ip ? "0123456789abcdefABCDEF.:"
			: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_";
		if (!*v || strspn(v, allowed) != strlen(v))
			return fail(err, errlen, -EINVAL, "invalid %s '%s'", is_ip ? "IP address" : "host name", v);
		int w = snprintf(out + n, len - n, "%s%s:%s", n ? "," : "", kind, v);
		if (w < 0 || (size_t)w >= len - n)
			return fail(err, errlen, -E2BIG, "too many names");
		n += (size_t)w;
	}
	return 0;
}

int pki_host_issue(const char *ca_dir, const struct pki_host_opts *o, const char *out_dir,
		   char *err, size_t errlen)
{
	char path[4096], san[4096];
	int rc = build_san(o, san, sizeof san, err, errlen);
	if (rc)
		return rc;
	path_join(path, sizeof path, ca_dir, PKI_CA_KEY);
	EVP_PKEY *ca_key = read_key(path, err, errlen);
	if (!ca_key)
		return -ENOENT;
	path_join(path, sizeof path, ca_dir, PKI_CA_CERT);
	X509 *ca = read_cert(path, err, errlen);
	EVP_PKEY *key = NULL;
	X509 *c = NULL;
	rc = -ENOENT;
	if (!ca)
		goto out;
	if (X509_check_private_key(ca, ca_key) != 1) {
		rc = fail(err, errlen, -EINVAL, "%s does not match %s/%s", path, ca_dir, PKI_CA_KEY);
		goto out;
	}
	if ((rc = make_dir(out_dir, err, errlen)))
		goto out;
	path_join(path, sizeof path, out_dir, PKI_HOST_KEY);
	if (access(path, F_OK) == 0) {
		rc = fail(err, errlen, -EEXIST, "%s already exists", path);
		goto out;
	}
	key = EVP_EC_gen("P-256");
	c = key ? new_cert(key, o->name, o->days ? o->days : PKI_DEFAULT_DAYS) : NULL;
	if (!c || X509_set_issuer_name(c, X509_get_subject_name(ca)) != 1 ||
	    add_ext(c, ca, NID_basic_constraints, "critical,CA:FALSE") ||
	    add_ext(c, ca, NID_key_usage, "critical,digitalSignature,keyEncipherment") ||
	    add_ext(c, ca, NID_ext_key_usage, "serverAuth,clientAuth") ||
	    add_ext(c, ca, NID_subject_key_identifier, "hash") ||
	    add_ext(c, ca, NID_authority_key_identifier, "keyid:always") ||
	    add_ext(c, ca, NID_subject_alt_name, san) ||
	    !X509_sign(c, ca_key, EVP_sha256())) {
		rc = fail(err, errlen, -EIO, "cannot make the host certificate");
		goto out;
	}
	if ((rc = write_new(path, 0600, key, NULL, err, errlen)))
		goto out;
	char crt[4096], cacopy[4096];
	path_join(crt, sizeof crt, out_dir, PKI_HOST_CERT);
	path_join(cacopy, sizeof cacopy, out_dir, PKI_CA_CERT);
	unlink(crt);
	unlink(cacopy);
	rc = write_new(crt, 0644, NULL, c, err, errlen);
	if (!rc && strcmp(ca_dir, out_dir))
		rc = write_new(cacopy, 0644, NULL, ca, err, errlen);
	if (rc)
		unlink(path);
out:
	X509_free(c);
	EVP_PKEY_free(key);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	return rc;
}

static void bio_append(BIO *b, char *buf, size_t len)
{
	size_t n = strlen(buf);
	int r = BIO_read(b, buf + n, (int)(len - n - 1));
	if (r > 0)
		buf[n + (size_t)r] = 0;
}

int pki_describe(const char *cert_file, const char *ca_file, char *buf, size_t buflen,
		 char *err, size_t errlen)
{
	X509 *c = read_cert(cert_file, err, errlen);
	if (!c)
		return -EINVAL;
	BIO *b = BIO_new(BIO_s_mem());
	buf[0] = 0;
	BIO_printf(b, "subject:   ");
	X509_NAME_print_ex(b, X509_get_subject_name(c), 0, XN_FLAG_ONELINE);
	BIO_printf(b, "\nissuer:    ");
	X509_NAME_print_ex(b, X509_get_issuer_name(c), 0, XN_FLAG_ONELINE);
	BIO_printf(b, "\nvalid:     ");
	ASN1_TIME_print(b, X509_get0_notBefore(c));
	BIO_printf(b, " .. ");
	ASN1_TIME_print(b, X509_get0_notAfter(c));
	int idx = X509_get_ext_by_NID(c, NID_subject_alt_name, -1);
	if (idx >= 0) {
		BIO_printf(b, "\nnames:     ");
		X509V3_EXT_print(b, X509_get_ext(c, idx), 0, 0);
	}
	BIO_printf(b, "\n");
	bio_append(b, buf, buflen);
	BIO_free(b);

	int rc = 0;
	if (ca_file) {
		X509 *ca = read_cert(ca_file, err, errlen);
		X509_STORE *st = X509_STORE_new();
		X509_STORE_CTX *ctx = X509_STORE_CTX_new();
		if (!ca || !st || !ctx || !X509_STORE_add_cert(st, ca) ||
		    !X509_STORE_CTX_init(ctx, st, c, NULL)) {
			rc = ca ? fail(err, errlen, -EIO, "cannot set up verification") : -EINVAL;
		} else if (X509_verify_cert(ctx) != 1) {
			rc = fail(err, errlen, -EACCES, "%s is not signed by %s: %s", cert_file, ca_file,
				  X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		}
		X509_STORE_CTX_free(ctx);
		X509_STORE_free(st);
		X509_free(ca);
	}
	X509_free(c);
	return rc;
}

int pki_default_dir(char *buf, size_t len)
{
	int n;
	if (geteuid() == 0) {
		n = snprintf(buf, len, "/etc/tern/pki");
	} else {
		const char *x = getenv("XDG_CONFIG_HOME"), *h = getenv("HOME");
		if (x && *x)
			n = snprintf(buf, len, "%s/tern/pki", x);
		else if (h && *h)
			n = snprintf(buf, len, "%s/.config/tern/pki", h);
		else
			return -ENOENT;
	}
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}
