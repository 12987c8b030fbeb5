/* vmbuf/vmrd: the byte-level encoding of saved state (little-endian,
 * fixed widths, length-prefixed strings). */
#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include "state/vmbuf.h"

void vmbuf_put_bytes(struct vmbuf *b, const void *data, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

void vmbuf_put_u8(struct vmbuf *b, uint8_t v) { vmbuf_put_bytes(b, &v, 1); }
void vmbuf_put_u16(struct vmbuf *b, uint16_t v) { v = htole16(v); vmbuf_put_bytes(b, &v, 2); }
void vmbuf_put_u32(struct vmbuf *b, uint32_t v) { v = htole32(v); vmbuf_put_bytes(b, &v, 4); }
void vmbuf_put_u64(struct vmbuf *b, uint64_t v) { v = htole64(v); vmbuf_put_bytes(b, &v, 8); }

void vmbuf_put_str(struct vmbuf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	vmbuf_put_u32(b, (uint32_t)n);
	vmbuf_put_bytes(b, s, n);
}

void vmbuf_free(struct vmbuf *b)
{
	free(b->p);
	*b = (struct vmbuf){ 0 };
}

bool vmrd_bytes(struct vmrd *r, void *dst, size_t n)
{
	if (r->bad || n > r->len - r->off) {
		r->bad = true;
		memset(dst, 0, n);
		return false;
	}
	memcpy(dst, r->p + r->off, n);
	r->off += n;
	return true;
}

uint8_t vmrd_u8(struct vmrd *r) { uint8_t v; vmrd_bytes(r, &v, 1); return v; }
uint16_t vmrd_u16(struct vmrd *r) { uint16_t v; vmrd_bytes(r, &v, 2); return le16toh(v); }
uint32_t vmrd_u32(struct vmrd *r) { uint32_t v; vmrd_bytes(r, &v, 4); return le32toh(v); }
uint64_t vmrd_u64(struct vmrd *r) { uint64_t v; vmrd_bytes(r, &v, 8); return le64toh(v); }

bool vmrd_str(struct vmrd *r, char *buf, size_t cap)
{
	uint32_t n = vmrd_u32(r);
	if (r->bad || n >= cap) {
		r->bad = true;
		buf[0] = 0;
		return false;
	}
	vmrd_bytes(r, buf, n);
	buf[n] = 0;
	return !r->bad;
}
