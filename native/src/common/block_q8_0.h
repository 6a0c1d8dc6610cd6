// The Q8_0 block layout, declared once for every backend.
//
// A Q8_0 row of n values (n a multiple of 32) is n/32 consecutive blocks; each
// block holds a half-precision scale d and 32 signed 8-bit quants q, and stands
// for the values d * q[i]. This is the layout llama.cpp writes in GGUF files.
// The header is plain C so that CUDA and Metal sources can include it too.
#ifndef GHOSTLINE_BLOCK_Q8_0_H
#define GHOSTLINE_BLOCK_Q8_0_H

#include <stdint.h>

#define GL_QK8_0 32

typedef struct {
  uint16_t d;             // scale, IEEE half bits
  int8_t qs[GL_QK8_0];    // quants
} gl_block_q8_0;

#ifdef __cplusplus
static_assert(sizeof(gl_block_q8_0) == 34, "Q8_0 block must be 34 bytes, as in GGUF files");
#else
_Static_assert(sizeof(gl_block_q8_0) == 34, "Q8_0 block must be 34 bytes, as in GGUF files");
#endif

#endif
