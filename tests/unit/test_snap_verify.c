/* Unit tests for the lazy check of a restored snapshot's RAM
 * (state/snap_verify.c): a small real board is saved to a file, one stored
 * page of the file is damaged, and the file is restored into a second
 * board. The damaged chunk must be refused on access, by a save and by the
 * background thread, while the other chunks read as saved. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/vm.h"
#include "machine/virt.h"
#include "state/snapshot.h"

#define RAM_SIZE (16u << 20)
#define CHUNK (2u << 20)
#define BAD_CHUNK 5                     /* the damaged one */

static struct vm *board(struct virt_config *cfg)
{
	setenv("TERN_JIT", "off", 1);
	memset(cfg, 0, sizeof(*cfg));
	cfg->name = "snapverify";
	cfg->mem_size = RAM_SIZE;
	cfg->cpus = 1;
	cfg->console = "file:/dev/null";
	cfg->incoming = 1;
	cfg->kernel = "/dev/null";
	struct vm *vm = calloc(1, sizeof(*vm));
	char err[256];
	assert_non_null(vm);
	assert_int_equal(virt_create(vm, cfg, err, sizeof(err)), 0);
	return vm;
}

static void destroy(struct vm *vm, struct snap_image *img)
{
	snap_stop_verify(img);
	virt_destroy(vm);
	snap_close(img);
	free(vm);
}

/* A snapshot whose every page holds its own offset; with damage, one byte
 * of a page in BAD_CHUNK flipped in the file. Returns the path (static). */
static const char *saved_snapshot(bool damage)
{
	static char path[64];
	snprintf(path, sizeof(path), "/tmp/tern-snapverify-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	struct virt_config cfg;
	struct vm *vm = board(&cfg);
	for (uint64_t off = 0; off < RAM_SIZE; off += 4096)
		memcpy(vm->mem.host + off, &off, sizeof(off));
	struct snap_stats st;
	char err[512];
	assert_int_equal(snap_save_file(vm, path, &st, err, sizeof(err)), 0);
	virt_destroy(vm);
	free(vm);
	if (!damage)
		return path;
	/* The page image starts on a page boundary of the file; find the
	 * page that holds BAD_CHUNK's first page by its contents. */
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	uint64_t want = (uint64_t)BAD_CHUNK * CHUNK, got = 0;
	off_t at = 0;
	for (; pread(fd, &got, sizeof(got), at) == sizeof(got); at += 4096)
		if (got == want)
			break;
	assert_int_equal(got, want);
	uint8_t b;
	assert_int_equal(pread(fd, &b, 1, at + 100), 1);
	b ^= 1;
	assert_int_equal(pwrite(fd, &b, 1, at + 100), 1);
	close(fd);
	return path;
}

/* Waits (up to 10 s) for the background thread to end the VM or to turn
 * the hook off. */
static void wait_checked(struct vm *vm)
{
	for (int i = 0; i < 1000 && atomic_load(&vm->exit_req) == VM_RUNNING &&
			atomic_load(&vm->mem.absent); i++)
		usleep(10000);
}

static struct vm *restore(const char *path, struct virt_config *cfg, struct snap_image *img)
{
	char err[512];
	struct virt_config want;
	memset(&want, 0, sizeof(want));
	assert_int_equal(snap_open(img, path, &want, err, sizeof(err)), 0);
	struct vm *vm = board(cfg);
	assert_int_equal(snap_load(img, vm, err, sizeof(err)), 0);
	return vm;
}

static void test_bad_chunk_refused_on_access_and_by_save(void **state)
{
	(void)state;
	const char *path = saved_snapshot(true);
	setenv("TERN_SNAP_CHECK", "on-access", 1);
	struct virt_config cfg;
	struct snap_image img;
	struct vm *vm = restore(path, &cfg, &img);
	unsetenv("TERN_SNAP_CHECK");
	assert_int_equal(atomic_load(&vm->exit_req), VM_RUNNING);
	/* A good chunk reads as saved. */
	uint64_t off = 3 * CHUNK + 7 * 4096;
	uint8_t *p = vm_ram_ptr(vm, vm->mem.base + off, 8);
	assert_non_null(p);
	assert_memory_equal(p, &off, sizeof(off));
	/* The bad one is refused, and the VM is told to end, with the file. */
	assert_null(vm_ram_ptr(vm, vm->mem.base + BAD_CHUNK * CHUNK + 4096, 8));
	assert_int_equal(atomic_load(&vm->exit_req), VM_EXIT_ERROR);
	assert_non_null(strstr(vm->exit_msg, path));
	assert_non_null(strstr(vm->exit_msg, "checksum mismatch in the ram section"));
	/* Saving it again checks what is left first, and refuses. */
	char out[64], err[512];
	snprintf(out, sizeof(out), "%s.again", path);
	struct snap_stats st;
	assert_int_equal(snap_save_file(vm, out, &st, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not all in place"));
	assert_int_equal(access(out, F_OK), -1);
	destroy(vm, &img);
	unlink(path);
}

static void test_bad_chunk_found_in_background(void **state)
{
	(void)state;
	const char *path = saved_snapshot(true);
	struct virt_config cfg;
	struct snap_image img;
	struct vm *vm = restore(path, &cfg, &img);
	wait_checked(vm);
	assert_int_equal(atomic_load(&vm->exit_req), VM_EXIT_ERROR);
	assert_non_null(strstr(vm->exit_msg, "0x80a00000"));    /* RAM base + 5 * 2 MiB */
	/* The hook stays on for the bad chunk; the good ones read freely. */
	assert_non_null(vm_ram_ptr(vm, vm->mem.base + 4096, 8));
	assert_null(vm_ram_ptr(vm, vm->mem.base + BAD_CHUNK * CHUNK, 8));
	destroy(vm, &img);
	unlink(path);
}

static void test_good_file_checked_in_background(void **state)
{
	(void)state;
	const char *path = saved_snapshot(false);
	struct virt_config cfg;
	struct snap_image img;
	struct vm *vm = restore(path, &cfg, &img);
	wait_checked(vm);
	assert_int_equal(atomic_load(&vm->exit_req), VM_RUNNING);
	assert_null(atomic_load(&vm->mem.absent));      /* the hook is off */
	for (uint64_t off = 0; off < RAM_SIZE; off += CHUNK / 2)
		assert_memory_equal(vm->mem.host + off, &off, sizeof(off));
	destroy(vm, &img);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_chunk_refused_on_access_and_by_save),
		cmocka_unit_test(test_bad_chunk_found_in_background),
		cmocka_unit_test(test_good_file_checked_in_background),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
