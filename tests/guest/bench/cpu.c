/* cpu.c: the cpu workload, an integer mix in the spirit of CoreMark (our own
 * code): CRC16/CRC32, linked-list find and sort, a small matrix multiply, a
 * number-scanning state machine and string ops. Prints iterations/s and a checksum. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define CPU_ITERS 10000
#define LIST_N 96
#define MAT_N 10
#define STR_LEN 256

/* ---- CRCs ------------------------------------------------------------------ */
static uint16_t crc16_byte(uint16_t crc, uint8_t b)
{
    crc ^= (uint16_t)b << 8;
    for (int i = 0; i < 8; i++)
        crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    return crc;
}

static uint16_t crc16_u32(uint16_t crc, uint32_t v)
{
    for (int i = 0; i < 4; i++, v >>= 8)
        crc = crc16_byte(crc, (uint8_t)v);
    return crc;
}

static uint32_t crc32_tab[256];

static void crc32_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
        crc32_tab[i] = c;
    }
}

static uint32_t crc32_buf(uint32_t crc, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    crc = ~crc;
    while (n--)
        crc = crc32_tab[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* ---- Linked list: build, find, merge sort by value, reverse, sort by key ---- */
struct node {
    struct node *next;
    int32_t key, val;
};

static struct node pool[LIST_N];

static struct node *list_sort(struct node *head, int by_val)
{
    /* Bottom-up merge sort of a singly linked list; stable. */
    int width = 1;
    for (;;) {
        struct node *p = head, *tail = NULL;
        int merges = 0;
        head = NULL;
        while (p) {
            merges++;
            struct node *q = p;
            int ps = 0, qs = width;
            while (ps < width && q) {
                ps++;
                q = q->next;
            }
            while (ps > 0 || (qs > 0 && q)) {
                struct node *e;
                if (ps == 0) {
                    e = q, q = q->next, qs--;
                } else if (qs == 0 || !q) {
                    e = p, p = p->next, ps--;
                } else {
                    int32_t a = by_val ? p->val : p->key, b = by_val ? q->val : q->key;
                    if (a <= b)
                        e = p, p = p->next, ps--;
                    else
                        e = q, q = q->next, qs--;
                }
                if (tail)
                    tail->next = e;
                else
                    head = e;
                tail = e;
            }
            p = q;
        }
        tail->next = NULL;
        if (merges <= 1)
            return head;
        width *= 2;
    }
}

static uint16_t list_work(uint32_t seed, uint16_t crc)
{
    uint32_t s = seed;
    for (int i = 0; i < LIST_N; i++) {
        pool[i].key = i;
        pool[i].val = (int32_t)(lcg(&s) & 0xffff) - 0x8000;
        pool[i].next = i + 1 < LIST_N ? &pool[i + 1] : NULL;
    }
    struct node *head = &pool[0];
    /* Finds, some of which miss. */
    for (int k = 0; k < 8; k++) {
        int32_t want = (int32_t)((seed + (uint32_t)k * 13u) % (LIST_N + 8));
        int pos = 0;
        struct node *n = head;
        while (n && n->key != want)
            n = n->next, pos++;
        crc = crc16_u32(crc, n ? (uint32_t)pos : 0xffffffffu);
    }
    head = list_sort(head, 1);
    int32_t prev = INT32_MIN;
    int order_ok = 1;
    for (struct node *n = head; n; n = n->next) {
        order_ok &= n->val >= prev;
        prev = n->val;
        crc = crc16_u32(crc, (uint32_t)n->key);
    }
    /* Reverse in place, then sort back by key. */
    struct node *r = NULL;
    while (head) {
        struct node *nx = head->next;
        head->next = r, r = head, head = nx;
    }
    head = list_sort(r, 0);
    uint32_t acc = 0;
    for (struct node *n = head; n; n = n->next)
        acc = acc * 31u + (uint32_t)(n->key ^ n->val);
    return crc16_u32(crc, acc ^ (uint32_t)order_ok);
}

/* ---- Matrix: int16 multiply into int32, scalar add, matrix-vector, bit fields ---- */
static int16_t ma[MAT_N][MAT_N], mb[MAT_N][MAT_N];
static int32_t mc[MAT_N][MAT_N], mv[MAT_N];

static uint16_t matrix_work(uint32_t seed, uint16_t crc)
{
    uint32_t s = seed ^ 0x5a5a5a5au;
    for (int i = 0; i < MAT_N; i++)
        for (int j = 0; j < MAT_N; j++) {
            ma[i][j] = (int16_t)((lcg(&s) & 0x3ff) - 0x200);
            mb[i][j] = (int16_t)((lcg(&s) & 0x3ff) - 0x200);
        }
    for (int i = 0; i < MAT_N; i++)
        for (int j = 0; j < MAT_N; j++) {
            int32_t sum = 0;
            for (int k = 0; k < MAT_N; k++)
                sum += (int32_t)ma[i][k] * mb[k][j];
            mc[i][j] = sum;
        }
    int16_t add = (int16_t)(seed & 0xff);
    for (int i = 0; i < MAT_N; i++)
        for (int j = 0; j < MAT_N; j++)
            ma[i][j] = (int16_t)(ma[i][j] + add);
    for (int i = 0; i < MAT_N; i++) {
        int32_t sum = 0;
        for (int j = 0; j < MAT_N; j++)
            sum += ma[i][j] * (int32_t)mb[j][i];
        mv[i] = sum;
    }
    uint32_t bits = 0;
    for (int i = 0; i < MAT_N; i++)
        for (int j = 0; j < MAT_N; j++)
            bits += ((uint32_t)mc[i][j] >> 3) & 0x1f;
    for (int i = 0; i < MAT_N; i++)
        crc = crc16_u32(crc, (uint32_t)mv[i]);
    return crc16_u32(crc16_u32(crc, bits), (uint32_t)mc[seed % MAT_N][(seed >> 4) % MAT_N]);
}

/* ---- State machine: classify comma-separated number tokens ---- */
enum st { S_START, S_SIGN, S_INT, S_DOT, S_FRAC, S_EXP, S_ESIGN, S_EINT,
          S_ZERO, S_HEXX, S_HEX, S_BAD, S_NUM };

static const char *const tokens[] = {
    "1234", "-87", "+0.5", "3.25e-4", "0x1fA", "12e", "-.", "abc",
    "9.9E+9", "0", "77.", "e5", "0x", "-0", "5.5.5", "31415926",
};

static enum st step(enum st s, char c)
{
    int digit = c >= '0' && c <= '9';
    int hex = digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    switch (s) {
    case S_START:
        if (c == '0') return S_ZERO;
        if (digit) return S_INT;
        if (c == '+' || c == '-') return S_SIGN;
        if (c == '.') return S_DOT;
        return S_BAD;
    case S_SIGN:
        if (digit) return S_INT;
        if (c == '.') return S_DOT;
        return S_BAD;
    case S_ZERO:
        if (c == 'x' || c == 'X') return S_HEXX;
        /* fall through */
    case S_INT:
        if (digit) return S_INT;
        if (c == '.') return S_FRAC;
        if (c == 'e' || c == 'E') return S_EXP;
        return S_BAD;
    case S_DOT:
        return digit ? S_FRAC : S_BAD;
    case S_FRAC:
        if (digit) return S_FRAC;
        if (c == 'e' || c == 'E') return S_EXP;
        return S_BAD;
    case S_EXP:
        if (c == '+' || c == '-') return S_ESIGN;
        /* fall through */
    case S_ESIGN:
        return digit ? S_EINT : S_BAD;
    case S_EINT:
        return digit ? S_EINT : S_BAD;
    case S_HEXX:
    case S_HEX:
        return hex ? S_HEX : S_BAD;
    default:
        return S_BAD;
    }
}

static uint16_t state_work(uint32_t seed, uint16_t crc, char *buf, size_t cap)
{
    uint32_t s = seed;
    size_t len = 0;
    while (len + 12 < cap) {
        const char *t = tokens[lcg(&s) % (sizeof(tokens) / sizeof(tokens[0]))];
        size_t n = strlen(t);
        memcpy(buf + len, t, n);
        len += n;
        buf[len++] = ',';
    }
    buf[len] = 0;
    /* Corrupt a few characters, as a noisy input would be. */
    for (int k = 0; k < 3; k++)
        buf[lcg(&s) % len] = (char)(' ' + lcg(&s) % 95);
    uint32_t final[S_NUM] = { 0 }, transitions = 0;
    enum st st = S_START;
    for (size_t i = 0; i <= len; i++) {
        char c = buf[i];
        if (c == ',' || c == 0) {
            final[st]++;
            st = S_START;
            continue;
        }
        enum st nx = step(st, c);
        transitions += nx != st;
        st = nx;
    }
    for (int i = 0; i < S_NUM; i++)
        crc = crc16_u32(crc, final[i]);
    return crc16_u32(crc, transitions);
}

/* ---- String ops: fill, copy, compare, length, search, reverse, case ---- */
static uint32_t string_work(uint32_t seed, uint32_t crc, char *a, char *b)
{
    uint32_t s = seed ^ 0xc3c3c3c3u;
    for (int i = 0; i < STR_LEN; i++)
        a[i] = (char)('a' + lcg(&s) % 26);
    a[STR_LEN - 1] = 0;
    a[64 + seed % 128] = 0;
    size_t n = strlen(a);
    memcpy(b, a, n + 1);
    b[n / 2] ^= 0x20;                       /* upper-case one letter */
    int cmp = memcmp(a, b, n);
    int cnt = 0;
    for (const char *p = strchr(a, 'e'); p; p = strchr(p + 1, 'e'))
        cnt++;
    for (size_t i = 0, j = n - 1; i < j; i++, j--) {
        char t = b[i];
        b[i] = b[j], b[j] = t;
    }
    for (size_t i = 0; i < n; i++)
        if (b[i] >= 'a' && b[i] <= 'z' && (i & 3) == 0)
            b[i] = (char)(b[i] - 'a' + 'A');
    const char *sub = strstr(b, "Q");
    crc = crc32_buf(crc, b, n);
    uint32_t extra[4] = { (uint32_t)n, (uint32_t)(cmp > 0) - (uint32_t)(cmp < 0),
                          (uint32_t)cnt, sub ? (uint32_t)(sub - b) : 0xffffffffu };
    return crc32_buf(crc, extra, sizeof(extra));
}

int bench_cpu(int argc, char **argv)
{
    long iters = scaled(CPU_ITERS, argc, argv);
    static char sbuf[384], a[STR_LEN], b[STR_LEN];
    crc32_init();
    uint32_t seed = 0x7e57u, crc32 = 0;
    uint16_t crc16 = 0;

    uint64_t t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        crc16 = list_work(seed, crc16);
        crc16 = matrix_work(seed, crc16);
        crc16 = state_work(seed, crc16, sbuf, sizeof(sbuf));
        crc32 = string_work(seed, crc32, a, b);
        crc32 = crc32_buf(crc32, &crc16, sizeof(crc16));
        seed = seed * 2654435761u + crc16 + (crc32 >> 7);  /* each round feeds the next */
    }
    double s = secs_since(t0);

    bench_out("cpu_iterations", (double)iters, "count");
    bench_out("cpu_seconds", s, "s");
    bench_out("cpu_rate", iters / s, "iter/s");
    bench_hex("cpu_checksum", ((uint64_t)crc32 << 16) | crc16);
    return 0;
}
