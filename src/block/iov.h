/* Helpers over struct iovec arrays (guest memory segments): take a byte
 * range of an array as a new array, fill or copy a range. */
#ifndef TERN_BLOCK_IOV_H
#define TERN_BLOCK_IOV_H
#include <stddef.h>
#include <sys/uio.h>

/* Total bytes in iov[0..cnt). */
size_t iov_size(const struct iovec *iov, int cnt);
/* The bytes [skip, skip+len) of src as up to dmax entries in dst; returns
 * the number of entries, or -1 when dst is too small or src too short. */
int iov_slice(const struct iovec *src, int cnt, size_t skip, size_t len,
	      struct iovec *dst, int dmax);
/* Set len bytes from skip on to zero. */
void iov_zero(const struct iovec *iov, int cnt, size_t skip, size_t len);
/* Copy between a flat buffer and the bytes from skip on. */
void iov_to_buf(const struct iovec *iov, int cnt, size_t skip, void *buf, size_t len);
void iov_from_buf(const struct iovec *iov, int cnt, size_t skip, const void *buf, size_t len);
#endif
