/* Parser for --net values: user[,hostfwd=...]..., vde,sock=PATH and
 * tap,ifname=NAME, each with an optional mac=. Every bad value gets a
 * one-line reason naming it. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "net/spec.h"

void net_spec_default_mac(unsigned index, uint8_t mac[6])
{
	static const uint8_t base[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	memcpy(mac, base, 6);
	mac[5] = (uint8_t)(base[5] + index);
}

int net_parse_mac(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		if (!isxdigit((unsigned char)s[0]) || !isxdigit((unsigned char)s[1]))
			return -1;
		char hex[3] = { s[0], s[1], 0 };
		mac[i] = (uint8_t)strtoul(hex, NULL, 16);
		s += 2;
		if (i < 5 && *s++ != ':')
			return -1;
	}
	if (*s)
		return -1;
	if (mac[0] & 1)
		return -1;              /* multicast */
	static const uint8_t zero[6];
	return memcmp(mac, zero, 6) ? 0 : -1;
}

/* A port 1..65535; the whole string must be the number. */
static int parse_port(const char *s, size_t n, uint16_t *port)
{
	if (n == 0 || n > 5)
		return -1;
	unsigned long v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* [ADDR]:PORT with ADDR dotted IPv4 or empty. */
static int parse_addr_port(const char *s, size_t n, struct in_addr *addr, uint16_t *port)
{
	const char *colon = memchr(s, ':', n);
	if (!colon)
		return -1;
	size_t alen = (size_t)(colon - s);
	addr->s_addr = 0;
	if (alen) {
		char buf[16];
		if (alen >= sizeof(buf))
			return -1;
		memcpy(buf, s, alen);
		buf[alen] = 0;
		if (inet_pton(AF_INET, buf, addr) != 1)
			return -1;
	}
	return parse_port(colon + 1, n - alen - 1, port);
}

/* RFC 1123 labels, dot-separated: 0 when v is one. */
static int valid_hostname(const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n > NET_HOSTNAME_MAX || v[0] == '-' || v[0] == '.' || v[n - 1] == '-' ||
	    v[n - 1] == '.' || strstr(v, ".."))
		return -1;
	for (const char *p = v; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
			return -1;
	return 0;
}

void net_hostname_from(const char *name, char out[NET_HOSTNAME_MAX + 1])
{
	size_t n = 0;
	for (const char *p = name ? name : ""; *p && n < NET_HOSTNAME_MAX; p++)
		out[n++] = isalnum((unsigned char)*p) ? *p : '-';
	while (n && out[n - 1] == '-')
		n--;
	size_t start = 0;
	while (start < n && out[start] == '-')
		start++;
	memmove(out, out + start, n - start);
	n -= start;
	if (!n)
		memcpy(out, "tern", (n = 4));
	out[n] = 0;
}

static int parse_hostfwd(const char *v, struct net_hostfwd *f)
{
	memset(f, 0, sizeof(*f));
	if (!strncmp(v, "tcp:", 4)) {
		v += 4;
	} else if (!strncmp(v, "udp:", 4)) {
		f->udp = true;
		v += 4;
	} else {
		return -1;
	}
	const char *dash = strchr(v, '-');
	if (!dash)
		return -1;
	return parse_addr_port(v, (size_t)(dash - v), &f->host_addr, &f->host_port) ||
	       parse_addr_port(dash + 1, strlen(dash + 1), &f->guest_addr, &f->guest_port) ? -1 : 0;
}

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int net_spec_parse(const char *arg, struct net_spec *spec, char *err, size_t errlen)
{
	memset(spec, 0, sizeof(*spec));
	char *copy = strdup(arg ? arg : "");
	if (!copy)
		return fail(err, errlen, "--net: out of memory");
	char *save = NULL;
	char *kind = strtok_r(copy, ",", &save);
	int ret = -1;
	if (!kind || !*kind || arg[0] == ',') {
		fail(err, errlen, "--net: no backend given (user, vde or tap)");
		goto out;
	}
	if (!strcmp(kind, "user")) {
		spec->kind = NET_USER;
	} else if (!strcmp(kind, "vde")) {
		spec->kind = NET_VDE;
	} else if (!strcmp(kind, "tap")) {
		spec->kind = NET_TAP;
	} else {
		fail(err, errlen, "--net: unknown backend '%s' (user, vde or tap)", kind);
		goto out;
	}
	for (char *kv = strtok_r(NULL, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *v = strchr(kv, '=');
		if (!v) {
			fail(err, errlen, "--net: '%s' is not key=value", kv);
			goto out;
		}
		*v++ = 0;
		if (!strcmp(kv, "mac")) {
			if (net_parse_mac(v, spec->mac)) {
				fail(err, errlen, "--net: bad mac '%s' (give six hex bytes like "
				     "52:54:00:12:34:56, unicast, not all zero)", v);
				goto out;
			}
			spec->mac_set = true;
		} else if (spec->kind == NET_USER && !strcmp(kv, "hostfwd")) {
			if (spec->nfwd >= NET_MAX_HOSTFWD) {
				fail(err, errlen, "--net: too many hostfwd rules (at most 16)");
				goto out;
			}
			if (parse_hostfwd(v, &spec->fwd[spec->nfwd])) {
				fail(err, errlen, "--net: bad hostfwd '%s' (give tcp:[HOSTADDR]:HOSTPORT-"
				     "[GUESTADDR]:GUESTPORT, e.g. tcp::8080-:80)", v);
				goto out;
			}
			spec->nfwd++;
		} else if (spec->kind == NET_USER && !strcmp(kv, "hostname")) {
			if (valid_hostname(v)) {
				fail(err, errlen, "--net: hostname '%s' must be 1 to %d letters, digits, "
				     "'-' and '.', not starting or ending with '-' or '.'", v, NET_HOSTNAME_MAX);
				goto out;
			}
			strcpy(spec->hostname, v);
		} else if (spec->kind == NET_VDE && !strcmp(kv, "sock")) {
			if (!*v || strlen(v) >= NET_SOCK_MAX) {
				fail(err, errlen, "--net: vde sock '%s' is empty or too long", v);
				goto out;
			}
			strcpy(spec->sock, v);
		} else if (spec->kind == NET_TAP && !strcmp(kv, "ifname")) {
			if (!*v || strlen(v) >= NET_IFNAME_MAX || strchr(v, '/')) {
				fail(err, errlen, "--net: tap ifname '%s' must be 1 to 15 characters, no '/'",
				     v);
				goto out;
			}
			strcpy(spec->ifname, v);
		} else {
			static const char *const keys[] = {
				[NET_USER] = "mac, hostfwd, hostname", [NET_VDE] = "mac, sock", [NET_TAP] = "mac, ifname",
			};
			fail(err, errlen, "--net: unknown key '%s' for this backend (%s)", kv, keys[spec->kind]);
			goto out;
		}
	}
	if (spec->kind == NET_VDE && !spec->sock[0]) {
		fail(err, errlen, "--net vde needs sock=PATH (the vde_switch socket)");
		goto out;
	}
	if (spec->kind == NET_TAP && !spec->ifname[0]) {
		fail(err, errlen, "--net tap needs ifname=NAME");
		goto out;
	}
	ret = 0;
out:
	free(copy);
	return ret;
}
