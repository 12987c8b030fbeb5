/* The registry of network backends: the one place that lists them, by the
 * kind a --net spec names. net.c (the queue every backend shares) knows
 * none of them. Adding a backend is one line here and one in backends.h. */
#include <stdio.h>
#include "net/backends.h"
#include "net/net.h"
#include "net/spec.h"

static const struct {
	enum net_kind kind;
	struct net_backend *(*open)(const struct net_spec *spec, struct evloop *loop,
				    char *err, size_t errlen);
} net_backends[] = {
	{ NET_USER, net_slirp_open },
	{ NET_VDE, net_vde_open },
	{ NET_TAP, net_tap_open },
};

struct net_backend *net_backend_open(const struct net_spec *spec, struct evloop *loop,
				     char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(net_backends) / sizeof(net_backends[0]); i++)
		if (net_backends[i].kind == spec->kind)
			return net_backends[i].open(spec, loop, err, errlen);
	snprintf(err, errlen, "unknown network backend");
	return NULL;
}
