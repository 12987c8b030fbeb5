/* jit_loops: a micro-benchmark of the block compiler. It runs the three
 * guest loops of loops.S (CRC-32, xorshift/modulo mix, word copy) on a bare
 * hart through hart_run and prints the host thread's CPU time per loop
 * iteration, the best of 5 runs: on a shared, loaded machine that is far
 * steadier than a guest's wall-clock figures. Usage: jit_loops LOOPS.BIN
 * (`make bench-jit` builds and runs it; TERN_JIT=off is not read here). */
#include <stdio.h>
#include <time.h>
#include "cpu_fixture.h"
#include "cpu/jit.h"

enum { CRC_BYTES = 0x10000, MIX_ITERS = 1000000, COPY_WORDS = 0x18000 };

static double cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Run the loop at `pc` with its arguments set by `kind`; ns per iteration. */
static double run(struct fx *f, uint64_t pc, int kind, long iters)
{
	struct hart *h = f->h;
	double best = 1e30;
	for (int rep = 0; rep < 5; rep++) {
		if (kind == 0) {
			h->x[10] = 0;
			h->x[11] = DATA + 0x10000;
			h->x[12] = DATA + 0x10000 + (uint64_t)iters;
			h->x[31] = DATA;
		} else if (kind == 1) {
			h->x[10] = (uint64_t)iters;
			h->x[11] = 0x9e3779b97f4a7c15ull;
			h->x[12] = 0;
		} else {
			h->x[10] = DATA + 0x100000;
			h->x[11] = DATA + 0x20000;
			h->x[12] = DATA + 0x20000 + 8 * (uint64_t)iters;
		}
		double t0 = cpu_seconds();
		h->pc = pc;
		for (;;) {
			hart_run(h, 1000000);
			uint32_t insn;
			memcpy(&insn, fx_ram(f, h->pc, 4), 4);
			if (insn == INSN_J_SELF)
				break;
		}
		double t = cpu_seconds() - t0;
		if (t < best)
			best = t;
	}
	return best * 1e9 / (double)iters;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: jit_loops LOOPS.BIN\n");
		return 2;
	}
	uint8_t code[4096];
	FILE *in = fopen(argv[1], "rb");
	if (!in) {
		perror(argv[1]);
		return 1;
	}
	size_t n = fread(code, 1, sizeof(code), in);
	fclose(in);
	if (n < 0x818) {
		fprintf(stderr, "%s: %zu bytes, too short for the three loops\n", argv[1], n);
		return 1;
	}
	struct fx *f = fx_new();
	f->h->jit = jit_new(8u << 20);
	uint64_t base = fx_alloc_code(f, 4096);
	memcpy(fx_ram(f, base, n), code, n);
	uint32_t *tab = (uint32_t *)fx_ram(f, DATA, 1024);
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0xedb88320u : c >> 1;
		tab[i] = c;
	}
	uint8_t *buf = fx_ram(f, DATA + 0x10000, CRC_BYTES);
	for (int i = 0; i < CRC_BYTES; i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	printf("crc32 %.2f ns/byte\n", run(f, base, 0, CRC_BYTES));
	printf("mix   %.2f ns/iteration\n", run(f, base + 0x400, 1, MIX_ITERS));
	printf("copy  %.2f ns/word\n", run(f, base + 0x800, 2, COPY_WORDS));
	const char *dump = getenv("JIT_LOOPS_DUMP");   /* the code buffer, for objdump */
	FILE *out = dump ? fopen(dump, "wb") : NULL;
	if (out) {
		fwrite(jit_code_base(f->h->jit), 1, 65536, out);
		fclose(out);
	}
	jit_free(f->h->jit);
	f->h->jit = NULL;
	fx_free(f);
	return 0;
}
