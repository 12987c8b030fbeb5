/* --net BACKEND[,key=value...]: the parsed form of one NIC's option, checked
 * completely before anything is opened. */
#ifndef TERN_NET_SPEC_H
#define TERN_NET_SPEC_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#define NET_MAX_HOSTFWD 16
#define NET_SOCK_MAX 108        /* sun_path */
#define NET_IFNAME_MAX 16       /* IFNAMSIZ */
#define NET_HOSTNAME_MAX 32     /* libslirp keeps at most 32 characters */

enum net_kind { NET_USER, NET_VDE, NET_TAP };

/* hostfwd=tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT (or udp:). */
struct net_hostfwd {
	bool udp;
	struct in_addr host_addr, guest_addr;   /* 0 = any / the DHCP address */
	uint16_t host_port, guest_port;
};

struct net_spec {
	enum net_kind kind;
	bool mac_set;
	uint8_t mac[6];
	struct net_hostfwd fwd[NET_MAX_HOSTFWD];   /* user */
	int nfwd;
	char sock[NET_SOCK_MAX];                   /* vde */
	char ifname[NET_IFNAME_MAX];               /* tap */
	char hostname[NET_HOSTNAME_MAX + 1];       /* user: DHCP host name; "" = the VM's name */
};

/* Parse one --net value. Returns 0, or -1 with a one-line reason in err. */
int net_spec_parse(const char *arg, struct net_spec *spec, char *err, size_t errlen);
/* The MAC NIC number `index` gets by default: 52:54:00:12:34:56 + index,
 * as QEMU numbers its NICs. */
void net_spec_default_mac(unsigned index, uint8_t mac[6]);
/* Parse aa:bb:cc:dd:ee:ff (unicast, not all zero). Returns 0 or -1. */
int net_parse_mac(const char *s, uint8_t mac[6]);
/* A DHCP host name from any text (a VM's name): letters, digits and '-'
 * kept, other characters turned into '-', at most NET_HOSTNAME_MAX. */
void net_hostname_from(const char *name, char out[NET_HOSTNAME_MAX + 1]);
#endif
