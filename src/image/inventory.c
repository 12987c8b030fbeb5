/* The inventory of a root file system image: gathered from the image through
 * libext2fs (image/extfs.c), printed as text or XML (libxml2's writer). */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/xmlwriter.h>
#include "block/block.h"
#include "block/formats.h"
#include "image/extfs.h"
#include "image/inventory.h"

#define MAX_TEXT_FILE (64u << 20)   /* dpkg status of a large system is ~10 MiB */

static int push(void **arr, size_t *n, size_t elem)
{
	void *p = realloc(*arr, (*n + 1) * elem);
	if (!p)
		return -ENOMEM;
	memset((char *)p + *n * elem, 0, elem);
	*arr = p;
	(*n)++;
	return 0;
}

static int push_str(char ***arr, size_t *n, const char *s)
{
	char *d = strdup(s);
	if (!d || push((void **)arr, n, sizeof(char *))) {
		free(d);
		return -ENOMEM;
	}
	(*arr)[*n - 1] = d;
	return 0;
}

int inventory_add_change(struct inventory *inv, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return push_str(&inv->changes, &inv->n_changes, buf);
}

/* The value of field NAME in one dpkg stanza [s, end), or NULL. */
static char *stanza_field(const char *s, const char *end, const char *name)
{
	size_t nl = strlen(name);
	for (const char *l = s; l && l < end; ) {
		const char *eol = memchr(l, '\n', (size_t)(end - l));
		if (!eol)
			eol = end;
		if ((size_t)(eol - l) > nl && !strncasecmp(l, name, nl) && l[nl] == ':') {
			const char *v = l + nl + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			const char *ve = eol;
			while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r'))
				ve--;
			return strndup(v, (size_t)(ve - v));
		}
		l = eol + 1;
	}
	return NULL;
}

int inventory_parse_dpkg(struct inventory *inv, const char *status)
{
	const char *s = status;
	while (*s) {
		const char *end = strstr(s, "\n\n");
		end = end ? end + 1 : s + strlen(s);
		char *name = stanza_field(s, end, "Package");
		char *st = stanza_field(s, end, "Status");
		int installed = st && strlen(st) >= 10 && !strcmp(st + strlen(st) - 10, " installed");
		if (name && installed) {
			if (push((void **)&inv->packages, &inv->n_packages, sizeof(*inv->packages))) {
				free(name);
				free(st);
				return -ENOMEM;
			}
			struct inv_package *p = &inv->packages[inv->n_packages - 1];
			p->name = name;
			p->version = stanza_field(s, end, "Version");
			p->arch = stanza_field(s, end, "Architecture");
			name = NULL;
		}
		free(name);
		free(st);
		s = end;
		while (*s == '\n')
			s++;
	}
	return 0;
}

int inventory_parse_fstab(struct inventory *inv, const char *fstab)
{
	inv->has_fstab = 1;
	const char *l = fstab;
	while (*l) {
		const char *eol = strchr(l, '\n');
		size_t n = eol ? (size_t)(eol - l) : strlen(l);
		char *line = strndup(l, n);
		if (!line)
			return -ENOMEM;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = 0;
		char *save, *f[6] = { 0 };
		int k = 0;
		for (char *t = strtok_r(line, " \t\r", &save); t && k < 6; t = strtok_r(NULL, " \t\r", &save))
			f[k++] = t;
		if (k >= 2) {
			if (push((void **)&inv->fstab, &inv->n_fstab, sizeof(*inv->fstab))) {
				free(line);
				return -ENOMEM;
			}
			struct inv_fstab *e = &inv->fstab[inv->n_fstab - 1];
			e->spec = strdup(f[0]);
			e->file = strdup(f[1]);
			e->type = strdup(f[2] ? f[2] : "auto");
			e->options = strdup(f[3] ? f[3] : "defaults");
			e->dump = f[4] ? atoi(f[4]) : 0;
			e->pass = f[5] ? atoi(f[5]) : 0;
		}
		free(line);
		l += n;
		if (*l)
			l++;
	}
	return 0;
}

struct gather {
	struct inventory *inv;
	struct extfs *x;
	const char *dir;
	int rc;
};

static int folder_one(const char *name, ext2_ino_t ino, int ftype, void *priv)
{
	struct gather *g = priv;
	struct inventory *inv = g->inv;
	if (ftype != EXT2_FT_DIR)
		return 0;
	if (push((void **)&inv->folders, &inv->n_folders, sizeof(*inv->folders)))
		return -ENOMEM;
	struct inv_folder *f = &inv->folders[inv->n_folders - 1];
	if (!(f->name = strdup(name)))
		return -ENOMEM;
	return extfs_tree_usage(g->x, ino, &f->bytes, &f->entries) == -ENOMEM ? -ENOMEM : 0;
}

static int kernel_one(const char *name, ext2_ino_t ino, int ftype, void *priv)
{
	struct gather *g = priv;
	static const char *const pfx[] = { "vmlinuz", "vmlinux", "Image", "bzImage", "kernel-",
					   "uImage", "zImage" };
	for (size_t i = 0; i < sizeof(pfx) / sizeof(pfx[0]); i++)
		if (!strncmp(name, pfx[i], strlen(pfx[i])) && ftype != EXT2_FT_DIR) {
			char p[4200];
			snprintf(p, sizeof(p), "%s/%s", g->dir, name);
			return push_str(&g->inv->kernels, &g->inv->n_kernels, p);
		}
	return 0;
}

static int module_one(const char *name, ext2_ino_t ino, int ftype, void *priv)
{
	struct gather *g = priv;
	if (ftype != EXT2_FT_DIR)
		return 0;
	char p[4200];
	snprintf(p, sizeof(p), "%s/%s", g->dir, name);
	return push_str(&g->inv->modules, &g->inv->n_modules, p);
}

static int sort_folders(const void *a, const void *b)
{
	return strcmp(((const struct inv_folder *)a)->name, ((const struct inv_folder *)b)->name);
}

static int sort_strs(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* os-release's PRETTY_NAME, unquoted. */
static char *os_name(struct extfs *x)
{
	char *d;
	size_t n;
	if (extfs_read_file(x, "/etc/os-release", 1 << 16, &d, &n) &&
	    extfs_read_file(x, "/usr/lib/os-release", 1 << 16, &d, &n))
		return NULL;
	char *r = NULL, *p = strstr(d, "PRETTY_NAME=");
	if (p && (p == d || p[-1] == '\n')) {
		p += 12;
		size_t len = strcspn(p, "\n");
		if (len >= 2 && (p[0] == '"' || p[0] == '\'') && p[len - 1] == p[0]) {
			p++;
			len -= 2;
		}
		r = strndup(p, len);
	}
	free(d);
	return r;
}

/* The init system: from /sbin/init (a symlink's target names it), else /init. */
static int find_init(struct inventory *inv, struct extfs *x)
{
	static const char *const paths[] = { "/sbin/init", "/usr/sbin/init", "/init" };
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		ext2_ino_t ino;
		struct ext2_inode in;
		if (extfs_lookup(x, paths[i], 0, &ino) || ext2fs_read_inode(x->fs, ino, &in))
			continue;
		char target[4096] = "";
		if (LINUX_S_ISLNK(in.i_mode) && extfs_readlink(x, ino, target, sizeof(target)))
			continue;
		const char *sys = "unknown";
		if (strstr(target, "systemd"))
			sys = "systemd";
		else if (strstr(target, "busybox"))
			sys = "busybox";
		else if (strstr(target, "openrc"))
			sys = "openrc";
		else if (strstr(target, "upstart"))
			sys = "upstart";
		else if (!target[0] && !strcmp(paths[i], "/init"))
			sys = "script";
		else if (!target[0])
			sys = extfs_lookup(x, "/usr/share/doc/sysvinit-core", 1, &ino) ? "unknown"
										 : "sysvinit";
		inv->init_system = strdup(sys);
		inv->init_path = strdup(paths[i]);
		inv->init_target = target[0] ? strdup(target) : NULL;
		return 0;
	}
	inv->init_system = strdup("none");
	return 0;
}

static void list_dir_of(struct gather *g, const char *path,
			int (*fn)(const char *, ext2_ino_t, int, void *))
{
	ext2_ino_t ino;
	if (extfs_lookup(g->x, path, 1, &ino))
		return;
	g->dir = path;
	extfs_list(g->x, ino, fn, g);
}

int inventory_from_image(const char *path, struct inventory **out, char *err, size_t errlen)
{
	struct extfs *x = extfs_open(path, err, errlen);
	if (!x)
		return -EINVAL;
	struct inventory *inv = calloc(1, sizeof(*inv));
	if (!inv) {
		extfs_close(x);
		return -ENOMEM;
	}
	int r = -ENOMEM;
	char berr[128];
	const char *fmt = blk_probe(path, berr, sizeof(berr));
	struct ext2_super_block *sb = x->fs->super;
	inv->image = strdup(path);
	inv->format = strdup(fmt ? fmt : "raw");
	inv->fs_type = strdup(ext2fs_has_feature_extents(sb) || ext2fs_has_feature_flex_bg(sb) ? "ext4" :
			      ext2fs_has_feature_journal(sb) ? "ext3" : "ext2");
	inv->fs_bytes = ext2fs_blocks_count(sb) * (uint64_t)EXT2_BLOCK_SIZE(sb);
	inv->os = os_name(x);
	struct gather g = { .inv = inv, .x = x };
	if (!inv->image || !inv->format || !inv->fs_type)
		goto fail;
	if ((r = extfs_list(x, EXT2_ROOT_INO, folder_one, &g)))
		goto fail;
	qsort(inv->folders, inv->n_folders, sizeof(*inv->folders), sort_folders);
	char *d;
	size_t n;
	if (!extfs_read_file(x, "/var/lib/dpkg/status", MAX_TEXT_FILE, &d, &n)) {
		r = inventory_parse_dpkg(inv, d);
		free(d);
		if (r)
			goto fail;
	}
	if (!extfs_read_file(x, "/etc/fstab", 1 << 20, &d, &n)) {
		r = inventory_parse_fstab(inv, d);
		free(d);
		if (r)
			goto fail;
	}
	list_dir_of(&g, "/boot", kernel_one);
	list_dir_of(&g, "/", kernel_one);
	ext2_ino_t a = 0, b = 0;
	extfs_lookup(x, "/usr/lib/modules", 1, &a);
	extfs_lookup(x, "/lib/modules", 1, &b);
	if (a)
		list_dir_of(&g, "/usr/lib/modules", module_one);
	if (b && b != a)
		list_dir_of(&g, "/lib/modules", module_one);
	g.dir = NULL;
	qsort(inv->kernels, inv->n_kernels, sizeof(char *), sort_strs);
	qsort(inv->modules, inv->n_modules, sizeof(char *), sort_strs);
	if ((r = find_init(inv, x)))
		goto fail;
	extfs_close(x);
	*out = inv;
	return 0;
fail:
	snprintf(err, errlen, "%s: reading the inventory: %s", path, strerror(-r));
	extfs_close(x);
	inventory_free(inv);
	return r;
}

static void free_strs(char **s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(s[i]);
	free(s);
}

void inventory_free(struct inventory *inv)
{
	if (!inv)
		return;
	free(inv->image);
	free(inv->format);
	free(inv->fs_type);
	free(inv->os);
	free(inv->init_system);
	free(inv->init_path);
	free(inv->init_target);
	for (size_t i = 0; i < inv->n_folders; i++)
		free(inv->folders[i].name);
	free(inv->folders);
	for (size_t i = 0; i < inv->n_packages; i++) {
		free(inv->packages[i].name);
		free(inv->packages[i].version);
		free(inv->packages[i].arch);
	}
	free(inv->packages);
	for (size_t i = 0; i < inv->n_fstab; i++) {
		free(inv->fstab[i].spec);
		free(inv->fstab[i].file);
		free(inv->fstab[i].type);
		free(inv->fstab[i].options);
	}
	free(inv->fstab);
	free_strs(inv->kernels, inv->n_kernels);
	free_strs(inv->modules, inv->n_modules);
	free_strs(inv->changes, inv->n_changes);
	free(inv);
}

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

void inventory_print(const struct inventory *inv, FILE *f)
{
	fprintf(f, "image: %s (%s, %s, %llu bytes)\n", inv->image, inv->format, inv->fs_type,
		(unsigned long long)inv->fs_bytes);
	fprintf(f, "os: %s\n", or_dash(inv->os));
	fprintf(f, "init: %s", or_dash(inv->init_system));
	if (inv->init_path)
		fprintf(f, " (%s%s%s)", inv->init_path, inv->init_target ? " -> " : "",
			inv->init_target ? inv->init_target : "");
	fprintf(f, "\nfolders:\n");
	for (size_t i = 0; i < inv->n_folders; i++)
		fprintf(f, "  /%-16s %12llu bytes %8llu entries\n", inv->folders[i].name,
			(unsigned long long)inv->folders[i].bytes,
			(unsigned long long)inv->folders[i].entries);
	fprintf(f, "fstab:%s\n", inv->has_fstab ? (inv->n_fstab ? "" : " (empty)") : " (none)");
	for (size_t i = 0; i < inv->n_fstab; i++) {
		const struct inv_fstab *e = &inv->fstab[i];
		fprintf(f, "  %s %s %s %s %d %d\n", e->spec, e->file, e->type, e->options, e->dump,
			e->pass);
	}
	fprintf(f, "kernels:%s\n", inv->n_kernels ? "" : " none");
	for (size_t i = 0; i < inv->n_kernels; i++)
		fprintf(f, "  %s\n", inv->kernels[i]);
	fprintf(f, "module folders:%s\n", inv->n_modules ? "" : " none");
	for (size_t i = 0; i < inv->n_modules; i++)
		fprintf(f, "  %s\n", inv->modules[i]);
	if (inv->n_changes) {
		fprintf(f, "import changes:\n");
		for (size_t i = 0; i < inv->n_changes; i++)
			fprintf(f, "  %s\n", inv->changes[i]);
	}
	fprintf(f, "packages: %zu\n", inv->n_packages);
	for (size_t i = 0; i < inv->n_packages; i++)
		fprintf(f, "  %-40s %-32s %s\n", inv->packages[i].name, or_dash(inv->packages[i].version),
			or_dash(inv->packages[i].arch));
}

#define X(call) do { if ((call) < 0) goto fail; } while (0)

static int attr_u64(xmlTextWriterPtr w, const char *name, uint64_t v)
{
	return xmlTextWriterWriteFormatAttribute(w, BAD_CAST name, "%llu", (unsigned long long)v);
}

static int attr(xmlTextWriterPtr w, const char *name, const char *v)
{
	return v ? xmlTextWriterWriteAttribute(w, BAD_CAST name, BAD_CAST v) : 0;
}

static int list_xml(xmlTextWriterPtr w, const char *outer, const char *inner, const char *key,
		    char **v, size_t n)
{
	if (xmlTextWriterStartElement(w, BAD_CAST outer) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (xmlTextWriterStartElement(w, BAD_CAST inner) < 0 || attr(w, key, v[i]) < 0 ||
		    xmlTextWriterEndElement(w) < 0)
			return -1;
	return xmlTextWriterEndElement(w);
}

int inventory_write_xml(const struct inventory *inv, const char *path)
{
	xmlTextWriterPtr w = xmlNewTextWriterFilename(path, 0);
	if (!w)
		return -EIO;
	xmlTextWriterSetIndent(w, 1);
	xmlTextWriterSetIndentString(w, BAD_CAST "  ");
	X(xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL));
	X(xmlTextWriterWriteDTD(w, BAD_CAST "inventory", NULL, BAD_CAST "tern-inventory.dtd", NULL));
	X(xmlTextWriterStartElement(w, BAD_CAST "inventory"));
	X(attr(w, "image", inv->image));
	X(attr(w, "format", inv->format));
	X(attr(w, "filesystem", inv->fs_type));
	X(attr_u64(w, "bytes", inv->fs_bytes));
	if (inv->os) {
		X(xmlTextWriterStartElement(w, BAD_CAST "os"));
		X(attr(w, "name", inv->os));
		X(xmlTextWriterEndElement(w));
	}
	X(xmlTextWriterStartElement(w, BAD_CAST "init"));
	X(attr(w, "system", inv->init_system ? inv->init_system : "none"));
	X(attr(w, "path", inv->init_path));
	X(attr(w, "target", inv->init_target));
	X(xmlTextWriterEndElement(w));
	X(xmlTextWriterStartElement(w, BAD_CAST "folders"));
	for (size_t i = 0; i < inv->n_folders; i++) {
		X(xmlTextWriterStartElement(w, BAD_CAST "folder"));
		X(attr(w, "name", inv->folders[i].name));
		X(attr_u64(w, "bytes", inv->folders[i].bytes));
		X(attr_u64(w, "entries", inv->folders[i].entries));
		X(xmlTextWriterEndElement(w));
	}
	X(xmlTextWriterEndElement(w));
	X(xmlTextWriterStartElement(w, BAD_CAST "fstab"));
	X(attr(w, "present", inv->has_fstab ? "yes" : "no"));
	for (size_t i = 0; i < inv->n_fstab; i++) {
		const struct inv_fstab *e = &inv->fstab[i];
		X(xmlTextWriterStartElement(w, BAD_CAST "entry"));
		X(attr(w, "spec", e->spec));
		X(attr(w, "file", e->file));
		X(attr(w, "type", e->type));
		X(attr(w, "options", e->options));
		X(attr_u64(w, "dump", (uint64_t)e->dump));
		X(attr_u64(w, "pass", (uint64_t)e->pass));
		X(xmlTextWriterEndElement(w));
	}
	X(xmlTextWriterEndElement(w));
	X(list_xml(w, "kernels", "kernel", "path", inv->kernels, inv->n_kernels));
	X(list_xml(w, "modules", "folder", "path", inv->modules, inv->n_modules));
	X(xmlTextWriterStartElement(w, BAD_CAST "packages"));
	X(attr_u64(w, "count", inv->n_packages));
	for (size_t i = 0; i < inv->n_packages; i++) {
		X(xmlTextWriterStartElement(w, BAD_CAST "package"));
		X(attr(w, "name", inv->packages[i].name));
		X(attr(w, "version", inv->packages[i].version));
		X(attr(w, "architecture", inv->packages[i].arch));
		X(xmlTextWriterEndElement(w));
	}
	X(xmlTextWriterEndElement(w));
	if (inv->n_changes) {
		X(xmlTextWriterStartElement(w, BAD_CAST "changes"));
		for (size_t i = 0; i < inv->n_changes; i++)
			X(xmlTextWriterWriteElement(w, BAD_CAST "change", BAD_CAST inv->changes[i]));
		X(xmlTextWriterEndElement(w));
	}
	X(xmlTextWriterEndDocument(w));
	xmlFreeTextWriter(w);
	return 0;
fail:
	xmlFreeTextWriter(w);
	return -EIO;
}
