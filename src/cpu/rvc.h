/* RVC expansion: 16-bit compressed instructions to their 32-bit forms. */
#ifndef TERN_RVC_H
#define TERN_RVC_H
#include <stdint.h>
/* Returns the 32-bit equivalent, or 0 for a reserved/illegal encoding. */
uint32_t rvc_expand(uint16_t c);
#endif
