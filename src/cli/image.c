/* `tern image`: create, inspect and convert disk images (raw, qcow2), and
 * make an ext4 image from a host directory (mke2fs -d, no mounts). */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "block/block.h"
#include "block/formats.h"
#include "block/qcow2.h"
#include "cli/cli.h"

#define COPY_CHUNK (1u << 20)

static void image_usage(FILE *f)
{
	fprintf(f,
		"usage: tern image <command> ...\n"
		"\n"
		"  create [-f raw|qcow2] [-c CLUSTER] [-b BACKING [-F raw|qcow2]] FILE [SIZE]\n"
		"        a new image: qcow2 version 3 with 64 KiB clusters by default (-c sets\n"
		"        the cluster size, 512 to 2M); with -b, a qcow2 overlay on BACKING\n"
		"        (a path relative to FILE's directory), SIZE defaulting to BACKING's\n"
		"  info FILE\n"
		"        format, virtual size, allocated size and backing chain\n"
		"  convert -O raw|qcow2 [-c CLUSTER] IN OUT\n"
		"        copy IN (any format, backing chain flattened) to a new OUT;\n"
		"        zero blocks are left unallocated\n"
		"  from-dir DIR FILE SIZE\n"
		"        a raw ext4 image of SIZE holding DIR's files (mke2fs -d; no root)\n"
		"  import-rootfs SRC OUT [--size S] [--format qcow2|raw] [--inventory FILE.xml]\n"
		"        a bootable virtio root disk (ext4) from SRC: a directory, a tar archive\n"
		"        (gz, xz, zst, bz2) or an ext2/3/4 image (raw or qcow2, e.g. a UML root);\n"
		"        fstab's root becomes /dev/vda, UML/Xen consoles become ttyS0\n"
		"  inspect FILE [--xml]\n"
		"        inventory of an image's ext2/3/4 file system: folders and sizes,\n"
		"        dpkg packages, fstab, kernels, module folders, init system\n"
		"\n"
		"SIZE takes a K, M, G or T suffix (a bare number means MiB). FILE and OUT\n"
		"must not exist. Exit status: 0 on success, 1 on an error, 2 on a usage error.\n");
}

static int usage_error(const char *msg)
{
	fprintf(stderr, "tern image: %s (see 'tern image --help')\n", msg);
	return 2;
}

static int parse_size_arg(const char *s, uint64_t *out)
{
	if (cli_parse_size(s, out) || *out == 0) {
		fprintf(stderr, "tern image: invalid size '%s': give e.g. 512M or 10G\n", s);
		return -1;
	}
	return 0;
}

/* A qcow2 cluster size: a power of two from 512 bytes to 2 MiB. */
static int parse_cluster(const char *s, unsigned *bits)
{
	uint64_t v;
	if (cli_parse_size(s, &v) || (s[strlen(s) - 1] >= '0' && s[strlen(s) - 1] <= '9'))
		v = strtoull(s, NULL, 10);      /* a bare number is bytes here */
	for (unsigned b = 9; b <= 21; b++)
		if (v == 1ull << b) {
			*bits = b;
			return 0;
		}
	fprintf(stderr, "tern image: invalid cluster size '%s': a power of two, 512 to 2M\n", s);
	return -1;
}

static int create_raw(const char *path, uint64_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "tern image: cannot create '%s': %s\n", path, strerror(errno));
		return -1;
	}
	if (ftruncate(fd, (off_t)size) || close(fd)) {
		fprintf(stderr, "tern image: cannot size '%s': %s\n", path, strerror(errno));
		unlink(path);
		return -1;
	}
	return 0;
}

static int check_format(const char *f)
{
	if (strcmp(f, "raw") && strcmp(f, "qcow2")) {
		fprintf(stderr, "tern image: unknown format '%s' (raw or qcow2)\n", f);
		return -1;
	}
	return 0;
}

static int cmd_create(int argc, char **argv)
{
	const char *fmt = "qcow2", *backing = NULL, *bfmt = NULL;
	unsigned cb = 0;
	int c;
	optind = 1;
	while ((c = getopt(argc, argv, ":f:b:F:c:")) != -1) {
		switch (c) {
		case 'f': fmt = optarg; break;
		case 'c':
			if (parse_cluster(optarg, &cb))
				return 2;
			break;
		case 'b': backing = optarg; break;
		case 'F': bfmt = optarg; break;
		case ':': return usage_error("an option needs a value");
		default: return usage_error("unknown option");
		}
	}
	if (check_format(fmt) || (bfmt && check_format(bfmt)))
		return 2;
	int left = argc - optind;
	if (left < 1 || left > 2 || (left == 1 && !backing))
		return usage_error("create needs FILE and SIZE (SIZE optional with -b)");
	const char *path = argv[optind];
	uint64_t size = 0;
	if (left == 2 && parse_size_arg(argv[optind + 1], &size))
		return 2;
	if (backing && strcmp(fmt, "qcow2"))
		return usage_error("a backing file needs -f qcow2");
	if (!strcmp(fmt, "raw"))
		return create_raw(path, size) ? 1 : 0;
	char err[512];
	struct qcow2_create_opts o = { .size = size, .cluster_bits = cb, .backing = backing,
				       .backing_format = bfmt };
	if (qcow2_create(path, &o, err, sizeof(err))) {
		fprintf(stderr, "tern image: %s\n", err);
		return 1;
	}
	return 0;
}

static void print_size(const char *label, uint64_t v)
{
	static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double x = (double)v;
	int u = 0;
	while (x >= 1024 && u < 4) {
		x /= 1024;
		u++;
	}
	printf("%s: %.4g %s (%llu bytes)\n", label, x, unit[u], (unsigned long long)v);
}

/* A backing path is the image's to choose: an untrusted image can name any
 * host file (/etc/shadow) and have it read into the guest. Warn when it
 * leaves the image's folder (docs/BLOCK.md). */
static void warn_outside(const struct blk_dev *b)
{
	char dir[PATH_MAX], real[PATH_MAX];
	const char *slash = strrchr(b->path, '/');
	int n = slash ? (int)(slash - b->path) : 1;
	char top[PATH_MAX];
	snprintf(top, sizeof(top), "%.*s", n ? n : 1, slash ? b->path : ".");
	if (!realpath(top, dir) || !realpath(b->backing->path, real))
		return;
	size_t len = strlen(dir);
	bool inside = !strncmp(real, dir, len) && (real[len] == '/' || !strcmp(dir, "/"));
	bool absolute = b->backing_name && b->backing_name[0] == '/';
	if (!inside)
		fprintf(stderr, "warning: %s names %s backing file '%s' outside its folder (%s): "
			"a qcow2 image can make any host file readable by the guest; open untrusted "
			"images with --disk ...,backing=off (see docs/BLOCK.md)\n", b->path,
			absolute ? "an absolute" : "a", b->backing_name ? b->backing_name : real, dir);
}

static int cmd_info(int argc, char **argv)
{
	if (argc != 2)
		return usage_error("info needs FILE");
	char err[512];
	struct blk_open_opts o = { .readonly = true };
	struct blk_dev *d = blk_open(argv[1], &o, err, sizeof(err));
	if (!d) {
		fprintf(stderr, "tern image: %s\n", err);
		return 1;
	}
	printf("image: %s\n", argv[1]);
	printf("format: %s\n", d->ops->format);
	print_size("virtual size", d->size);
	struct stat st;
	if (!stat(argv[1], &st))
		print_size("allocated size", (uint64_t)st.st_blocks * 512);
	struct qcow2_stats qs;
	if (!qcow2_get_stats(d, &qs)) {
		printf("qcow2 version: %u\n", qs.version);
		printf("cluster size: %llu\n", (unsigned long long)qs.cluster_size);
	}
	printf("backing chain:");
	if (!d->backing)
		printf(" none\n");
	else {
		printf("\n");
		for (struct blk_dev *b = d; b->backing; b = b->backing)
			printf("  %s -> %s (%s, stored as '%s')\n", b->path, b->backing->path,
			       b->backing->ops->format, b->backing_name ? b->backing_name : "?");
		for (struct blk_dev *b = d; b->backing; b = b->backing)
			warn_outside(b);
	}
	blk_close(d);
	return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static int cmd_convert(int argc, char **argv)
{
	const char *fmt = NULL;
	unsigned cb = 0;
	int c;
	optind = 1;
	while ((c = getopt(argc, argv, ":O:c:")) != -1) {
		switch (c) {
		case 'O': fmt = optarg; break;
		case 'c':
			if (parse_cluster(optarg, &cb))
				return 2;
			break;
		case ':': return usage_error("-O needs a format");
		default: return usage_error("unknown option");
		}
	}
	if (!fmt)
		return usage_error("convert needs -O raw|qcow2");
	if (check_format(fmt))
		return 2;
	if (argc - optind != 2)
		return usage_error("convert needs IN and OUT");
	return cli_image_convert_file(argv[optind], argv[optind + 1], fmt, cb) ? 1 : 0;
}

int cli_image_convert_file(const char *in, const char *out, const char *fmt, unsigned cb)
{
	char err[512];
	struct blk_open_opts ro = { .readonly = true };
	struct blk_dev *src = blk_open(in, &ro, err, sizeof(err));
	if (!src) {
		fprintf(stderr, "tern image: %s\n", err);
		return -1;
	}
	int rc = 1;
	struct blk_dev *dst = NULL;
	uint8_t *buf = malloc(COPY_CHUNK);
	if (!buf) {
		fprintf(stderr, "tern image: out of memory\n");
		goto out;
	}
	if (!strcmp(fmt, "raw")) {
		if (create_raw(out, src->size))
			goto out;
	} else {
		struct qcow2_create_opts qo = { .size = src->size, .cluster_bits = cb };
		if (qcow2_create(out, &qo, err, sizeof(err))) {
			fprintf(stderr, "tern image: %s\n", err);
			goto out;
		}
	}
	struct blk_open_opts wo = { .format = fmt };
	if (!(dst = blk_open(out, &wo, err, sizeof(err)))) {
		fprintf(stderr, "tern image: %s\n", err);
		unlink(out);
		goto out;
	}
	for (uint64_t off = 0; off < src->size; off += COPY_CHUNK) {
		size_t n = src->size - off < COPY_CHUNK ? (size_t)(src->size - off) : COPY_CHUNK;
		struct iovec v = { buf, n };
		int r = src->ops->preadv(src, &v, 1, off);
		if (r) {
			fprintf(stderr, "tern image: reading '%s' at %llu: %s\n", in,
				(unsigned long long)off, strerror(-r));
			goto fail_out;
		}
		if (all_zero(buf, n))
			continue;
		/* A qcow2 output is rounded up to 512 bytes: pad the last piece. */
		if (off + n > dst->size)
			n = (size_t)(dst->size - off);
		v.iov_len = n;
		if ((r = dst->ops->pwritev(dst, &v, 1, off))) {
			fprintf(stderr, "tern image: writing '%s' at %llu: %s\n", out,
				(unsigned long long)off, strerror(-r));
			goto fail_out;
		}
	}
	if (dst->ops->flush(dst)) {
		fprintf(stderr, "tern image: cannot flush '%s'\n", out);
		goto fail_out;
	}
	rc = 0;
	goto out;
fail_out:
	blk_close(dst);
	dst = NULL;
	unlink(out);
out:
	blk_close(dst);
	blk_close(src);
	free(buf);
	return rc ? -1 : 0;
}

/* mke2fs from PATH, or from the sbin directories a non-root PATH lacks. */
static int run_mke2fs(const char *dir, const char *file)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char *const args[] = { "mke2fs", "-q", "-F", "-t", "ext4", "-d", (char *)dir,
				       (char *)file, NULL };
		execvp("mke2fs", args);
		execv("/usr/sbin/mke2fs", args);
		execv("/sbin/mke2fs", args);
		fprintf(stderr, "tern image: cannot run mke2fs: %s (install e2fsprogs)\n",
			strerror(errno));
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int cmd_from_dir(int argc, char **argv)
{
	if (argc != 4)
		return usage_error("from-dir needs DIR FILE SIZE");
	const char *dir = argv[1], *file = argv[2];
	uint64_t size;
	struct stat st;
	if (parse_size_arg(argv[3], &size))
		return 2;
	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "tern image: '%s' is not a directory\n", dir);
		return 1;
	}
	if (create_raw(file, size))
		return 1;
	if (run_mke2fs(dir, file)) {
		fprintf(stderr, "tern image: mke2fs failed to build '%s' from '%s' (is SIZE large "
			"enough?)\n", file, dir);
		unlink(file);
		return 1;
	}
	return 0;
}

int cli_image(int argc, char **argv)
{
	if (argc < 2) {
		image_usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		image_usage(stdout);
		return 0;
	}
	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			image_usage(stdout);
			return 0;
		}
	if (!strcmp(cmd, "create"))
		return cmd_create(argc - 1, argv + 1);
	if (!strcmp(cmd, "info"))
		return cmd_info(argc - 1, argv + 1);
	if (!strcmp(cmd, "convert"))
		return cmd_convert(argc - 1, argv + 1);
	if (!strcmp(cmd, "from-dir"))
		return cmd_from_dir(argc - 1, argv + 1);
	if (!strcmp(cmd, "import-rootfs"))
		return cli_image_import(argc - 1, argv + 1);
	if (!strcmp(cmd, "inspect"))
		return cli_image_inspect(argc - 1, argv + 1);
	fprintf(stderr, "tern image: unknown command '%s' (create, info, convert, from-dir, "
		"import-rootfs, inspect)\n", cmd);
	return 2;
}
