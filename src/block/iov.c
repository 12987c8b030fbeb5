/* iovec range helpers for the block layer (see iov.h). */
#include <stdint.h>
#include <string.h>
#include "block/iov.h"

size_t iov_size(const struct iovec *iov, int cnt)
{
	size_t n = 0;
	for (int i = 0; i < cnt; i++)
		n += iov[i].iov_len;
	return n;
}

int iov_slice(const struct iovec *src, int cnt, size_t skip, size_t len,
	      struct iovec *dst, int dmax)
{
	int n = 0;
	for (int i = 0; i < cnt && len; i++) {
		if (skip >= src[i].iov_len) {
			skip -= src[i].iov_len;
			continue;
		}
		size_t l = src[i].iov_len - skip;
		if (l > len)
			l = len;
		if (n >= dmax)
			return -1;
		dst[n].iov_base = (uint8_t *)src[i].iov_base + skip;
		dst[n].iov_len = l;
		n++;
		len -= l;
		skip = 0;
	}
	return len ? -1 : n;
}

/* Call fn on each piece of [skip, skip+len). */
static void iov_walk(const struct iovec *iov, int cnt, size_t skip, size_t len,
		     void (*fn)(void *seg, size_t n, void *ctx), void *ctx)
{
	for (int i = 0; i < cnt && len; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		size_t l = iov[i].iov_len - skip;
		if (l > len)
			l = len;
		fn((uint8_t *)iov[i].iov_base + skip, l, ctx);
		len -= l;
		skip = 0;
	}
}

static void zero_piece(void *seg, size_t n, void *ctx)
{
	(void)ctx;
	memset(seg, 0, n);
}

void iov_zero(const struct iovec *iov, int cnt, size_t skip, size_t len)
{
	iov_walk(iov, cnt, skip, len, zero_piece, NULL);
}

static void to_buf_piece(void *seg, size_t n, void *ctx)
{
	uint8_t **p = ctx;
	memcpy(*p, seg, n);
	*p += n;
}

static void from_buf_piece(void *seg, size_t n, void *ctx)
{
	const uint8_t **p = ctx;
	memcpy(seg, *p, n);
	*p += n;
}

void iov_to_buf(const struct iovec *iov, int cnt, size_t skip, void *buf, size_t len)
{
	uint8_t *p = buf;
	iov_walk(iov, cnt, skip, len, to_buf_piece, &p);
}

void iov_from_buf(const struct iovec *iov, int cnt, size_t skip, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	iov_walk(iov, cnt, skip, len, from_buf_piece, &p);
}
