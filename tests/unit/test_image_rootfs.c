/* Unit tests for root file system import and inventory (src/image/): path
 * cleaning, fstab/inittab rewrites, dpkg status parsing, and whole imports
 * of small generated tar archives, directories and ext images, including
 * bad ones (truncated tar, not an image, '..' entries, no fstab). */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <cmocka.h>
#include "cli/cli.h"
#include "image/extfs.h"
#include "image/fixup.h"
#include "image/import.h"
#include "image/inventory.h"

static char dir[64];

static void path_of(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", dir, name);
}

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/tern-image-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int has_change(const struct inventory *inv, const char *needle)
{
	for (size_t i = 0; i < inv->n_changes; i++)
		if (strstr(inv->changes[i], needle))
			return 1;
	return 0;
}

static void test_clean_path(void **state)
{
	(void)state;
	char *p = import_clean_path("./etc//passwd");
	assert_string_equal(p, "etc/passwd");
	free(p);
	p = import_clean_path("/usr/./lib/x");
	assert_string_equal(p, "usr/lib/x");
	free(p);
	errno = 0;
	assert_null(import_clean_path("../../etc/passwd"));
	assert_int_equal(errno, EINVAL);
	assert_null(import_clean_path("a/b/../../../c"));
	assert_int_equal(errno, EINVAL);
	assert_null(import_clean_path("./"));
	assert_int_equal(errno, ENOENT);
	p = import_clean_path("a..b/..c");    /* dots inside names are fine */
	assert_string_equal(p, "a..b/..c");
	free(p);
}

static void test_fstab_uml(void **state)
{
	(void)state;
	struct inventory log = { 0 };
	const char *uml = "# UML\n/dev/ubd0 / ext3 defaults 0 1\n/dev/ubd1 none swap sw 0 0\n"
			  "proc /proc proc defaults 0 0\n";
	char *out = fixup_fstab_text(uml, &log);
	assert_non_null(out);
	assert_non_null(strstr(out, "/dev/vda\t/\text3\tdefaults\t0\t1\n"));
	assert_non_null(strstr(out, "#tern-import# /dev/ubd1 none swap"));
	assert_non_null(strstr(out, "\nproc /proc proc defaults 0 0\n"));
	assert_non_null(strstr(out, "# UML\n"));
	assert_true(has_change(&log, "root /dev/ubd0 ext3 -> /dev/vda ext3"));
	assert_true(has_change(&log, "commented out /dev/ubd1"));
	struct inventory parsed = { 0 };
	assert_int_equal(inventory_parse_fstab(&parsed, out), 0);
	assert_int_equal(parsed.n_fstab, 2);
	assert_string_equal(parsed.fstab[0].spec, "/dev/vda");
	assert_int_equal(parsed.fstab[0].pass, 1);
	free(out);
	/* Already right: unchanged. No root line: one is added. */
	struct inventory log2 = { 0 };
	out = fixup_fstab_text("/dev/vda / ext4 defaults 0 1\n", &log2);
	assert_string_equal(out, "/dev/vda / ext4 defaults 0 1\n");
	assert_int_equal(log2.n_changes, 0);
	free(out);
	out = fixup_fstab_text("", &log2);
	assert_string_equal(out, "/dev/vda\t/\text4\tdefaults\t0\t1\n");
	assert_true(has_change(&log2, "added root"));
	free(out);
	/* A Xen root by label and a non-ext type: the type becomes ext4. */
	out = fixup_fstab_text("LABEL=root / xfs defaults 0 1\n/dev/xvdb1 /data ext4 defaults 0 2\n",
			       &log2);
	assert_non_null(strstr(out, "/dev/vda\t/\text4\tdefaults\t0\t1"));
	assert_non_null(strstr(out, "#tern-import# /dev/xvdb1 /data"));
	free(out);
	struct inventory *all[] = { &log, &parsed, &log2 };
	for (int i = 0; i < 3; i++) {
		struct inventory *c = calloc(1, sizeof(*c));
		*c = *all[i];
		inventory_free(c);
	}
}

static void test_inittab(void **state)
{
	(void)state;
	struct inventory log = { 0 };
	const char *uml = "id:2:initdefault:\nc0:1235:respawn:/sbin/getty 38400 tty0 linux\n"
			  "1:2345:respawn:/sbin/getty 38400 tty1\n";
	char *out = fixup_inittab_text(uml, &log);
	assert_non_null(strstr(out, "c0:1235:respawn:/sbin/getty 38400 ttyS0 linux\n"));
	assert_non_null(strstr(out, "1:2345:respawn:/sbin/getty 38400 tty1\n"));
	assert_null(strstr(out, "T0:2345"));      /* already has a ttyS0 getty */
	assert_int_equal(log.n_changes, 1);
	free(out);
	/* Debian's stock file: a commented serial line does not count. */
	const char *deb = "#T0:23:respawn:/sbin/getty -L ttyS0 9600 vt100\n"
			  "1:2345:respawn:/sbin/getty 38400 tty1\nx:5:respawn:/sbin/getty tty01\n";
	out = fixup_inittab_text(deb, &log);
	assert_non_null(strstr(out, "T0:2345:respawn:/sbin/getty -L ttyS0 115200 vt100\n"));
	assert_non_null(strstr(out, "getty tty01\n"));   /* whole words only */
	free(out);
	struct inventory *c = calloc(1, sizeof(*c));
	*c = log;
	inventory_free(c);
}

static void test_dpkg_status(void **state)
{
	(void)state;
	struct inventory *inv = calloc(1, sizeof(*inv));
	const char *st =
		"Package: bash\nStatus: install ok installed\nPriority: required\n"
		"Architecture: riscv64\nVersion: 5.2.37-2\nDescription: GNU shell\n continued line\n\n"
		"Package: gone\nStatus: deinstall ok config-files\nVersion: 1.0\nArchitecture: all\n\n"
		"Package: python3-yaml\nStatus: install ok installed\nArchitecture: riscv64\n"
		"Version: 6.0.2-1+b2\n";
	assert_int_equal(inventory_parse_dpkg(inv, st), 0);
	assert_int_equal(inv->n_packages, 2);
	assert_string_equal(inv->packages[0].name, "bash");
	assert_string_equal(inv->packages[0].version, "5.2.37-2");
	assert_string_equal(inv->packages[0].arch, "riscv64");
	assert_string_equal(inv->packages[1].name, "python3-yaml");
	assert_string_equal(inv->packages[1].version, "6.0.2-1+b2");
	assert_int_equal(inventory_parse_dpkg(inv, ""), 0);
	assert_int_equal(inventory_parse_dpkg(inv, "garbage without fields"), 0);
	assert_int_equal(inv->n_packages, 2);
	inventory_free(inv);
}

/* ---- generated archives ------------------------------------------------------ */
struct tent {
	const char *path;
	mode_t mode;            /* with the file type */
	const char *data;       /* file contents, symlink or hard link target */
	int hardlink;
	unsigned uid;
	dev_t rdev;
	const char *xattr;      /* "name=value" */
};

static void write_tar(const char *path, const struct tent *t, size_t n, int zstd)
{
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	if (zstd)
		archive_write_add_filter_zstd(a);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, t[i].path);
		archive_entry_set_mode(e, t[i].mode);
		archive_entry_set_uid(e, t[i].uid);
		archive_entry_set_gid(e, t[i].uid);
		archive_entry_set_mtime(e, 1700000000, 0);
		size_t len = 0;
		if (t[i].hardlink) {
			archive_entry_set_hardlink(e, t[i].data);
		} else if (S_ISLNK(t[i].mode)) {
			archive_entry_set_symlink(e, t[i].data);
		} else if (S_ISREG(t[i].mode)) {
			len = strlen(t[i].data);
			archive_entry_set_size(e, (la_int64_t)len);
		} else if (S_ISCHR(t[i].mode)) {
			archive_entry_set_rdev(e, t[i].rdev);
		}
		if (t[i].xattr) {
			const char *eq = strchr(t[i].xattr, '=');
			char name[64];
			snprintf(name, sizeof(name), "%.*s", (int)(eq - t[i].xattr), t[i].xattr);
			archive_entry_xattr_add_entry(e, name, eq + 1, strlen(eq + 1));
		}
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		if (len)
			assert_int_equal(archive_write_data(a, t[i].data, len), (la_ssize_t)len);
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
}

static const struct tent uml_root[] = {
	{ "./", S_IFDIR | 0755, NULL, 0, 0, 0, NULL },
	{ "./etc/", S_IFDIR | 0755, NULL, 0, 0, 0, NULL },
	{ "./etc/fstab", S_IFREG | 0644, "/dev/ubd0 / ext4 defaults 0 1\n/dev/ubd1 none swap sw 0 0\n", 0, 0, 0, NULL },
	{ "./etc/securetty", S_IFREG | 0600, "tty0\ntty1\n", 0, 0, 0, NULL },
	{ "./etc/passwd", S_IFREG | 0644, "root:x:0:0:root:/root:/bin/sh\n", 0, 0, 0, NULL },
	{ "./etc/passwd.link", S_IFREG | 0644, "etc/passwd", 1, 0, 0, NULL },
	{ "./etc/systemd/system/getty.target.wants/", S_IFDIR | 0755, NULL, 0, 0, 0, NULL },
	{ "./etc/systemd/system/getty.target.wants/getty@tty0.service", S_IFLNK | 0777,
	  "/lib/systemd/system/getty@.service", 0, 0, 0, NULL },
	{ "./usr/lib/systemd/systemd", S_IFREG | 0755, "ELF", 0, 0, 0, NULL },
	{ "./lib", S_IFLNK | 0777, "usr/lib", 0, 0, 0, NULL },
	{ "./sbin/init", S_IFLNK | 0777, "/lib/systemd/systemd", 0, 0, 0, NULL },
	{ "./dev/null", S_IFCHR | 0666, NULL, 0, 0, 0, NULL },
	{ "./home/user/notes", S_IFREG | 0600, "hello", 0, 1000, 0, "user.tern=yes" },
	{ "./var/lib/dpkg/status", S_IFREG | 0644,
	  "Package: bash\nStatus: install ok installed\nArchitecture: riscv64\nVersion: 5.2\n", 0, 0, 0, NULL },
	{ "./boot/vmlinuz-6.1.0-uml", S_IFREG | 0644, "kernel", 0, 0, 0, NULL },
	{ "./usr/lib/modules/6.1.0-uml/modules.dep", S_IFREG | 0644, "", 0, 0, 0, NULL },
};
#define N_UML (sizeof(uml_root) / sizeof(uml_root[0]))

static int do_import(const char *src, const char *out, struct inventory *log, char *err, size_t n)
{
	struct import_opts o = { .src = src, .out = out, .size = 64u << 20 };
	struct import_stats st;
	return import_rootfs(&o, log, &st, err, n);
}

/* Checks an imported image: the rewrites, the inventory, and that owners,
 * modes, links, devices and xattrs came through. */
static void check_uml_image(const char *img)
{
	char err[512];
	struct inventory *inv;
	assert_int_equal(inventory_from_image(img, &inv, err, sizeof(err)), 0);
	assert_string_equal(inv->fs_type, "ext4");
	assert_string_equal(inv->init_system, "systemd");
	assert_int_equal(inv->n_packages, 1);
	assert_string_equal(inv->packages[0].name, "bash");
	assert_int_equal(inv->n_fstab, 1);
	assert_string_equal(inv->fstab[0].spec, "/dev/vda");
	assert_int_equal(inv->n_kernels, 1);
	assert_string_equal(inv->kernels[0], "/boot/vmlinuz-6.1.0-uml");
	assert_int_equal(inv->n_modules, 1);
	assert_string_equal(inv->modules[0], "/usr/lib/modules/6.1.0-uml");
	inventory_free(inv);

	struct extfs *x = extfs_open(img, err, sizeof(err));
	assert_non_null(x);
	char *d;
	size_t n;
	assert_int_equal(extfs_read_file(x, "/etc/securetty", 4096, &d, &n), 0);
	assert_string_equal(d, "tty0\ntty1\nttyS0\n");
	free(d);
	ext2_ino_t a, b;
	assert_int_equal(extfs_lookup(x, "/etc/systemd/system/getty.target.wants/getty@tty0.service",
				      0, &a), -ENOENT);
	assert_int_equal(extfs_lookup(x, "/etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service",
				      0, &a), 0);
	assert_int_equal(extfs_lookup(x, "/etc/passwd", 0, &a), 0);
	assert_int_equal(extfs_lookup(x, "/etc/passwd.link", 0, &b), 0);
	assert_int_equal(a, b);                         /* a hard link */
	char target[256];
	assert_int_equal(extfs_lookup(x, "/sbin/init", 0, &a), 0);
	assert_int_equal(extfs_readlink(x, a, target, sizeof(target)), 0);
	assert_string_equal(target, "/lib/systemd/systemd");
	struct ext2_inode in;
	assert_int_equal(extfs_lookup(x, "/dev/null", 0, &a), 0);
	assert_int_equal(ext2fs_read_inode(x->fs, a, &in), 0);
	if (geteuid() == 0) {   /* owners and device nodes need root in the staging folder */
		assert_true(LINUX_S_ISCHR(in.i_mode));
		assert_int_equal(extfs_lookup(x, "/home/user/notes", 0, &a), 0);
		assert_int_equal(ext2fs_read_inode(x->fs, a, &in), 0);
		assert_int_equal(inode_uid(in), 1000);
		assert_int_equal(in.i_mode & 07777, 0600);
		struct ext2_xattr_handle *h;
		void *v;
		size_t vl;
		assert_int_equal(ext2fs_xattrs_open(x->fs, a, &h), 0);
		assert_int_equal(ext2fs_xattrs_read(h), 0);
		assert_int_equal(ext2fs_xattr_get(h, "user.tern", &v, &vl), 0);
		assert_int_equal(vl, 3);
		assert_memory_equal(v, "yes", 3);
		ext2fs_free_mem(&v);
		ext2fs_xattrs_close(&h);
	}
	extfs_close(x);
}

static void test_import_tar(void **state)
{
	(void)state;
	char tar[256], img[256], err[512];
	path_of(tar, sizeof(tar), "uml.tar.zst");
	path_of(img, sizeof(img), "uml.img");
	write_tar(tar, uml_root, N_UML, 1);
	struct inventory *log = calloc(1, sizeof(*log));
	assert_int_equal(do_import(tar, img, log, err, sizeof(err)), 0);
	assert_true(has_change(log, "root /dev/ubd0 ext4 -> /dev/vda"));
	assert_true(has_change(log, "commented out /dev/ubd1"));
	assert_true(has_change(log, "getty@tty0.service: removed"));
	assert_true(has_change(log, "serial-getty@ttyS0.service: added"));
	assert_true(has_change(log, "securetty: added ttyS0"));
	inventory_free(log);
	check_uml_image(img);

	/* The same root again, now from that ext image (as from a UML host),
	 * and through qcow2: nothing left to change but the result is equal. */
	char q[256], img2[256];
	path_of(q, sizeof(q), "uml.qcow2");
	path_of(img2, sizeof(img2), "uml2.img");
	assert_int_equal(cli_image_convert_file(img, q, "qcow2", 0), 0);
	log = calloc(1, sizeof(*log));
	assert_int_equal(do_import(q, img2, log, err, sizeof(err)), 0);
	assert_int_equal(log->n_changes, 0);
	inventory_free(log);
	check_uml_image(img2);
	unlink(img2);
	unlink(q);

	/* XML: well-formed and with the package. */
	char xml[256];
	path_of(xml, sizeof(xml), "inv.xml");
	struct inventory *inv;
	assert_int_equal(inventory_from_image(img, &inv, err, sizeof(err)), 0);
	assert_int_equal(inventory_write_xml(inv, xml), 0);
	inventory_free(inv);
	char *d = NULL;
	size_t n = 0;
	FILE *f = fopen(xml, "r");
	assert_non_null(f);
	assert_int_equal(getdelim(&d, &n, 0, f) > 0, 1);
	fclose(f);
	assert_non_null(strstr(d, "<package name=\"bash\" version=\"5.2\" architecture=\"riscv64\"/>"));
	assert_non_null(strstr(d, "<entry spec=\"/dev/vda\" file=\"/\""));
	assert_non_null(strstr(d, "<init system=\"systemd\""));
	free(d);
	unlink(img);
	unlink(tar);
}

static void test_import_dir(void **state)
{
	(void)state;
	char src[256], img[256], err[512], cmd[4096];
	path_of(src, sizeof(src), "tree");
	path_of(img, sizeof(img), "tree.img");
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p %1$s/etc %1$s/usr/lib/systemd %1$s/sbin %1$s/var/lib/dpkg && "
		 "printf '/dev/xvda1 / ext3 defaults 0 1\\n' > %1$s/etc/fstab && "
		 "printf 'c:2345:respawn:/sbin/getty 38400 hvc0\\n' > %1$s/etc/inittab && "
		 "ln -s /usr/lib/systemd/systemd %1$s/sbin/init && touch %1$s/usr/lib/systemd/systemd && "
		 "echo one > %1$s/etc/a && ln %1$s/etc/a %1$s/etc/b && : > %1$s/var/lib/dpkg/status",
		 src);
	assert_int_equal(system(cmd), 0);
	struct inventory *log = calloc(1, sizeof(*log));
	assert_int_equal(do_import(src, img, log, err, sizeof(err)), 0);
	assert_true(has_change(log, "root /dev/xvda1 ext3 -> /dev/vda ext3"));
	assert_true(has_change(log, "inittab: getty moved to ttyS0"));
	inventory_free(log);
	struct extfs *x = extfs_open(img, err, sizeof(err));
	assert_non_null(x);
	char *d;
	size_t n;
	assert_int_equal(extfs_read_file(x, "/etc/inittab", 4096, &d, &n), 0);
	assert_string_equal(d, "c:2345:respawn:/sbin/getty 38400 ttyS0\n");
	free(d);
	ext2_ino_t a, b;
	assert_int_equal(extfs_lookup(x, "/etc/a", 0, &a), 0);
	assert_int_equal(extfs_lookup(x, "/etc/b", 0, &b), 0);
	assert_int_equal(a, b);
	extfs_close(x);
	/* OUT exists: refused, and left as it was. */
	assert_int_not_equal(do_import(src, img, NULL, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "exists"));
	unlink(img);
}

static void test_bad_inputs(void **state)
{
	(void)state;
	char tar[256], img[256], err[512];
	struct stat st;
	path_of(img, sizeof(img), "bad.img");

	/* A path traversal entry: refused, naming it; no OUT left behind. */
	const struct tent evil[] = {
		{ "./etc/", S_IFDIR | 0755, NULL, 0, 0, 0, NULL },
		{ "../../etc/passwd", S_IFREG | 0644, "owned\n", 0, 0, 0, NULL },
	};
	path_of(tar, sizeof(tar), "evil.tar");
	write_tar(tar, evil, 2, 0);
	struct inventory *log = calloc(1, sizeof(*log));
	assert_int_not_equal(do_import(tar, img, log, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "unsafe path '../../etc/passwd'"));
	assert_non_null(strstr(err, tar));
	assert_int_equal(stat(img, &st), -1);
	/* A hard link out of the tree, too. */
	const struct tent evil2[] = {
		{ "./etc/shadow", S_IFREG | 0644, "../../../etc/shadow", 1, 0, 0, NULL },
	};
	write_tar(tar, evil2, 1, 0);
	assert_int_not_equal(do_import(tar, img, log, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "unsafe hard link target"));
	assert_int_equal(stat(img, &st), -1);

	/* A truncated archive: refused with the archive's name. */
	const struct tent big[] = {
		{ "./etc/", S_IFDIR | 0755, NULL, 0, 0, 0, NULL },
		{ "./etc/big", S_IFREG | 0644,
		  "0123456789012345678901234567890123456789012345678901234567890123456789"
		  "0123456789012345678901234567890123456789012345678901234567890123456789"
		  "0123456789012345678901234567890123456789012345678901234567890123456789"
		  "0123456789012345678901234567890123456789012345678901234567890123456789"
		  "0123456789012345678901234567890123456789012345678901234567890123456789"
		  "0123456789012345678901234567890123456789012345678901234567890123456789"
		  "0123456789012345678901234567890123456789012345678901234567890123456789"
		  "0123456789012345678901234567890123456789012345678901234567890123456789", 0, 0, 0, NULL },
		{ "./etc/after", S_IFREG | 0644, "x", 0, 0, 0, NULL },
	};
	write_tar(tar, big, 3, 0);
	assert_int_equal(stat(tar, &st), 0);
	assert_int_equal(truncate(tar, 1300), 0);      /* inside ./etc/big's data */
	assert_int_not_equal(do_import(tar, img, log, err, sizeof(err)), 0);
	assert_non_null(strstr(err, tar));
	assert_int_equal(stat(img, &st), -1);

	/* Not an image nor an archive. */
	char junk[256];
	path_of(junk, sizeof(junk), "junk.bin");
	FILE *f = fopen(junk, "w");
	for (int i = 0; i < 4096; i++)
		fputc((i * 37) & 0xff, f);
	fclose(f);
	assert_null(import_source_kind(junk, err, sizeof(err)));
	assert_non_null(strstr(err, "not a directory, a tar archive or an ext2/3/4 image"));
	struct inventory *inv;
	assert_int_not_equal(inventory_from_image(junk, &inv, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "not an ext2/3/4 file system"));
	char missing[256];
	path_of(missing, sizeof(missing), "missing");
	assert_null(import_source_kind(missing, err, sizeof(err)));
	assert_non_null(strstr(err, "No such file"));

	/* No fstab at all: one is made. */
	const struct tent bare[] = {
		{ "./etc/hostname", S_IFREG | 0644, "bare\n", 0, 0, 0, NULL },
	};
	write_tar(tar, bare, 1, 0);
	assert_int_equal(do_import(tar, img, log, err, sizeof(err)), 0);
	assert_true(has_change(log, "/etc/fstab: created"));
	assert_int_equal(inventory_from_image(img, &inv, err, sizeof(err)), 0);
	assert_int_equal(inv->n_fstab, 1);
	assert_string_equal(inv->fstab[0].spec, "/dev/vda");
	assert_string_equal(inv->init_system, "none");
	inventory_free(inv);
	inventory_free(log);
	unlink(img);
	unlink(tar);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean_path),
		cmocka_unit_test(test_fstab_uml),
		cmocka_unit_test(test_inittab),
		cmocka_unit_test(test_dpkg_status),
		cmocka_unit_test(test_import_tar),
		cmocka_unit_test(test_import_dir),
		cmocka_unit_test(test_bad_inputs),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
