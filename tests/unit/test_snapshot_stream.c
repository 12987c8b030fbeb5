/* Unit tests for the VM-state stream (sections, checksums, truncation, files
 * and sockets), the vmbuf/vmrd encoding, and device save/load hooks
 * refusing unknown versions and bad lengths. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include "dev/plic.h"
#include "dev/uart16550.h"
#include "machine/virt.h"
#include "state/snap_config.h"
#include "state/stream.h"
#include "state/vmbuf.h"

static int temp_fd(void)
{
	char path[] = "/tmp/tern-stream-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	return fd;
}

/* Header, a config section, an optional unknown section, a section with a
 * hole, the end. */
static void write_sample(int fd)
{
	struct vms_writer w;
	assert_int_equal(vms_writer_init(&w, fd), 0);
	assert_int_equal(vms_put_section(&w, VMS_ID_CONFIG, 0, 1, "{\"a\":1}", 7), 0);
	assert_int_equal(vms_put_section(&w, VMS_ID_OPTIONAL | 9, 0, 1, "skip me", 7), 0);
	assert_int_equal(vms_section_begin(&w, VMS_ID_RAM, 0, 1, 8 + 8192), 0);
	assert_int_equal(vms_section_write(&w, "ramhead!", 8), 0);
	assert_int_equal(vms_section_hole(&w, 8192), 0);
	assert_int_equal(vms_section_end(&w), 0);
	assert_int_equal(vms_writer_finish(&w), 0);
	vms_writer_cleanup(&w);
}

static void read_sample(int fd, bool seekable)
{
	struct vms_reader r;
	struct vms_section s;
	uint8_t *p;
	assert_int_equal(vms_reader_init(&r, fd, "sample"), 0);
	assert_int_equal(r.seekable, seekable);
	assert_int_equal(vms_next(&r, &s), 0);
	assert_int_equal(s.id, VMS_ID_CONFIG);
	assert_int_equal(vms_read_payload(&r, &s, &p), 0);
	assert_memory_equal(p, "{\"a\":1}", 7);
	free(p);
	assert_int_equal(vms_next(&r, &s), 0);
	assert_int_equal(s.id, VMS_ID_OPTIONAL | 9);
	assert_int_equal(vms_skip(&r, &s), 0);
	assert_int_equal(vms_next(&r, &s), 0);
	assert_int_equal(s.id, VMS_ID_RAM);
	/* The hole is not covered by the checksum: header, then skip it. */
	void *md = vms_digest_start(&s);
	uint8_t head[8], zeros[8192];
	assert_int_equal(vms_read(&r, head, 8), 0);
	vms_digest_update(md, head, 8);
	assert_int_equal(vms_read(&r, zeros, sizeof(zeros)), 0);
	for (size_t i = 0; i < sizeof(zeros); i++)
		assert_int_equal(zeros[i], 0);
	assert_int_equal(vms_digest_check(&r, md, &s), 0);
	assert_int_equal(vms_next(&r, &s), 0);
	assert_int_equal(s.id, VMS_ID_END);
	assert_int_equal(vms_read_payload(&r, &s, &p), 0);
	free(p);
}

static void test_file_round_trip(void **state)
{
	int fd = temp_fd();
	write_sample(fd);
	lseek(fd, 0, SEEK_SET);
	read_sample(fd, true);
	close(fd);
}

static void test_socket_round_trip(void **state)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	write_sample(sv[0]);     /* small enough for the socket buffer */
	close(sv[0]);
	read_sample(sv[1], false);
	close(sv[1]);
}

static void test_corrupt_truncated_version(void **state)
{
	int fd = temp_fd();
	write_sample(fd);
	struct vms_reader r;
	struct vms_section s;
	uint8_t *p;
	/* Flip one payload byte of the config section. */
	uint8_t b;
	pread(fd, &b, 1, VMS_HEADER_LEN + VMS_SECTION_HDR_LEN + 3);
	b ^= 1;
	pwrite(fd, &b, 1, VMS_HEADER_LEN + VMS_SECTION_HDR_LEN + 3);
	lseek(fd, 0, SEEK_SET);
	assert_int_equal(vms_reader_init(&r, fd, "f"), 0);
	assert_int_equal(vms_next(&r, &s), 0);
	assert_int_equal(vms_read_payload(&r, &s, &p), -1);
	assert_non_null(strstr(r.err, "checksum mismatch in the config section"));

	/* Cut inside the config section's checksum. */
	assert_int_equal(ftruncate(fd, VMS_HEADER_LEN + VMS_SECTION_HDR_LEN + 7 + 3), 0);
	lseek(fd, 0, SEEK_SET);
	assert_int_equal(vms_reader_init(&r, fd, "f"), 0);
	assert_int_equal(vms_next(&r, &s), -1);
	assert_non_null(strstr(r.err, "truncated"));

	/* Another format version; then no magic at all. */
	uint32_t v = 2;
	pwrite(fd, &v, 4, 8);
	lseek(fd, 0, SEEK_SET);
	assert_int_equal(vms_reader_init(&r, fd, "f"), -1);
	assert_non_null(strstr(r.err, "format version 2"));
	pwrite(fd, "XXXX", 4, 0);
	lseek(fd, 0, SEEK_SET);
	assert_int_equal(vms_reader_init(&r, fd, "f"), -1);
	assert_non_null(strstr(r.err, "not a tern snapshot"));
	close(fd);
}

static void test_section_length_enforced(void **state)
{
	int fd = temp_fd();
	struct vms_writer w;
	assert_int_equal(vms_writer_init(&w, fd), 0);
	assert_int_equal(vms_section_begin(&w, VMS_ID_MACHINE, 0, 1, 4), 0);
	assert_int_equal(vms_section_write(&w, "12345", 5), -1);
	assert_int_equal(vms_section_write(&w, "12", 2), 0);
	assert_int_equal(vms_section_end(&w), -1);
	assert_non_null(strstr(w.err, "short"));
	vms_writer_cleanup(&w);
	close(fd);
}

static void test_vmrd_bounds(void **state)
{
	struct vmbuf b = { 0 };
	vmbuf_put_u32(&b, 0xdeadbeef);
	vmbuf_put_str(&b, "hello");
	struct vmrd r = vmrd_of(b.p, b.len);
	assert_int_equal(vmrd_u32(&r), 0xdeadbeef);
	char s[4];
	assert_false(vmrd_str(&r, s, sizeof(s)));   /* longer than the buffer */
	assert_true(r.bad);
	r = vmrd_of(b.p, 3);
	vmrd_u32(&r);
	assert_true(r.bad);
	assert_false(vmrd_done(&r));
	vmbuf_free(&b);
}

static void test_uart_save_load(void **state)
{
	struct uart16550 *a = uart16550_new((struct irq_line){ 0 }, NULL, NULL, NULL);
	struct uart16550 *c = uart16550_new((struct irq_line){ 0 }, NULL, NULL, NULL);
	uart16550_ops.write(a, 7, 1, 0x5a);          /* SCR */
	uart16550_ops.write(a, 2, 1, 0x01);          /* FIFO on */
	uart16550_receive(a, (const unsigned char *)"hi", 2);
	struct vmbuf b = { 0 };
	assert_int_equal(uart16550_ops.save(a, &b), 0);
	struct vmrd r = vmrd_of(b.p, b.len);
	assert_int_equal(uart16550_ops.load(c, &r, 2), -1);        /* unknown version */
	r = vmrd_of(b.p, b.len - 1);
	assert_int_equal(uart16550_ops.load(c, &r, 1), -1);        /* short */
	uint8_t *longer = calloc(1, b.len + 1);
	memcpy(longer, b.p, b.len);
	r = vmrd_of(longer, b.len + 1);
	assert_int_equal(uart16550_ops.load(c, &r, 1), -1);        /* too long */
	free(longer);
	r = vmrd_of(b.p, b.len);
	assert_int_equal(uart16550_ops.load(c, &r, 1), 0);
	uint64_t v;
	uart16550_ops.read(c, 7, 1, &v);
	assert_int_equal(v, 0x5a);
	uart16550_ops.read(c, 0, 1, &v);
	assert_int_equal(v, 'h');
	uart16550_ops.read(c, 0, 1, &v);
	assert_int_equal(v, 'i');
	vmbuf_free(&b);
	uart16550_ops.destroy(a);
	uart16550_ops.destroy(c);
}

static void test_plic_shape_checked(void **state)
{
	struct plic *a = plic_new(95, 2, NULL, NULL), *c = plic_new(95, 1, NULL, NULL);
	struct vmbuf b = { 0 };
	plic_ops.write(a, 4 * 10, 4, 5);    /* priority of source 10 */
	assert_int_equal(plic_ops.save(a, &b), 0);
	struct vmrd r = vmrd_of(b.p, b.len);
	assert_int_equal(plic_ops.load(c, &r, 1), -1);   /* one context, not two */
	struct plic *d = plic_new(95, 2, NULL, NULL);
	r = vmrd_of(b.p, b.len);
	assert_int_equal(plic_ops.load(d, &r, 1), 0);
	uint64_t v;
	plic_ops.read(d, 4 * 10, 4, &v);
	assert_int_equal(v, 5);
	vmbuf_free(&b);
	plic_ops.destroy(a);
	plic_ops.destroy(c);
	plic_ops.destroy(d);
}

static void test_config_decode(void **state)
{
	static const char good[] = "{\"name\":\"vm1\",\"memory\":268435456,\"cpus\":2,"
		"\"kernel\":\"/k\",\"initrd\":null,\"append\":\"console=ttyS0\",\"rng\":true,"
		"\"reboot\":\"exit\",\"disks\":[{\"path\":\"/d.img\",\"size\":4096,"
		"\"readonly\":false}]}";
	struct virt_config cfg = { 0 };
	json_t *owner;
	char err[256];
	assert_int_equal(snap_config_decode(good, strlen(good), &cfg, &owner, err, sizeof(err)), 0);
	assert_string_equal(cfg.name, "vm1");
	assert_int_equal(cfg.mem_size, 256u << 20);
	assert_int_equal(cfg.cpus, 2);
	assert_null(cfg.initrd);
	assert_int_equal(cfg.ndisks, 1);
	assert_int_equal(cfg.disk_sizes[0], 4096);
	assert_true(cfg.incoming && cfg.rng);
	json_decref(owner);

	static const char *bad[] = {
		"not json",
		"[]",
		"{\"memory\":268435456,\"cpus\":1,\"reboot\":\"exit\",\"disks\":[]}",
		"{\"memory\":4096,\"cpus\":1,\"kernel\":\"/k\",\"reboot\":\"exit\",\"disks\":[]}",
		"{\"memory\":268435456,\"cpus\":99,\"kernel\":\"/k\",\"reboot\":\"exit\",\"disks\":[]}",
		"{\"name\":\"a/b\",\"memory\":268435456,\"cpus\":1,\"kernel\":\"/k\",\"reboot\":\"exit\",\"disks\":[]}",
		"{\"memory\":268435456,\"cpus\":1,\"kernel\":\"/k\",\"reboot\":\"exit\",\"disks\":[{\"path\":\"/d\",\"size\":0}]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct virt_config c = { 0 };
		assert_int_equal(snap_config_decode(bad[i], strlen(bad[i]), &c, &owner, err, sizeof(err)), -1);
		json_decref(owner);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_round_trip),
		cmocka_unit_test(test_socket_round_trip),
		cmocka_unit_test(test_corrupt_truncated_version),
		cmocka_unit_test(test_section_length_enforced),
		cmocka_unit_test(test_vmrd_bounds),
		cmocka_unit_test(test_uart_save_load),
		cmocka_unit_test(test_plic_shape_checked),
		cmocka_unit_test(test_config_decode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
