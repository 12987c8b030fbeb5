/* Splits a byte stream into top-level JSON values, as QMP's wire format
 * needs (no framing: values follow each other, whitespace optional). Pure:
 * no I/O, so it is unit-tested alone. */
#ifndef TERN_JSON_STREAM_H
#define TERN_JSON_STREAM_H
#include <stdbool.h>
#include <stddef.h>

#define JSON_STREAM_MAX_DEPTH 32

struct json_stream {
	char *buf;          /* the value being collected */
	size_t len, cap, max;
	int depth;          /* open { and [ */
	bool in_string, escape;
	bool junk;          /* collecting bytes that cannot start a value */
};

enum json_stream_result {
	JSON_STREAM_MORE = 0,    /* need more bytes */
	JSON_STREAM_VALUE,       /* a complete value is in buf[0..len) */
	JSON_STREAM_JUNK,        /* bytes outside any object were skipped */
	JSON_STREAM_TOO_BIG,     /* the value is longer than max: give up */
	JSON_STREAM_TOO_DEEP,    /* nesting deeper than JSON_STREAM_MAX_DEPTH */
};

/* max: longest accepted value in bytes. */
int json_stream_init(struct json_stream *s, size_t max);
void json_stream_free(struct json_stream *s);
/* Feed bytes from data[*off..len): stops after one result other than
 * MORE, with *off past the bytes consumed. After VALUE, the caller uses
 * buf/len, then calls json_stream_reset. */
enum json_stream_result json_stream_feed(struct json_stream *s, const char *data, size_t len,
					 size_t *off);
void json_stream_reset(struct json_stream *s);
#endif
