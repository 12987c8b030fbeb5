/* SHA-256 of an image file, cached under ~/.cache/tern/sums/ by the file's
 * identity (device, inode, size, mtime and ctime in ns), so that a base
 * image is hashed once however many migrations verify it. */
#ifndef TERN_IMAGE_SUM_H
#define TERN_IMAGE_SUM_H
#include <stddef.h>
#include <stdint.h>

#define IMAGE_SUM_LEN 32

/* The file's SHA-256 in out and its size in *size; 0, or -1 with a
 * one-line reason naming the file. */
int image_sha256(const char *path, uint8_t out[IMAGE_SUM_LEN], uint64_t *size,
		 char *err, size_t errlen);
/* Lower-case hex of a digest (65 bytes with the NUL). */
void image_sum_hex(const uint8_t sum[IMAGE_SUM_LEN], char hex[2 * IMAGE_SUM_LEN + 1]);
#endif
