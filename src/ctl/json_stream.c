/* JSON value splitter for QMP input: tracks nesting outside strings and
 * cuts the stream at the end of each top-level object or array. Anything
 * else at top level is junk, reported once per run of junk bytes. */
#include <stdlib.h>
#include <string.h>
#include "ctl/json_stream.h"

int json_stream_init(struct json_stream *s, size_t max)
{
	memset(s, 0, sizeof(*s));
	s->max = max;
	s->cap = 256;
	s->buf = malloc(s->cap + 1);
	return s->buf ? 0 : -1;
}

void json_stream_free(struct json_stream *s)
{
	free(s->buf);
	s->buf = NULL;
}

void json_stream_reset(struct json_stream *s)
{
	s->len = 0;
	s->depth = 0;
	s->in_string = s->escape = s->junk = false;
}

static int append(struct json_stream *s, char c)
{
	if (s->len >= s->max)
		return -1;
	if (s->len >= s->cap) {
		size_t ncap = s->cap * 2 < s->max ? s->cap * 2 : s->max;
		char *n = realloc(s->buf, ncap + 1);
		if (!n)
			return -1;
		s->buf = n;
		s->cap = ncap;
	}
	s->buf[s->len++] = c;
	s->buf[s->len] = 0;
	return 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

enum json_stream_result json_stream_feed(struct json_stream *s, const char *data, size_t len,
					 size_t *off)
{
	while (*off < len) {
		char c = data[*off];
		if (s->depth == 0) {
			/* Between values. */
			if (c == '{' || c == '[') {
				if (s->junk) {
					/* Report the junk first; the bracket starts
					 * the next value. */
					s->junk = false;
					return JSON_STREAM_JUNK;
				}
				(*off)++;
				s->len = 0;
				append(s, c);
				s->depth = 1;
				continue;
			}
			(*off)++;
			if (is_space(c)) {
				if (s->junk && c == '\n') {
					s->junk = false;
					return JSON_STREAM_JUNK;
				}
				continue;
			}
			s->junk = true;
			continue;
		}
		(*off)++;
		if (append(s, c)) {
			json_stream_reset(s);
			return JSON_STREAM_TOO_BIG;
		}
		if (s->in_string) {
			if (s->escape)
				s->escape = false;
			else if (c == '\\')
				s->escape = true;
			else if (c == '"')
				s->in_string = false;
			continue;
		}
		if (c == '"') {
			s->in_string = true;
		} else if (c == '{' || c == '[') {
			if (++s->depth > JSON_STREAM_MAX_DEPTH) {
				json_stream_reset(s);
				return JSON_STREAM_TOO_DEEP;
			}
		} else if (c == '}' || c == ']') {
			if (--s->depth == 0)
				return JSON_STREAM_VALUE;
		}
	}
	return JSON_STREAM_MORE;
}
