/* SHA-256 of image files with a cache keyed by the file's identity (see
 * sum.h). A cache that cannot be read or written only costs a rehash. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "image/sum.h"

void image_sum_hex(const uint8_t sum[IMAGE_SUM_LEN], char hex[2 * IMAGE_SUM_LEN + 1])
{
	for (int i = 0; i < IMAGE_SUM_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", sum[i]);
}

/* ~/.cache/tern/sums/DEV-INO-SIZE-MTIME-CTIME, or "" without a home. */
static void cache_path(const struct stat *st, char *out, size_t len)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char dir[3072];
	out[0] = 0;
	if (xdg && xdg[0] == '/')
		snprintf(dir, sizeof(dir), "%s/tern", xdg);
	else if (home && home[0] == '/')
		snprintf(dir, sizeof(dir), "%s/.cache/tern", home);
	else
		return;
	snprintf(out, len, "%s/sums/%llx-%llx-%llx-%lld.%09ld-%lld.%09ld", dir,
		 (unsigned long long)st->st_dev, (unsigned long long)st->st_ino,
		 (unsigned long long)st->st_size, (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
		 (long long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec);
}

static int cache_read(const char *path, uint8_t out[IMAGE_SUM_LEN])
{
	char hex[2 * IMAGE_SUM_LEN + 2] = "";
	FILE *f = path[0] ? fopen(path, "r") : NULL;
	if (!f)
		return -1;
	size_t n = fread(hex, 1, sizeof(hex) - 1, f);
	fclose(f);
	if (n < 2 * IMAGE_SUM_LEN)
		return -1;
	for (int i = 0; i < IMAGE_SUM_LEN; i++) {
		unsigned b;
		if (sscanf(hex + 2 * i, "%2x", &b) != 1)
			return -1;
		out[i] = (uint8_t)b;
	}
	return 0;
}

static void cache_write(const char *path, const uint8_t sum[IMAGE_SUM_LEN])
{
	char dir[4096], tmp[4200], hex[2 * IMAGE_SUM_LEN + 1];
	if (!path[0])
		return;
	snprintf(dir, sizeof(dir), "%s", path);
	for (char *p = dir + 1; *p; p++) {      /* mkdir -p of the folder */
		if (*p != '/')
			continue;
		*p = 0;
		mkdir(dir, 0755);
		*p = '/';
	}
	snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
	image_sum_hex(sum, hex);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	int ok = fprintf(f, "%s\n", hex) > 0;
	if (fclose(f) || !ok || rename(tmp, path))
		unlink(tmp);
}

int image_sha256(const char *path, uint8_t out[IMAGE_SUM_LEN], uint64_t *size,
		 char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "cannot read '%s': %s", path, fd < 0 ? strerror(errno) : "not a regular file");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*size = (uint64_t)st.st_size;
	char cpath[4096];
	cache_path(&st, cpath, sizeof(cpath));
	if (!cache_read(cpath, out)) {
		close(fd);
		return 0;
	}
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t bufsz = 1 << 20;
	uint8_t *buf = malloc(bufsz);
	int rc = -1;
	if (!md || !buf || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		snprintf(err, errlen, "out of memory hashing '%s'", path);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf, bufsz);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(md, buf, (size_t)n);
	}
	unsigned len = 0;
	EVP_DigestFinal_ex(md, out, &len);
	/* Changed while we read: the sum is of no version; do not keep it. */
	struct stat st2;
	if (!fstat(fd, &st2) && st2.st_mtim.tv_sec == st.st_mtim.tv_sec &&
	    st2.st_mtim.tv_nsec == st.st_mtim.tv_nsec && st2.st_size == st.st_size)
		cache_write(cpath, out);
	rc = 0;
out:
	EVP_MD_CTX_free(md);
	free(buf);
	close(fd);
	return rc;
}
