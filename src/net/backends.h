/* Constructors of the network backends; the registry (backends.c) lists
 * them and net_backend_open picks one. */
#ifndef TERN_NET_BACKENDS_H
#define TERN_NET_BACKENDS_H
#include <stddef.h>

struct evloop;
struct net_spec;
struct net_backend;

/* User-mode NAT through libslirp: guest 10.0.2.15, gateway/host 10.0.2.2,
 * DNS 10.0.2.3, DHCP; hostfwd rules from the spec. */
struct net_backend *net_slirp_open(const struct net_spec *spec, struct evloop *loop,
				   char *err, size_t errlen);
/* A port on a vde_switch through libvdeplug (spec->sock). */
struct net_backend *net_vde_open(const struct net_spec *spec, struct evloop *loop,
				 char *err, size_t errlen);
/* A host tap interface (spec->ifname) through /dev/net/tun. */
struct net_backend *net_tap_open(const struct net_spec *spec, struct evloop *loop,
				 char *err, size_t errlen);
#endif
