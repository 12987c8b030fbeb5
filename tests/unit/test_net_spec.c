/* Unit tests for the --net parser: every backend with its keys, MACs,
 * hostfwd rules, default MACs, and the one-line errors for bad values. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include "net/spec.h"

static void test_user_with_hostfwd(void **state)
{
	struct net_spec s;
	char err[256];
	assert_int_equal(net_spec_parse("user,hostfwd=tcp::8080-:80,hostfwd=udp:127.0.0.1:5353-10.0.2.15:53,"
					"mac=52:54:00:AB:cd:01", &s, err, sizeof(err)), 0);
	assert_int_equal(s.kind, NET_USER);
	assert_int_equal(s.nfwd, 2);
	assert_false(s.fwd[0].udp);
	assert_int_equal(s.fwd[0].host_addr.s_addr, 0);
	assert_int_equal(s.fwd[0].host_port, 8080);
	assert_int_equal(s.fwd[0].guest_addr.s_addr, 0);
	assert_int_equal(s.fwd[0].guest_port, 80);
	assert_true(s.fwd[1].udp);
	assert_int_equal(s.fwd[1].host_addr.s_addr, htonl(0x7f000001));
	assert_int_equal(s.fwd[1].guest_addr.s_addr, htonl(0x0a00020f));
	assert_int_equal(s.fwd[1].guest_port, 53);
	assert_true(s.mac_set);
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0x01 };
	assert_memory_equal(s.mac, mac, 6);
}

static void test_vde_and_tap(void **state)
{
	struct net_spec s;
	char err[256];
	assert_int_equal(net_spec_parse("vde,sock=/tmp/sw", &s, err, sizeof(err)), 0);
	assert_int_equal(s.kind, NET_VDE);
	assert_string_equal(s.sock, "/tmp/sw");
	assert_false(s.mac_set);
	assert_int_equal(net_spec_parse("tap,ifname=tap0", &s, err, sizeof(err)), 0);
	assert_int_equal(s.kind, NET_TAP);
	assert_string_equal(s.ifname, "tap0");
}

static void test_default_macs_differ(void **state)
{
	uint8_t a[6], b[6];
	net_spec_default_mac(0, a);
	net_spec_default_mac(1, b);
	static const uint8_t first[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	assert_memory_equal(a, first, 6);
	assert_int_equal(b[5], 0x57);
}

static void test_bad_values(void **state)
{
	static const char *const bad[][2] = {
		{ "", "no backend" }, { "slip", "unknown backend" }, { ",user", "no backend" },
		{ "user,mac=52:54:00:12:34", "bad mac" }, { "user,mac=52:54:00:12:34:567", "bad mac" },
		{ "user,mac=03:54:00:12:34:56", "bad mac" }, { "user,mac=00:00:00:00:00:00", "bad mac" },
		{ "user,hostfwd=tcp::80", "bad hostfwd" }, { "user,hostfwd=tcp::70000-:80", "bad hostfwd" },
		{ "user,hostfwd=tcp::80-:", "bad hostfwd" }, { "user,hostfwd=tcp:300.1.1.1:80-:80", "bad hostfwd" },
		{ "user,hostfwd=tcp::8a-:80", "bad hostfwd" }, { "user,ifname=x", "unknown key" },
		{ "vde", "needs sock" }, { "vde,sock=", "empty or too long" }, { "tap", "needs ifname" },
		{ "tap,ifname=a/b", "no '/'" }, { "user,x", "not key=value" },
		{ "user,hostname=-a", "hostname" }, { "user,hostname=a_b", "hostname" },
		{ "user,hostname=", "hostname" }, { "user,hostname=a..b", "hostname" },
		{ "user,hostname=123456789012345678901234567890123", "hostname" },
		{ "tap,ifname=t0,hostname=x", "unknown key" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct net_spec s;
		char err[256] = "";
		assert_int_equal(net_spec_parse(bad[i][0], &s, err, sizeof(err)), -1);
		if (!strstr(err, bad[i][1]))
			fail_msg("'%s': error '%s' lacks '%s'", bad[i][0], err, bad[i][1]);
		assert_null(strchr(err, '\n'));
	}
}

/* hostname= for DHCP, and the one made from a VM's name. */
static void test_hostname(void **state)
{
	struct net_spec s;
	char err[256] = "", h[NET_HOSTNAME_MAX + 1];
	assert_int_equal(net_spec_parse("user,hostname=web-1.example", &s, err, sizeof(err)), 0);
	assert_string_equal(s.hostname, "web-1.example");
	assert_int_equal(net_spec_parse("user", &s, err, sizeof(err)), 0);
	assert_string_equal(s.hostname, "");
	net_hostname_from("my_vm.1", h);
	assert_string_equal(h, "my-vm-1");
	net_hostname_from("__", h);
	assert_string_equal(h, "tern");
	net_hostname_from("a-very-long-virtual-machine-name-indeed", h);
	assert_int_equal(strlen(h), NET_HOSTNAME_MAX);
	net_hostname_from("\xc3\xa9t\xc3\xa9", h);
	assert_string_equal(h, "t");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_user_with_hostfwd),
		cmocka_unit_test(test_vde_and_tap),
		cmocka_unit_test(test_default_macs_differ),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_hostname),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
