/* VM-state stream writer and reader: section framing and XXH3-128
 * checksums (libxxhash: fast enough to check every stored RAM page on a
 * restore). Errors leave a one-line reason in ->err. */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include "state/stream.h"

static int fail(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(char *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, 256, fmt, ap);
	va_end(ap);
	return -1;
}

const char *vms_section_name(uint32_t id)
{
	switch (id) {
	case VMS_ID_END: return "end";
	case VMS_ID_CONFIG: return "config";
	case VMS_ID_MACHINE: return "machine";
	case VMS_ID_HART: return "hart";
	case VMS_ID_DEVICE: return "device";
	case VMS_ID_RAM: return "ram";
	case VMS_ID_RAM_BATCH: return "ram-batch";
	case VMS_ID_POSTCOPY: return "postcopy";
	case VMS_ID_DEVLOG: return "device-log";
	case VMS_ID_DISKS: return "disks";
	case VMS_ID_BLOCK_BATCH: return "block-batch";
	case VMS_ID_RAM_CHUNKS: return "ram-chunks";
	default: return "unknown";
	}
}

static int write_all(struct vms_writer *w, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t k = write(w->fd, b, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return fail(w->err, "write failed: %s", k < 0 ? strerror(errno) : "no progress");
		b += k;
		n -= (size_t)k;
		w->off += (uint64_t)k;
	}
	return 0;
}

static void put_section_header(uint8_t *h, uint32_t id, uint16_t inst, uint16_t ver, uint64_t len)
{
	uint32_t id_le = htole32(id);
	uint16_t inst_le = htole16(inst), ver_le = htole16(ver);
	uint64_t len_le = htole64(len);
	memcpy(h, &id_le, 4);
	memcpy(h + 4, &inst_le, 2);
	memcpy(h + 6, &ver_le, 2);
	memcpy(h + 8, &len_le, 8);
}

int vms_writer_init(struct vms_writer *w, int fd)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->seekable = lseek(fd, 0, SEEK_CUR) >= 0;
	uint8_t h[VMS_HEADER_LEN] = { 0 };
	uint32_t v = htole32(VMS_FORMAT_VERSION);
	memcpy(h, VMS_MAGIC, 8);
	memcpy(h + 8, &v, 4);
	return write_all(w, h, sizeof(h));
}

int vms_section_begin(struct vms_writer *w, uint32_t id, uint16_t instance, uint16_t version,
		      uint64_t len)
{
	uint8_t h[VMS_SECTION_HDR_LEN];
	put_section_header(h, id, instance, version, len);
	XXH3_state_t *md = XXH3_createState();
	if (!md || XXH3_128bits_reset(md) != XXH_OK) {
		XXH3_freeState(md);
		return fail(w->err, "cannot start the checksum");
	}
	XXH3_128bits_update(md, h, sizeof(h));
	w->md = md;
	w->left = len;
	return write_all(w, h, sizeof(h));
}

int vms_section_write(struct vms_writer *w, const void *p, size_t n)
{
	if (n > w->left)
		return fail(w->err, "section overflows its declared length");
	XXH3_128bits_update(w->md, p, n);
	w->left -= n;
	return write_all(w, p, n);
}

int vms_section_hole(struct vms_writer *w, uint64_t n)
{
	if (n > w->left)
		return fail(w->err, "section overflows its declared length");
	w->left -= n;
	if (w->seekable) {
		if (lseek(w->fd, (off_t)n, SEEK_CUR) < 0)
			return fail(w->err, "seek failed: %s", strerror(errno));
		w->off += n;
		return 0;
	}
	static const uint8_t zeros[4096];
	while (n) {
		size_t k = n < sizeof(zeros) ? n : sizeof(zeros);
		if (write_all(w, zeros, k))
			return -1;
		n -= k;
	}
	return 0;
}

int vms_section_end(struct vms_writer *w)
{
	if (w->left)
		return fail(w->err, "section is %llu bytes short", (unsigned long long)w->left);
	XXH128_canonical_t d;
	XXH128_canonicalFromHash(&d, XXH3_128bits_digest(w->md));
	XXH3_freeState(w->md);
	w->md = NULL;
	return write_all(w, &d, sizeof(d));
}

int vms_put_section(struct vms_writer *w, uint32_t id, uint16_t instance, uint16_t version,
		    const void *p, size_t n)
{
	if (vms_section_begin(w, id, instance, version, n) || vms_section_write(w, p, n))
		return -1;
	return vms_section_end(w);
}

int vms_writer_finish(struct vms_writer *w)
{
	if (vms_put_section(w, VMS_ID_END, 0, 1, NULL, 0))
		return -1;
	if (w->seekable && ftruncate(w->fd, (off_t)w->off))
		return fail(w->err, "cannot set the file size: %s", strerror(errno));
	return 0;
}

void vms_writer_cleanup(struct vms_writer *w)
{
	XXH3_freeState(w->md);
	w->md = NULL;
}

int vms_read(struct vms_reader *r, void *buf, size_t n)
{
	uint8_t *b = buf;
	while (n) {
		ssize_t k = read(r->fd, b, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return fail(r->err, "%s stalled: the peer sent nothing within the stall timeout "
				    "(at byte %llu)", r->name, (unsigned long long)r->off);
		if (k < 0)
			return fail(r->err, "%s: read error: %s", r->name, strerror(errno));
		if (k == 0)
			return fail(r->err, "%s is truncated (ends at byte %llu)", r->name,
				    (unsigned long long)r->off);
		b += k;
		n -= (size_t)k;
		r->off += (uint64_t)k;
	}
	return 0;
}

int vms_reader_init(struct vms_reader *r, int fd, const char *name)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->name = name;
	struct stat st;
	r->seekable = lseek(fd, 0, SEEK_CUR) >= 0 && !fstat(fd, &st) && S_ISREG(st.st_mode);
	r->size = r->seekable ? (uint64_t)st.st_size : UINT64_MAX;
	uint8_t h[VMS_HEADER_LEN];
	if (vms_read(r, h, sizeof(h)))
		return -1;
	if (memcmp(h, VMS_MAGIC, 8))
		return fail(r->err, "%s is not a tern snapshot (bad magic)", name);
	uint32_t v;
	memcpy(&v, h + 8, 4);
	v = le32toh(v);
	if (v != VMS_FORMAT_VERSION)
		return fail(r->err, "%s has snapshot format version %u; this tern reads version %u",
			    name, v, VMS_FORMAT_VERSION);
	memcpy(&v, h + 12, 4);
	if (v)
		return fail(r->err, "%s: the header's reserved field is 0x%x, not 0", name, le32toh(v));
	return 0;
}

int vms_next(struct vms_reader *r, struct vms_section *s)
{
	uint8_t h[VMS_SECTION_HDR_LEN];
	if (vms_read(r, h, sizeof(h)))
		return -1;
	uint32_t id;
	uint16_t inst, ver;
	uint64_t len;
	memcpy(&id, h, 4);
	memcpy(&inst, h + 4, 2);
	memcpy(&ver, h + 6, 2);
	memcpy(&len, h + 8, 8);
	s->id = le32toh(id);
	s->instance = le16toh(inst);
	s->version = le16toh(ver);
	s->len = le64toh(len);
	s->payload_off = r->off;
	if (r->size != UINT64_MAX &&
	    (s->len > r->size || r->size - r->off < s->len || r->size - r->off - s->len < VMS_DIGEST_LEN))
		return fail(r->err, "%s is truncated (%s section of %llu bytes at byte %llu)", r->name,
			    vms_section_name(s->id), (unsigned long long)s->len,
			    (unsigned long long)s->payload_off);
	return 0;
}

void *vms_digest_start(const struct vms_section *s)
{
	uint8_t h[VMS_SECTION_HDR_LEN];
	put_section_header(h, s->id, s->instance, s->version, s->len);
	XXH3_state_t *md = XXH3_createState();
	if (md && XXH3_128bits_reset(md) != XXH_OK) {
		XXH3_freeState(md);
		return NULL;
	}
	if (md)
		XXH3_128bits_update(md, h, sizeof(h));
	return md;
}

void vms_digest_abort(void *md)
{
	XXH3_freeState(md);
}

void vms_digest_update(void *md, const void *p, size_t n)
{
	XXH3_128bits_update(md, p, n);
}

int vms_digest_compare(struct vms_reader *r, void *md, const struct vms_section *s,
		       const uint8_t want[VMS_DIGEST_LEN])
{
	XXH128_canonical_t got;
	XXH128_canonicalFromHash(&got, XXH3_128bits_digest(md));
	XXH3_freeState(md);
	if (memcmp(want, &got, sizeof(got)))
		return fail(r->err, "%s is corrupt: checksum mismatch in the %s section (instance %u)",
			    r->name, vms_section_name(s->id), s->instance);
	return 0;
}

int vms_digest_check(struct vms_reader *r, void *md, const struct vms_section *s)
{
	uint8_t want[VMS_DIGEST_LEN];
	if (vms_read(r, want, sizeof(want))) {
		XXH3_freeState(md);
		return -1;
	}
	return vms_digest_compare(r, md, s, want);
}

int vms_read_payload(struct vms_reader *r, const struct vms_section *s, uint8_t **buf)
{
	*buf = NULL;
	if (s->len > VMS_MAX_SMALL_SECTION)
		return fail(r->err, "%s: %s section of %llu bytes is too large", r->name,
			    vms_section_name(s->id), (unsigned long long)s->len);
	uint8_t *b = malloc(s->len ? s->len : 1);
	void *md = vms_digest_start(s);
	if (!b || !md) {
		free(b);
		XXH3_freeState(md);
		return fail(r->err, "out of memory");
	}
	if (vms_read(r, b, s->len)) {
		free(b);
		XXH3_freeState(md);
		return -1;
	}
	vms_digest_update(md, b, s->len);
	if (vms_digest_check(r, md, s)) {
		free(b);
		return -1;
	}
	*buf = b;
	return 0;
}

int vms_skip(struct vms_reader *r, const struct vms_section *s)
{
	uint64_t n = s->len + VMS_DIGEST_LEN;
	if (r->seekable) {
		if (lseek(r->fd, (off_t)n, SEEK_CUR) < 0)
			return fail(r->err, "%s: seek failed: %s", r->name, strerror(errno));
		r->off += n;
		return 0;
	}
	uint8_t tmp[4096];
	while (n) {
		size_t k = n < sizeof(tmp) ? n : sizeof(tmp);
		if (vms_read(r, tmp, k))
			return -1;
		n -= k;
	}
	return 0;
}
