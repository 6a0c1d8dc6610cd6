// Attention over a half-precision KV cache, with llama.cpp's rounding: the
// query and the softmax weights pass through half precision on their way into
// the products, as they do when llama.cpp multiplies by an F16 cache.
#pragma once

#include <cstdint>

namespace ghostline::cpu {

// Heads of one query row that share a KV head, taken kAttendGroupHeads at a time.
constexpr int kAttendGroupHeads = 4;

// For each of n_heads (1..kAttendGroupHeads) consecutive query heads g (q + g * hd):
// out + g * hd = sum_j softmax(scale * q_g . k_j)_j * v_j over j < n_kv. k and v
// point at the shared KV head's first row, rows `stride` halves apart.
// Scratch: scores, n_heads rows of scores_stride >= n_kv floats; q16, n_heads * hd floats.
void attend_heads_f16(const float* q, int n_heads, const uint16_t* k, const uint16_t* v, int64_t stride, int64_t n_kv,
                      int64_t hd, float scale, float* scores, int64_t scores_stride, float* q16, float* out);

// dst[i] = half(src[i]) for a row of n values.
void store_row_f16(const float* src, uint16_t* dst, int64_t n);

// x[i] = float(half(x[i])) for a row of n values.
void round_row_f16(float* x, int64_t n);

// The instruction set the half-precision loops use here ("avx512", "f16c", "neon", "generic").
const char* attention_f16_isa();

}  // namespace ghostline::cpu
