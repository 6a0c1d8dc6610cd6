// Attention over a half-precision KV cache, with llama.cpp's rounding: the
// query and the softmax weights pass through half precision on their way into
// the products, as they do when llama.cpp multiplies by an F16 cache.
#pragma once

#include <cstdint>

namespace ghostline::cpu {

// out[hd] = sum_j softmax(scale * q . k_j)_j * v_j over j < n_kv. k and v point
// at the head's first row, rows `stride` halves apart. scores: n_kv floats of
// scratch; q16: hd floats of scratch.
void attend_head_f16(const float* q, const uint16_t* k, const uint16_t* v, int64_t stride, int64_t n_kv, int64_t hd,
                     float scale, float* scores, float* q16, float* out);

// dst[i] = half(src[i]) for a row of n values.
void store_row_f16(const float* src, uint16_t* dst, int64_t n);

// x[i] = float(half(x[i])) for a row of n values.
void round_row_f16(float* x, int64_t n);

// The instruction set the half-precision loops use here ("avx512", "f16c", "neon", "generic").
const char* attention_f16_isa();

}  // namespace ghostline::cpu
