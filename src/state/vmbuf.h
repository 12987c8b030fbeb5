/* Little-endian field encoding for device and CPU state: a growing buffer
 * to save into and a bounded reader to load from. A short or overlong
 * payload marks the reader bad instead of reading past its end. */
#ifndef TERN_VMBUF_H
#define TERN_VMBUF_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vmbuf {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

void vmbuf_put_bytes(struct vmbuf *b, const void *data, size_t n);
void vmbuf_put_u8(struct vmbuf *b, uint8_t v);
void vmbuf_put_u16(struct vmbuf *b, uint16_t v);
void vmbuf_put_u32(struct vmbuf *b, uint32_t v);
void vmbuf_put_u64(struct vmbuf *b, uint64_t v);
/* u32 length, then the bytes (no NUL). */
void vmbuf_put_str(struct vmbuf *b, const char *s);
void vmbuf_free(struct vmbuf *b);

struct vmrd {
	const uint8_t *p;
	size_t len, off;
	bool bad;
};

static inline struct vmrd vmrd_of(const void *p, size_t len)
{
	return (struct vmrd){ .p = p, .len = len };
}
bool vmrd_bytes(struct vmrd *r, void *dst, size_t n);
uint8_t vmrd_u8(struct vmrd *r);
uint16_t vmrd_u16(struct vmrd *r);
uint32_t vmrd_u32(struct vmrd *r);
uint64_t vmrd_u64(struct vmrd *r);
/* Copies a string of at most cap-1 bytes into buf; longer ones mark bad. */
bool vmrd_str(struct vmrd *r, char *buf, size_t cap);
/* True when everything was read and nothing was missing. */
static inline bool vmrd_done(const struct vmrd *r)
{
	return !r->bad && r->off == r->len;
}
#endif
