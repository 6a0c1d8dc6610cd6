#include "cpu/attention.h"

#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 warns about the undefined upper lanes inside its own AVX-512 intrinsics.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <cmath>

#include "cpu/exp_avx512.h"
#include "cpu/vector_clones.h"

namespace ghostline::cpu {
namespace {

// Sixteen independent partial sums let the compiler vectorise without
// reassociating a single float sum.
constexpr int kLanes = 16;

GL_VECTOR_CLONES
float dot(const float* a, const float* b, int64_t n) {
  float acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; l++) acc[l] += a[i + l] * b[i + l];
  }
  float s = 0;
  for (; i < n; i++) s += a[i] * b[i];
  for (int l = 0; l < kLanes; l++) s += acc[l];
  return s;
}

GL_VECTOR_CLONES
void axpy(float alpha, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] += alpha * x[i];
}

}  // namespace

GL_VECTOR_CLONES
void attend_head(const float* q, const float* k, const float* v, int64_t stride, int64_t n_kv, int64_t hd,
                 float scale, float* scores, float* out) {
  float max_score = -INFINITY;
  for (int64_t j = 0; j < n_kv; j++) {
    const float s = dot(q, k + j * stride, hd) * scale;
    scores[j] = s;
    if (s > max_score) max_score = s;
  }
  float sum = 0;
  for (int64_t j = 0; j < n_kv; j++) {
    const float e = std::exp(scores[j] - max_score);
    scores[j] = e;
    sum += e;
  }
  for (int64_t i = 0; i < hd; i++) out[i] = 0;
  const float inv = 1.0f / sum;
  for (int64_t j = 0; j < n_kv; j++) axpy(scores[j] * inv, v + j * stride, out, hd);
}

GL_VECTOR_CLONES
void rms_norm_row(const float* x, const float* w, float* y, int64_t n, float eps) {
  double acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; l++) acc[l] += double(x[i + l]) * x[i + l];
  }
  double ss = 0;
  for (; i < n; i++) ss += double(x[i]) * x[i];
  for (int l = 0; l < kLanes; l++) ss += acc[l];
  const float scale = 1.0f / std::sqrt(float(ss / double(n)) + eps);
  for (int64_t j = 0; j < n; j++) y[j] = x[j] * scale * w[j];
}

namespace {

GL_VECTOR_CLONES
void swiglu_scalar(float* a, const float* b, int64_t n) {
  for (int64_t i = 0; i < n; i++) a[i] = a[i] / (1.0f + std::exp(-a[i])) * b[i];
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("avx512f,fma"))) void swiglu_avx512(float* a, const float* b, int64_t n) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = first_lanes(n - i);
    const __m512 x = _mm512_maskz_loadu_ps(k, a + i);
    const __m512 silu = _mm512_div_ps(x, _mm512_add_ps(one, exp_avx512(_mm512_sub_ps(_mm512_setzero_ps(), x))));
    _mm512_mask_storeu_ps(a + i, k, _mm512_mul_ps(silu, _mm512_maskz_loadu_ps(k, b + i)));
  }
}

bool has_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
}
#endif

}  // namespace

void swiglu_row(float* a, const float* b, int64_t n) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  // One exp per element through the C library cost more than the feed-forward's other work together.
  static const bool avx512 = has_avx512();
  if (avx512) return swiglu_avx512(a, b, n);
#endif
  swiglu_scalar(a, b, n);
}

GL_VECTOR_CLONES
void add_row(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] += x[i];
}

}  // namespace ghostline::cpu
