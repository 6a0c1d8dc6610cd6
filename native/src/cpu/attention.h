// Attention of one query head over a run of cached keys and values.
#pragma once

#include <cstdint>

namespace ghostline::cpu {

// out[hd] = softmax(scale * q . k_j, j < n_kv) weighted sum of v_j.
// k and v point at the head's first row; consecutive rows are `stride` floats
// apart. scores is scratch for n_kv floats.
void attend_head(const float* q, const float* k, const float* v, int64_t stride, int64_t n_kv, int64_t hd,
                 float scale, float* scores, float* out);

// y[i] = x[i] / rms(x) * w[i] for one row of n values.
void rms_norm_row(const float* x, const float* w, float* y, int64_t n, float eps);

// a[i] = silu(a[i]) * b[i]
void swiglu_row(float* a, const float* b, int64_t n);

// y[i] += x[i]
void add_row(float* y, const float* x, int64_t n);

}  // namespace ghostline::cpu
