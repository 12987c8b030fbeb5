/* SiFive test device / syscon: a 32-bit write of 0x5555 powers off, 0x7777
 * resets, 0x3333 | code << 16 powers off with a failure code. */
#ifndef TERN_SYSCON_H
#define TERN_SYSCON_H
#include "dev/dev.h"

enum syscon_action { SYSCON_POWEROFF = 1, SYSCON_RESET = 2, SYSCON_FAIL = 3 };
typedef void (*syscon_fn)(void *ctx, enum syscon_action a, unsigned code);

struct syscon;
extern const struct dev_ops syscon_ops;
struct syscon *syscon_new(syscon_fn fn, void *ctx);
#endif
