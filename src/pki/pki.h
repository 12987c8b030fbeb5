/* pki: the cluster's certificate authority and its host certificates
 * (OpenSSL). A CA folder holds ca.crt and ca.key (0600); a host folder, the
 * one `ternd --tls-dir` and TLS migration read, holds ca.crt, host.crt and
 * host.key (0600). */
#ifndef TERN_PKI_H
#define TERN_PKI_H
#include <stddef.h>

#define PKI_CA_CERT   "ca.crt"
#define PKI_CA_KEY    "ca.key"
#define PKI_HOST_CERT "host.crt"
#define PKI_HOST_KEY  "host.key"

struct pki_host_opts {
	const char *name;               /* certificate CN and first DNS SAN */
	const char *const *ips;         /* IP SANs (v4 or v6 literals) */
	size_t n_ips;
	const char *const *dns;         /* further DNS SANs */
	size_t n_dns;
	unsigned days;                  /* validity; 0 means 825 */
};

/* Make a new CA (EC P-256, self-signed, CN = cn) in dir, creating dir 0700
 * if needed. Refuses a dir that already holds a CA key. 0 or -errno, with a
 * message in err. */
int pki_ca_init(const char *dir, const char *cn, unsigned days, char *err, size_t errlen);

/* Issue a host certificate signed by the CA in ca_dir into out_dir (made
 * 0700 if needed): ca.crt, host.crt, host.key. Usable for both server and
 * client authentication. Refuses to overwrite an existing host.key. */
int pki_host_issue(const char *ca_dir, const struct pki_host_opts *o, const char *out_dir,
		   char *err, size_t errlen);

/* Describe a certificate file (subject, issuer, validity, SANs) into buf,
 * and, when ca_file is given, verify it against that CA. 0 when it parses
 * (and verifies), -errno otherwise, with the reason in err. */
int pki_describe(const char *cert_file, const char *ca_file, char *buf, size_t buflen,
		 char *err, size_t errlen);

/* The default CA folder: /etc/tern/pki for root, else
 * $XDG_CONFIG_HOME/tern/pki (~/.config/tern/pki). */
int pki_default_dir(char *buf, size_t len);

#endif
