/* Trace loading: every regular file of a folder or an archive is one VM, in
 * file-name order; every line one utilization percentage (0..100). */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "consolidate/trace.h"

#define MAX_FILE (16u << 20)
#define MAX_VMS 1000000u

struct entry { char *name; double *vals; unsigned n; };

int cons_trace_parse(const char *name, const char *text, size_t len, double **out,
		     unsigned *n, char *err, size_t errlen)
{
	size_t cap = 512, cnt = 0, pos = 0;
	unsigned line = 0;
	double *v = malloc(cap * sizeof(double));
	if (!v)
		return -ENOMEM;
	while (pos < len) {
		size_t end = pos;
		while (end < len && text[end] != '\n')
			end++;
		line++;
		char buf[64];
		size_t l = end - pos;
		while (l && (text[pos + l - 1] == '\r' || text[pos + l - 1] == ' ' ||
			     text[pos + l - 1] == '\t'))
			l--;
		size_t s = 0;
		while (s < l && (text[pos + s] == ' ' || text[pos + s] == '\t'))
			s++;
		if (s == l) {
			/* Blank lines are allowed only at the end of the file. */
			size_t rest = end;
			while (rest < len && (text[rest] == '\n' || text[rest] == '\r' ||
					      text[rest] == ' ' || text[rest] == '\t'))
				rest++;
			if (rest == len)
				break;
			snprintf(err, errlen, "%s:%u: empty line", name, line);
			free(v);
			return -EINVAL;
		}
		if (l - s >= sizeof(buf)) {
			snprintf(err, errlen, "%s:%u: not a number", name, line);
			free(v);
			return -EINVAL;
		}
		memcpy(buf, text + pos + s, l - s);
		buf[l - s] = 0;
		char *e;
		errno = 0;
		double x = strtod(buf, &e);
		if (e == buf || *e || errno || !isfinite(x)) {
			snprintf(err, errlen, "%s:%u: not a number: '%s'", name, line, buf);
			free(v);
			return -EINVAL;
		}
		if (x < 0 || x > 100) {
			snprintf(err, errlen, "%s:%u: %s is outside 0..100 (a CPU percentage)",
				 name, line, buf);
			free(v);
			return -EINVAL;
		}
		if (cnt == cap) {
			double *nv = realloc(v, (cap *= 2) * sizeof(double));
			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
		}
		v[cnt++] = x / 100.0;
		pos = end + 1;
	}
	if (!cnt) {
		snprintf(err, errlen, "%s: no values", name);
		free(v);
		return -EINVAL;
	}
	*out = v;
	*n = (unsigned)cnt;
	return 0;
}

static int add_entry(struct entry **es, unsigned *n, unsigned *cap, const char *name,
		     const char *text, size_t len, char *err, size_t errlen)
{
	if (*n == *cap) {
		unsigned nc = *cap ? *cap * 2 : 256;
		struct entry *ne = nc <= MAX_VMS ? realloc(*es, nc * sizeof(*ne)) : NULL;
		if (!ne) {
			snprintf(err, errlen, "too many trace files");
			return -ENOMEM;
		}
		*es = ne;
		*cap = nc;
	}
	struct entry *e = &(*es)[*n];
	int rc = cons_trace_parse(name, text, len, &e->vals, &e->n, err, errlen);
	if (rc)
		return rc;
	if (!(e->name = strdup(name))) {
		free(e->vals);
		return -ENOMEM;
	}
	(*n)++;
	return 0;
}

static int read_file(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st)) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	if (st.st_size > MAX_FILE) {
		close(fd);
		snprintf(err, errlen, "%s: larger than %u MiB, not a trace file", path, MAX_FILE >> 20);
		return -EFBIG;
	}
	*buf = malloc((size_t)st.st_size + 1);
	ssize_t got = *buf ? read(fd, *buf, (size_t)st.st_size) : -1;
	int e = errno;
	close(fd);
	if (got != st.st_size) {
		free(*buf);
		snprintf(err, errlen, "%s: %s", path, got < 0 ? strerror(e) : "short read");
		return got < 0 ? -e : -EIO;
	}
	*len = (size_t)got;
	return 0;
}

static int load_dir(const char *path, struct entry **es, unsigned *n, unsigned *cap,
		    char *err, size_t errlen)
{
	DIR *d = opendir(path);
	if (!d) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	struct dirent *de;
	int rc = 0;
	while (!rc && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char full[4096];
		struct stat st;
		snprintf(full, sizeof(full), "%s/%s", path, de->d_name);
		if (stat(full, &st) || !S_ISREG(st.st_mode))
			continue;
		char *buf = NULL;
		size_t len = 0;
		if ((rc = read_file(full, &buf, &len, err, errlen)))
			break;
		rc = add_entry(es, n, cap, full, buf, len, err, errlen);
		free(buf);
	}
	closedir(d);
	return rc;
}

static int load_archive(const char *path, struct entry **es, unsigned *n, unsigned *cap,
			char *err, size_t errlen)
{
	struct archive *a = archive_read_new();
	if (!a)
		return -ENOMEM;
	archive_read_support_filter_all(a);
	archive_read_support_format_all(a);
	int rc = 0;
	if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK) {
		snprintf(err, errlen, "%s: not a folder or a readable archive (%s)", path,
			 archive_error_string(a));
		archive_read_free(a);
		return -EINVAL;
	}
	struct archive_entry *ae;
	int r;
	while (!rc && (r = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
		if (archive_entry_filetype(ae) != AE_IFREG)
			continue;
		const char *name = archive_entry_pathname(ae);
		const char *base = strrchr(name, '/');
		if ((base ? base[1] : name[0]) == '.')
			continue;
		la_int64_t size = archive_entry_size(ae);
		if (size < 0 || size > MAX_FILE) {
			snprintf(err, errlen, "%s: %s: not a trace file (size)", path, name);
			rc = -EFBIG;
			break;
		}
		char *buf = malloc((size_t)size + 1);
		if (!buf) {
			rc = -ENOMEM;
			break;
		}
		la_ssize_t got = archive_read_data(a, buf, (size_t)size);
		if (got != size) {
			snprintf(err, errlen, "%s: %s: %s", path, name,
				 got < 0 ? archive_error_string(a) : "truncated");
			free(buf);
			rc = -EIO;
			break;
		}
		char label[4096];
		snprintf(label, sizeof(label), "%s:%s", path, name);
		rc = add_entry(es, n, cap, label, buf, (size_t)size, err, errlen);
		free(buf);
	}
	if (!rc && r != ARCHIVE_EOF && r != ARCHIVE_OK) {
		snprintf(err, errlen, "%s: %s", path, archive_error_string(a));
		rc = -EIO;
	}
	archive_read_free(a);
	return rc;
}

/* File-name order: by the name after the last '/', then the whole path. */
static const char *base_name(const char *s)
{
	const char *b = strrchr(s, '/');
	return b ? b + 1 : s;
}

static int cmp_entry(const void *x, const void *y)
{
	const struct entry *a = x, *b = y;
	int c = strcmp(base_name(a->name), base_name(b->name));
	return c ? c : strcmp(a->name, b->name);
}

int cons_trace_load(const char *path, struct cons_trace *t, char *err, size_t errlen)
{
	memset(t, 0, sizeof(*t));
	if (errlen)
		err[0] = 0;
	struct stat st;
	if (stat(path, &st)) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	struct entry *es = NULL;
	unsigned n = 0, cap = 0;
	int rc = S_ISDIR(st.st_mode) ? load_dir(path, &es, &n, &cap, err, errlen)
				     : load_archive(path, &es, &n, &cap, err, errlen);
	if (!rc && !n) {
		snprintf(err, errlen, "%s: no trace files (one file per VM expected)", path);
		rc = -ENOENT;
	}
	if (!rc) {
		qsort(es, n, sizeof(*es), cmp_entry);
		for (unsigned i = 1; i < n && !rc; i++)
			if (es[i].n != es[0].n) {
				snprintf(err, errlen, "%s: %u values, but %s has %u (every VM needs one per interval)",
					 es[i].name, es[i].n, es[0].name, es[0].n);
				rc = -EINVAL;
			}
	}
	if (!rc) {
		t->n_vms = n;
		t->n_steps = es[0].n;
		t->names = calloc(n, sizeof(char *));
		t->util = malloc((size_t)n * es[0].n * sizeof(double));
		if (!t->names || !t->util)
			rc = -ENOMEM;
	}
	for (unsigned i = 0; i < n; i++) {
		if (!rc) {
			memcpy(t->util + (size_t)i * t->n_steps, es[i].vals, t->n_steps * sizeof(double));
			t->names[i] = es[i].name;
		} else {
			free(es[i].name);
		}
		free(es[i].vals);
	}
	free(es);
	if (rc) {
		if (rc == -ENOMEM && !*err)
			snprintf(err, errlen, "out of memory");
		cons_trace_free(t);
	}
	return rc;
}

void cons_trace_free(struct cons_trace *t)
{
	if (t->names)
		for (unsigned i = 0; i < t->n_vms; i++)
			free(t->names[i]);
	free(t->names);
	free(t->util);
	memset(t, 0, sizeof(*t));
}
