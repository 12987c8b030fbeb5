/* Imports a root file system into a new raw ext4 image: the source (a
 * directory, a tar archive read with libarchive, or an ext2/3/4 image read
 * with libext2fs) is copied into a staging folder next to OUT with
 * libarchive's secure disk writer, rewritten for a virtio guest
 * (image/fixup.c), and packed with mke2fs -d. */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "image/extfs.h"
#include "image/fixup.h"
#include "image/import.h"

#define MIB (1ull << 20)
#define MAX_DEPTH 256
#define COPY_BUF (256u << 10)

struct stager {
	struct archive *disk;       /* libarchive's disk writer, into root */
	char root[PATH_MAX];        /* the staging folder */
	const char *src;
	uint64_t entries, bytes;
	int progress;
	time_t last;
	char *err;
	size_t errlen;
};

char *import_clean_path(const char *path)
{
	size_t n = strlen(path);
	char *out = malloc(n + 1), *o = out;
	if (!out)
		return NULL;
	const char *p = path;
	while (*p) {
		while (*p == '/')
			p++;
		size_t len = strcspn(p, "/");
		if (!len)
			break;
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			free(out);
			errno = EINVAL;
			return NULL;
		}
		if (!(len == 1 && p[0] == '.')) {
			if (o != out)
				*o++ = '/';
			memcpy(o, p, len);
			o += len;
		}
		p += len;
	}
	*o = 0;
	if (o == out) {
		free(out);
		errno = ENOENT;         /* the root itself */
		return NULL;
	}
	return out;
}

static void progress(struct stager *s, int force)
{
	time_t now = time(NULL);
	if (!s->progress || (!force && now == s->last))
		return;
	s->last = now;
	fprintf(stderr, "\rimport: %llu entries, %llu MiB%s", (unsigned long long)s->entries,
		(unsigned long long)(s->bytes / MIB), force ? "\n" : "");
}

/* Rewrites e's paths into the staging folder. 1: skip (the root itself). */
static int stage_header(struct stager *s, struct archive_entry *e)
{
	char name[PATH_MAX + 64];
	snprintf(name, sizeof(name), "%s", archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
	char *rel = import_clean_path(name);
	if (!rel && errno == ENOENT)
		return 1;
	if (!rel) {
		snprintf(s->err, s->errlen, "%s: unsafe path '%s' (a '..' component): refused",
			 s->src, name);
		return -EINVAL;
	}
	char full[2 * PATH_MAX];
	snprintf(full, sizeof(full), "%s/%s", s->root, rel);
	free(rel);
	archive_entry_copy_pathname(e, full);
	const char *hl = archive_entry_hardlink(e);
	if (hl) {
		char *hrel = import_clean_path(hl);
		if (!hrel) {
			snprintf(s->err, s->errlen, "%s: entry '%s': unsafe hard link target '%s': refused",
				 s->src, name, hl);
			return -EINVAL;
		}
		snprintf(full, sizeof(full), "%s/%s", s->root, hrel);
		free(hrel);
		archive_entry_copy_hardlink(e, full);
	}
	int r = archive_write_header(s->disk, e);
	mode_t type = archive_entry_filetype(e);
	if (r == ARCHIVE_FAILED && (type == AE_IFCHR || type == AE_IFBLK) && geteuid()) {
		/* mknod needs root: the rest of the tree still makes a disk. */
		fprintf(stderr, "import: warning: device node '%s' skipped (%s)\n", name,
			archive_error_string(s->disk));
		return 1;
	}
	if (r < ARCHIVE_WARN) {
		snprintf(s->err, s->errlen, "%s: entry '%s': %s", s->src, name,
			 archive_error_string(s->disk));
		return -EIO;
	}
	s->entries++;
	if (archive_entry_filetype(e) == AE_IFREG && !hl)
		s->bytes += (uint64_t)archive_entry_size(e);
	progress(s, 0);
	return 0;
}

static int stage_finish(struct stager *s, const char *name)
{
	if (archive_write_finish_entry(s->disk) < ARCHIVE_WARN) {
		snprintf(s->err, s->errlen, "%s: entry '%s': %s", s->src, name,
			 archive_error_string(s->disk));
		return -EIO;
	}
	return 0;
}

/* Entries and data from a libarchive reader (tar, or a directory). */
static int copy_data(struct stager *s, struct archive *in, const char *name)
{
	const void *buf;
	size_t size;
	la_int64_t off;
	int r;
	while ((r = archive_read_data_block(in, &buf, &size, &off)) == ARCHIVE_OK)
		if (archive_write_data_block(s->disk, buf, size, off) < ARCHIVE_OK) {
			snprintf(s->err, s->errlen, "%s: entry '%s': %s", s->src, name,
				 archive_error_string(s->disk));
			return -EIO;
		}
	if (r != ARCHIVE_EOF) {
		snprintf(s->err, s->errlen, "%s: entry '%s': %s (truncated or corrupt?)", s->src, name,
			 archive_error_string(in));
		return -EIO;
	}
	return 0;
}

static int from_tar(struct stager *s)
{
	struct archive *in = archive_read_new();
	if (!in)
		return -ENOMEM;
	archive_read_support_filter_all(in);
	archive_read_support_format_tar(in);
	archive_read_support_format_gnutar(in);
	archive_read_support_format_cpio(in);
	int r = 0;
	if (archive_read_open_filename(in, s->src, 1 << 16) != ARCHIVE_OK) {
		snprintf(s->err, s->errlen, "%s: %s", s->src, archive_error_string(in));
		archive_read_free(in);
		return -EINVAL;
	}
	struct archive_entry *e;
	int ar;
	char name[PATH_MAX];
	while ((ar = archive_read_next_header(in, &e)) == ARCHIVE_OK || ar == ARCHIVE_WARN) {
		snprintf(name, sizeof(name), "%s", archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
		int h = stage_header(s, e);
		if (h < 0) {
			r = h;
			break;
		}
		if (h == 1)
			continue;
		if (archive_entry_size(e) > 0 && (r = copy_data(s, in, name)))
			break;
		if ((r = stage_finish(s, name)))
			break;
	}
	if (!r && ar != ARCHIVE_EOF) {
		snprintf(s->err, s->errlen, "%s: %s (after %llu entries; truncated or not a tar archive?)",
			 s->src, archive_error_string(in), (unsigned long long)s->entries);
		r = -EINVAL;
	}
	archive_read_free(in);
	return r;
}

static int from_dir(struct stager *s, const char *out)
{
	struct archive *in = archive_read_disk_new();
	struct archive_entry_linkresolver *lr = archive_entry_linkresolver_new();
	char src[PATH_MAX];
	int r = 0;
	if (!in || !lr || !realpath(s->src, src)) {
		r = in && lr ? -errno : -ENOMEM;
		snprintf(s->err, s->errlen, "%s: %s", s->src, strerror(-r));
		goto out;
	}
	archive_entry_linkresolver_set_strategy(lr, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
	archive_read_disk_set_standard_lookup(in);
	archive_read_disk_set_symlink_physical(in);
	archive_read_disk_set_behavior(in, ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS);
	if (archive_read_disk_open(in, src) != ARCHIVE_OK) {
		snprintf(s->err, s->errlen, "%s: %s", s->src, archive_error_string(in));
		r = -EIO;
		goto out;
	}
	size_t sl = strlen(src);
	for (;;) {
		struct archive_entry *e = archive_entry_new(), *spare = NULL;
		if (!e) {
			r = -ENOMEM;
			break;
		}
		int ar = archive_read_next_header2(in, e);
		if (ar == ARCHIVE_EOF) {
			archive_entry_free(e);
			break;
		}
		if (ar < ARCHIVE_WARN) {
			snprintf(s->err, s->errlen, "%s: %s", s->src, archive_error_string(in));
			archive_entry_free(e);
			r = -EIO;
			break;
		}
		char name[PATH_MAX];
		const char *p = archive_entry_pathname(e);
		snprintf(name, sizeof(name), "%s", p && !strncmp(p, src, sl) ? p + sl : p ? p : "");
		/* The staging folder or OUT may sit inside SRC: never copy them. */
		if (p && (!strcmp(p, s->root) || !strcmp(p, out))) {
			archive_entry_free(e);
			continue;
		}
		archive_read_disk_descend(in);
		archive_entry_copy_pathname(e, name);
		archive_entry_linkify(lr, &e, &spare);
		int h = e ? stage_header(s, e) : 1;
		if (h == 0 && archive_entry_size(e) > 0 && !archive_entry_hardlink(e))
			h = copy_data(s, in, name);
		if (h == 0)
			h = stage_finish(s, name);
		archive_entry_free(e);
		archive_entry_free(spare);
		if (h < 0) {
			r = h;
			break;
		}
	}
out:
	if (lr)
		archive_entry_linkresolver_free(lr);
	if (in)
		archive_read_free(in);
	return r;
}

/* ---- ext2/3/4 images, through libext2fs ------------------------------------ */
struct ext_link { ext2_ino_t ino; char *path; };

struct ext_walk {
	struct stager *s;
	struct extfs *x;
	struct ext_link *links;     /* inodes with several names: first path seen */
	size_t n_links;
	char path[PATH_MAX];
	int depth;
};

static int add_xattr(char *name, char *value, size_t len, void *priv)
{
	if (strcmp(name, "system.data"))        /* inline data, not an attribute */
		archive_entry_xattr_add_entry(priv, name, value, len);
	return 0;
}

static int ext_data(struct ext_walk *w, ext2_ino_t ino, struct ext2_inode *in, const char *name)
{
	ext2_file_t f;
	uint64_t left = EXT2_I_SIZE(in);
	char *buf = malloc(COPY_BUF);
	if (!buf)
		return -ENOMEM;
	if (ext2fs_file_open2(w->x->fs, ino, in, 0, &f)) {
		free(buf);
		snprintf(w->s->err, w->s->errlen, "%s: cannot read '%s'", w->s->src, name);
		return -EIO;
	}
	int r = 0;
	while (left) {
		unsigned int n = 0;
		unsigned int want = left < COPY_BUF ? (unsigned)left : COPY_BUF;
		if (ext2fs_file_read(f, buf, want, &n) || !n) {
			snprintf(w->s->err, w->s->errlen, "%s: '%s' is shorter than its size", w->s->src,
				 name);
			r = -EIO;
			break;
		}
		if (archive_write_data(w->s->disk, buf, n) < 0) {
			snprintf(w->s->err, w->s->errlen, "%s: '%s': %s", w->s->src, name,
				 archive_error_string(w->s->disk));
			r = -EIO;
			break;
		}
		left -= n;
	}
	ext2fs_file_close(f);
	free(buf);
	return r;
}

static int ext_one(const char *name, ext2_ino_t ino, int ftype, void *priv);

static int ext_entry(struct ext_walk *w, const char *name, ext2_ino_t ino)
{
	struct ext2_inode in;
	struct stager *s = w->s;
	if (ext2fs_read_inode(w->x->fs, ino, &in)) {
		snprintf(s->err, s->errlen, "%s: cannot read the inode of '%s'", s->src, w->path);
		return -EIO;
	}
	struct archive_entry *e = archive_entry_new();
	if (!e)
		return -ENOMEM;
	archive_entry_copy_pathname(e, w->path);
	archive_entry_set_mode(e, in.i_mode);
	archive_entry_set_uid(e, inode_uid(in));
	archive_entry_set_gid(e, inode_gid(in));
	archive_entry_set_mtime(e, (int32_t)in.i_mtime, 0);
	archive_entry_set_atime(e, (int32_t)in.i_atime, 0);
	archive_entry_set_ctime(e, (int32_t)in.i_ctime, 0);
	int r = 0, data = 0;
	if (LINUX_S_ISREG(in.i_mode)) {
		archive_entry_set_size(e, (la_int64_t)EXT2_I_SIZE(&in));
		data = EXT2_I_SIZE(&in) > 0;
	}
	if (!LINUX_S_ISDIR(in.i_mode) && in.i_links_count > 1) {
		for (size_t i = 0; i < w->n_links; i++)
			if (w->links[i].ino == ino) {
				archive_entry_copy_hardlink(e, w->links[i].path);
				archive_entry_set_size(e, 0);
				data = 0;
				break;
			}
		if (!archive_entry_hardlink(e)) {
			struct ext_link *l = realloc(w->links, (w->n_links + 1) * sizeof(*l));
			if (!l || !(l[w->n_links].path = strdup(w->path))) {
				w->links = l ? l : w->links;
				archive_entry_free(e);
				return -ENOMEM;
			}
			l[w->n_links++].ino = ino;
			w->links = l;
		}
	}
	if (LINUX_S_ISLNK(in.i_mode)) {
		char target[PATH_MAX];
		if (extfs_readlink(w->x, ino, target, sizeof(target))) {
			snprintf(s->err, s->errlen, "%s: cannot read the symlink '%s'", s->src, w->path);
			archive_entry_free(e);
			return -EIO;
		}
		archive_entry_copy_symlink(e, target);
	} else if (LINUX_S_ISCHR(in.i_mode) || LINUX_S_ISBLK(in.i_mode)) {
		/* Old encoding in i_block[0], new (huge numbers) in i_block[1]. */
		unsigned maj, min;
		if (in.i_block[0]) {
			maj = (in.i_block[0] >> 8) & 0xff;
			min = in.i_block[0] & 0xff;
		} else {
			maj = (in.i_block[1] & 0xfff00) >> 8;
			min = (in.i_block[1] & 0xff) | ((in.i_block[1] >> 12) & 0xfff00);
		}
		archive_entry_set_rdev(e, makedev(maj, min));
	}
	struct ext2_xattr_handle *xh;
	if (!ext2fs_xattrs_open(w->x->fs, ino, &xh)) {
		if (!ext2fs_xattrs_read(xh))
			ext2fs_xattrs_iterate(xh, add_xattr, e);
		ext2fs_xattrs_close(&xh);
	}
	int h = stage_header(s, e);
	if (h < 0)
		r = h;
	else if (data)
		r = ext_data(w, ino, &in, w->path);
	if (!r && h == 0)
		r = stage_finish(s, w->path);
	archive_entry_free(e);
	if (!r && LINUX_S_ISDIR(in.i_mode)) {
		if (w->depth >= MAX_DEPTH) {
			snprintf(s->err, s->errlen, "%s: directories nested too deep at '%s'", s->src,
				 w->path);
			return -ELOOP;
		}
		w->depth++;
		r = extfs_list(w->x, ino, ext_one, w);
		w->depth--;
	}
	return r;
}

static int ext_one(const char *name, ext2_ino_t ino, int ftype, void *priv)
{
	struct ext_walk *w = priv;
	if (w->depth == 0 && !strcmp(name, "lost+found"))
		return 0;               /* mke2fs makes its own */
	size_t len = strlen(w->path);
	if (len + strlen(name) + 2 >= sizeof(w->path)) {
		snprintf(w->s->err, w->s->errlen, "%s: path too long below '%s'", w->s->src, w->path);
		return -ENAMETOOLONG;
	}
	snprintf(w->path + len, sizeof(w->path) - len, "/%s", name);
	int r = ext_entry(w, name, ino);
	w->path[len] = 0;
	return r;
}

static int from_ext(struct stager *s)
{
	struct ext_walk w = { .s = s };
	w.x = extfs_open(s->src, s->err, s->errlen);
	if (!w.x)
		return -EINVAL;
	int r = extfs_list(w.x, EXT2_ROOT_INO, ext_one, &w);
	if (r && !s->err[0])
		snprintf(s->err, s->errlen, "%s: reading the file system: %s", s->src, strerror(-r));
	for (size_t i = 0; i < w.n_links; i++)
		free(w.links[i].path);
	free(w.links);
	extfs_close(w.x);
	return r;
}

/* ---- the whole import ------------------------------------------------------- */
const char *import_source_kind(const char *src, char *err, size_t errlen)
{
	struct stat st;
	if (stat(src, &st)) {
		snprintf(err, errlen, "%s: %s", src, strerror(errno));
		return NULL;
	}
	if (S_ISDIR(st.st_mode))
		return "directory";
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		snprintf(err, errlen, "%s: not a directory, archive or image", src);
		return NULL;
	}
	if (extfs_probe(src))
		return "ext image";
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	if (!a) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	archive_read_support_format_cpio(a);
	const char *kind = NULL;
	int r = archive_read_open_filename(a, src, 1 << 16);
	if (r == ARCHIVE_OK)
		r = archive_read_next_header(a, &e);
	if (r == ARCHIVE_OK || r == ARCHIVE_WARN)
		kind = "tar archive";
	else
		snprintf(err, errlen, "%s: not a directory, a tar archive or an ext2/3/4 image (%s)",
			 src, archive_error_string(a) ? archive_error_string(a) : "unknown format");
	archive_read_free(a);
	return kind;
}

static int unlock_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	if (flag == FTW_D)
		chmod(path, 0700);      /* a read-only folder could not be emptied */
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	remove(path);
	return 0;
}

static void remove_tree(const char *root)
{
	nftw(root, unlock_one, 32, FTW_PHYS);
	nftw(root, remove_one, 32, FTW_PHYS | FTW_DEPTH);
}

static int run_mke2fs(const char *stage, const char *out)
{
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		char *const args[] = { "mke2fs", "-q", "-F", "-t", "ext4", "-L", "rootfs", "-E",
				       "root_owner=0:0", "-d", (char *)stage, (char *)out, NULL };
		execvp("mke2fs", args);
		execv("/usr/sbin/mke2fs", args);
		execv("/sbin/mke2fs", args);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return -ENOENT;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

static uint64_t pick_size(const struct stager *s)
{
	uint64_t need = s->bytes + s->entries * 4096;
	uint64_t size = need + need / 4 + 256 * MIB;
	if (size < 1024 * MIB)
		size = 1024 * MIB;
	return (size + MIB - 1) / MIB * MIB;
}

int import_rootfs(const struct import_opts *o, struct inventory *log, struct import_stats *st,
		  char *err, size_t errlen)
{
	struct stager s = { .src = o->src, .progress = o->progress, .err = err, .errlen = errlen };
	err[0] = 0;
	const char *kind = import_source_kind(o->src, err, errlen);
	if (!kind)
		return -EINVAL;
	st->kind = kind;
	/* OUT first (O_EXCL): the staging folder goes beside it. */
	int fd = open(o->out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", o->out, strerror(errno));
		return -errno;
	}
	close(fd);
	char out[PATH_MAX], dir[PATH_MAX];
	int r = 0;
	if (!realpath(o->out, out)) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", o->out, strerror(errno));
		unlink(o->out);
		return r;
	}
	snprintf(dir, sizeof(dir), "%s", out);
	snprintf(s.root, sizeof(s.root), "%s/.%s.stage-XXXXXX", dirname(dir), basename(out));
	if (!mkdtemp(s.root) || chmod(s.root, 0755)) {
		r = -errno;
		snprintf(err, errlen, "%s: cannot make a staging folder: %s", s.root, strerror(errno));
		unlink(out);
		return r;
	}
	s.disk = archive_write_disk_new();
	if (!s.disk) {
		r = -ENOMEM;
		goto done;
	}
	/* Owners, modes, times, xattrs and ACLs; never through a symlink or
	 * "..". File flags (immutable...) are left out: they would pin the
	 * staging folder. */
	archive_write_disk_set_options(s.disk, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM |
				       ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR |
				       ARCHIVE_EXTRACT_ACL | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
				       ARCHIVE_EXTRACT_SECURE_NODOTDOT);
	archive_write_disk_set_standard_lookup(s.disk);
	fprintf(stderr, "import: reading %s (%s)\n", o->src, kind);
	if (!strcmp(kind, "directory"))
		r = from_dir(&s, out);
	else if (!strcmp(kind, "tar archive"))
		r = from_tar(&s);
	else
		r = from_ext(&s);
	if (archive_write_close(s.disk) < ARCHIVE_WARN && !r) {
		snprintf(err, errlen, "%s: finishing the copy: %s", o->src, archive_error_string(s.disk));
		r = -EIO;
	}
	progress(&s, 1);
	if (r)
		goto done;
	if (!s.entries) {
		snprintf(err, errlen, "%s: no files in it", o->src);
		r = -EINVAL;
		goto done;
	}
	fprintf(stderr, "import: rewriting for a virtio guest (fstab, consoles)\n");
	if ((r = fixup_rootfs(s.root, log, err, errlen)))
		goto done;
	st->entries = s.entries;
	st->bytes = s.bytes;
	st->size = o->size ? o->size : pick_size(&s);
	fprintf(stderr, "import: writing the ext4 file system (%llu MiB)\n",
		(unsigned long long)(st->size / MIB));
	if (truncate(out, (off_t)st->size)) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", out, strerror(errno));
		goto done;
	}
	r = run_mke2fs(s.root, out);
	if (r == -ENOENT)
		snprintf(err, errlen, "cannot run mke2fs (install e2fsprogs)");
	else if (r)
		snprintf(err, errlen, "%s: mke2fs could not write %llu MiB in %llu entries into %llu MiB%s",
			 out, (unsigned long long)(s.bytes / MIB), (unsigned long long)s.entries,
			 (unsigned long long)(st->size / MIB), o->size ? "; give a larger --size" : "");
done:
	if (s.disk)
		archive_write_free(s.disk);
	remove_tree(s.root);
	if (r)
		unlink(out);
	return r;
}
