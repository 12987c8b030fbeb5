/* libFuzzer harness for the QMP parser: bytes are split into JSON values
 * by json_stream (fed in chunks whose size the input picks) and each value
 * goes through qmp_proto (negotiation, request checks, argument checks,
 * the command table) against a small real board whose vCPU does not run.
 * A "uri" argument is made unusable first, so migrate never writes files,
 * connects or runs commands; everything else runs as a client sends it. */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_stream.h"
#include "ctl/json_stream.h"
#include "ctl/qmp_proto.h"

static struct vm *board(void)
{
	struct vm *vm = fuzz_ctx_get()->vm;
	vm->vcpu_running = 0;   /* vm_pause returns at once */
	return vm;
}

/* Returns the text to hand on: the value itself, or a copy whose "uri"
 * argument no migration scheme accepts (free *owned). */
static const char *defuse(const char *text, size_t len, size_t *out_len, char **owned)
{
	*owned = NULL;
	*out_len = len;
	json_t *v = json_loadb(text, len, 0, NULL);
	json_t *args = v ? json_object_get(v, "arguments") : NULL;
	json_t *uri = args ? json_object_get(args, "uri") : NULL;
	if (json_is_string(uri)) {
		char *s = malloc(strlen(json_string_value(uri)) + 16);
		if (s) {
			strcpy(s, "x-fuzz-denied:");
			strcat(s, json_string_value(uri));
			json_object_set_new(args, "uri", json_string(s));
			free(s);
			*owned = json_dumps(v, JSON_COMPACT);
			if (*owned)
				*out_len = strlen(*owned);
		}
	}
	json_decref(v);
	return *owned ? *owned : text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct vm *vm = board();
	struct qmp_ctx ctx = { .vm = vm, .started_realtime_ns = 1 };
	bool negotiated = data[0] & 1;
	size_t chunk = (size_t)(data[0] >> 1) % 32 + 1;
	struct json_stream js;
	if (json_stream_init(&js, 8192))
		return 0;
	const char *in = (const char *)data + 1;
	size_t len = size - 1;
	for (size_t base = 0; base < len; base += chunk) {
		size_t end = base + chunk < len ? base + chunk : len, off = base;
		bool stop = false;
		while (off < end && !stop) {
			switch (json_stream_feed(&js, in, end, &off)) {
			case JSON_STREAM_MORE:
				break;
			case JSON_STREAM_VALUE: {
				size_t n;
				char *owned;
				const char *t = defuse(js.buf, js.len, &n, &owned);
				json_decref(qmp_handle_text(&ctx, &negotiated, t, n));
				free(owned);
				json_stream_reset(&js);
				break;
			}
			case JSON_STREAM_JUNK:
				break;
			case JSON_STREAM_TOO_BIG:
			case JSON_STREAM_TOO_DEEP:
				stop = true;    /* the server hangs up here */
				break;
			}
		}
		if (stop)
			break;
	}
	json_stream_free(&js);
	/* Undo what the commands did to the board for the next input. */
	atomic_store(&vm->exit_req, VM_RUNNING);
	atomic_store(&vm->reset_req, 0);
	atomic_store(&vm->pause_count, 0);
	free(ctx.mig);
	free(ctx.live_params);
	return 0;
}
