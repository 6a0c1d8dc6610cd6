#include "cpu/attention_f16.h"

#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 warns about the undefined upper lanes inside its own AVX-512 conversion intrinsics.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <cmath>

#include "common/fp16.h"
#include "cpu/exp_avx512.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define GL_ATTN_X86 1
#endif
#if defined(__aarch64__)
#include <arm_neon.h>
#endif

namespace ghostline::cpu {
namespace {

// The three loops the attention needs, per instruction set.
struct HalfOps {
  const char* name;
  float (*dot)(const float* q, const uint16_t* k, int64_t n);       // q . float(k)
  void (*axpy)(float a, const uint16_t* v, float* y, int64_t n);    // y += a * float(v)
  void (*round_half)(float* x, int64_t n);                          // x = float(half(x))
  void (*to_half)(const float* x, uint16_t* y, int64_t n);          // y = half(x)
  // Scores or weighted values for up to kGroupHeads heads at once, loading and
  // converting each key and value row once for all of them; null where absent.
  bool (*group_scores)(const float* q16, int n_heads, const uint16_t* k, int64_t stride, int64_t n_kv, int64_t hd,
                       float* scores, int64_t scores_stride);
  bool (*group_values)(const float* p, int n_heads, int64_t p_stride, const uint16_t* v, int64_t stride, int64_t n_kv,
                       int64_t hd, float* out);
  // softmax(scale * scores) in place, each weight then rounded to half as llama.cpp feeds them to the product with V.
  void (*softmax_to_half)(float* scores, int64_t n_kv, float scale);
};

float dot_generic(const float* q, const uint16_t* k, int64_t n) {
  float s = 0;
  for (int64_t i = 0; i < n; i++) s += q[i] * fp16_to_fp32(k[i]);
  return s;
}
void axpy_generic(float a, const uint16_t* v, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] += a * fp16_to_fp32(v[i]);
}
void round_generic(float* x, int64_t n) {
  for (int64_t i = 0; i < n; i++) x[i] = fp16_to_fp32(fp32_to_fp16(x[i]));
}
void to_half_generic(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = fp32_to_fp16(x[i]);
}

// One exp per score through the C library: the reference the vector versions are tested against.
template <void (*RoundHalf)(float*, int64_t)>
void softmax_scalar(float* scores, int64_t n_kv, float scale) {
  float max_score = -INFINITY;
  for (int64_t j = 0; j < n_kv; j++) {
    scores[j] *= scale;
    max_score = std::fmax(max_score, scores[j]);
  }
  float sum = 0;
  for (int64_t j = 0; j < n_kv; j++) {
    scores[j] = std::exp(scores[j] - max_score);
    sum += scores[j];
  }
  const float inv = 1.0f / sum;
  for (int64_t j = 0; j < n_kv; j++) scores[j] *= inv;
  RoundHalf(scores, n_kv);
}

#ifdef GL_ATTN_X86
__attribute__((target("avx2,fma,f16c"))) float dot_f16c(const float* q, const uint16_t* k, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 kv = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k + i)));
    acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), kv, acc);
  }
  __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
  s4 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  s4 = _mm_add_ss(s4, _mm_movehdup_ps(s4));
  float s = _mm_cvtss_f32(s4);
  for (; i < n; i++) s += q[i] * _cvtsh_ss(k[i]);
  return s;
}
__attribute__((target("avx2,fma,f16c"))) void axpy_f16c(float a, const uint16_t* v, float* y, int64_t n) {
  const __m256 av = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 vv = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v + i)));
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, vv, _mm256_loadu_ps(y + i)));
  }
  for (; i < n; i++) y[i] += a * _cvtsh_ss(v[i]);
}
__attribute__((target("avx2,fma,f16c"))) void round_f16c(float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT);
    _mm256_storeu_ps(x + i, _mm256_cvtph_ps(h));
  }
  for (; i < n; i++) x[i] = _cvtsh_ss(_cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT));
}
__attribute__((target("avx2,fma,f16c"))) void to_half_f16c(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  }
  for (; i < n; i++) y[i] = _cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT);
}

__attribute__((target("avx512f,avx2,fma,f16c"))) float dot_avx512(const float* q, const uint16_t* k, int64_t n) {
  __m512 acc = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 kv = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(k + i)));
    acc = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), kv, acc);
  }
  float s = _mm512_reduce_add_ps(acc);
  return s + dot_f16c(q + i, k + i, n - i);
}
__attribute__((target("avx512f,avx2,fma,f16c"))) void axpy_avx512(float a, const uint16_t* v, float* y, int64_t n) {
  const __m512 av = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 vv = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + i)));
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(av, vv, _mm512_loadu_ps(y + i)));
  }
  axpy_f16c(a, v + i, y + i, n - i);
}

// The sums of four vectors' lanes, in lanes 0, 4, 8 and 12. One reduction
// tree for four heads' scores costs a third of four separate reductions,
// which were most of a score's instructions.
__attribute__((target("avx512f,avx2,fma,f16c"))) inline __m512 sum_lanes4(__m512 a, __m512 b, __m512 c, __m512 d) {
  const __m512 ab = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE));
  const __m512 cd = _mm512_add_ps(_mm512_shuffle_f32x4(c, d, 0x44), _mm512_shuffle_f32x4(c, d, 0xEE));
  __m512 s = _mm512_add_ps(_mm512_shuffle_f32x4(ab, cd, 0x88), _mm512_shuffle_f32x4(ab, cd, 0xDD));
  s = _mm512_add_ps(s, _mm512_permute_ps(s, 0x4E));
  return _mm512_add_ps(s, _mm512_permute_ps(s, 0xB1));
}

// The group kernels keep every head's query (scores) or output (values) in
// registers for the whole run of keys: the sums are formed in the same order
// as dot_avx512 and axpy_avx512 form them, so the results are bit-identical.
template <int HD16, int G>
__attribute__((target("avx512f,avx2,fma,f16c"))) void scores_avx512(const float* q16, const uint16_t* k, int64_t stride,
                                                                    int64_t n_kv, float* scores, int64_t scores_stride) {
  __m512 q[G][HD16];
  for (int g = 0; g < G; g++)
    for (int c = 0; c < HD16; c++) q[g][c] = _mm512_loadu_ps(q16 + g * HD16 * 16 + c * 16);
  for (int64_t j = 0; j < n_kv; j++) {
    const uint16_t* kj = k + j * stride;
    __m512 kz[HD16];
    for (int c = 0; c < HD16; c++) kz[c] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(kj + c * 16)));
    __m512 acc[4];
    for (int g = 0; g < 4; g++) {
      acc[g] = _mm512_setzero_ps();
      if (g < G) {
        for (int c = 0; c < HD16; c++) acc[g] = _mm512_fmadd_ps(q[g][c], kz[c], acc[g]);
      }
    }
    if constexpr (G == 1) {
      scores[j] = _mm512_reduce_add_ps(acc[0]);
    } else {
      alignas(64) float sums[16];
      _mm512_store_ps(sums, sum_lanes4(acc[0], acc[1], acc[2], acc[3]));
      for (int g = 0; g < G; g++) scores[g * scores_stride + j] = sums[4 * g];
    }
  }
}

template <int HD16, int G>
__attribute__((target("avx512f,avx2,fma,f16c"))) void values_avx512(const float* p, int64_t p_stride, const uint16_t* v,
                                                                    int64_t stride, int64_t n_kv, float* out) {
  __m512 acc[G][HD16];
  for (int g = 0; g < G; g++)
    for (int c = 0; c < HD16; c++) acc[g][c] = _mm512_setzero_ps();
  for (int64_t j = 0; j < n_kv; j++) {
    const uint16_t* vj = v + j * stride;
    __m512 vz[HD16];
    for (int c = 0; c < HD16; c++) vz[c] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(vj + c * 16)));
    for (int g = 0; g < G; g++) {
      const __m512 pj = _mm512_set1_ps(p[g * p_stride + j]);
      for (int c = 0; c < HD16; c++) acc[g][c] = _mm512_fmadd_ps(pj, vz[c], acc[g][c]);
    }
  }
  for (int g = 0; g < G; g++)
    for (int c = 0; c < HD16; c++) _mm512_storeu_ps(out + g * HD16 * 16 + c * 16, acc[g][c]);
}

// Dispatch on the head size (64 or 128) and the number of heads; false for shapes it does not cover.
bool group_scores_avx512(const float* q16, int n_heads, const uint16_t* k, int64_t stride, int64_t n_kv, int64_t hd,
                         float* scores, int64_t scores_stride) {
  if (hd == 64) {
    switch (n_heads) {
      case 1: scores_avx512<4, 1>(q16, k, stride, n_kv, scores, scores_stride); return true;
      case 2: scores_avx512<4, 2>(q16, k, stride, n_kv, scores, scores_stride); return true;
      case 3: scores_avx512<4, 3>(q16, k, stride, n_kv, scores, scores_stride); return true;
      case 4: scores_avx512<4, 4>(q16, k, stride, n_kv, scores, scores_stride); return true;
    }
  } else if (hd == 128) {
    for (int g = 0; g < n_heads; g += 2) {
      if (n_heads - g >= 2) {
        scores_avx512<8, 2>(q16 + g * hd, k, stride, n_kv, scores + g * scores_stride, scores_stride);
      } else {
        scores_avx512<8, 1>(q16 + g * hd, k, stride, n_kv, scores + g * scores_stride, scores_stride);
      }
    }
    return true;
  }
  return false;
}

bool group_values_avx512(const float* p, int n_heads, int64_t p_stride, const uint16_t* v, int64_t stride, int64_t n_kv,
                         int64_t hd, float* out) {
  if (hd == 64) {
    switch (n_heads) {
      case 1: values_avx512<4, 1>(p, p_stride, v, stride, n_kv, out); return true;
      case 2: values_avx512<4, 2>(p, p_stride, v, stride, n_kv, out); return true;
      case 3: values_avx512<4, 3>(p, p_stride, v, stride, n_kv, out); return true;
      case 4: values_avx512<4, 4>(p, p_stride, v, stride, n_kv, out); return true;
    }
  } else if (hd == 128) {
    for (int g = 0; g < n_heads; g += 2) {
      if (n_heads - g >= 2) {
        values_avx512<8, 2>(p + g * p_stride, p_stride, v, stride, n_kv, out + g * hd);
      } else {
        values_avx512<8, 1>(p + g * p_stride, p_stride, v, stride, n_kv, out + g * hd);
      }
    }
    return true;
  }
  return false;
}

// The scalar softmax's passes 16 scores at a time; the last, partial vector under a mask.
__attribute__((target("avx512f,avx2,fma,f16c"))) void softmax_to_half_avx512(float* scores, int64_t n_kv, float scale) {
  const __m512 vscale = _mm512_set1_ps(scale);
  __m512 vmax = _mm512_set1_ps(-INFINITY);
  for (int64_t j = 0; j < n_kv; j += 16) {
    const __mmask16 k = first_lanes(n_kv - j);
    const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, scores + j), vscale);
    _mm512_mask_storeu_ps(scores + j, k, v);
    vmax = _mm512_mask_max_ps(vmax, k, vmax, v);
  }
  const __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
  __m512 vsum = _mm512_setzero_ps();
  for (int64_t j = 0; j < n_kv; j += 16) {
    const __mmask16 k = first_lanes(n_kv - j);
    const __m512 e = exp_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, scores + j), m));
    _mm512_mask_storeu_ps(scores + j, k, e);
    vsum = _mm512_mask_add_ps(vsum, k, vsum, e);
  }
  const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vsum));
  for (int64_t j = 0; j < n_kv; j += 16) {
    const __mmask16 k = first_lanes(n_kv - j);
    const __m512 p = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, scores + j), inv);
    _mm512_mask_storeu_ps(scores + j, k, _mm512_cvtph_ps(_mm512_cvtps_ph(p, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)));
  }
}

// F16C by its CPUID bit: not every compiler's __builtin_cpu_supports knows its name.
bool has_f16c() {
  unsigned a, b, c, d;
  return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29)) != 0;
}

HalfOps pick() {
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c();
  if (avx2 && __builtin_cpu_supports("avx512f")) return {"avx512", dot_avx512, axpy_avx512, round_f16c, to_half_f16c, group_scores_avx512, group_values_avx512, softmax_to_half_avx512};
  if (avx2) return {"f16c", dot_f16c, axpy_f16c, round_f16c, to_half_f16c, nullptr, nullptr, softmax_scalar<round_f16c>};
  return {"generic", dot_generic, axpy_generic, round_generic, to_half_generic, nullptr, nullptr, softmax_scalar<round_generic>};
}
#elif defined(__aarch64__)
float dot_neon(const float* q, const uint16_t* k, int64_t n) {
  float32x4_t acc = vdupq_n_f32(0);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float32x4_t kv = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(k + i)));
    acc = vfmaq_f32(acc, vld1q_f32(q + i), kv);
  }
  float s = vaddvq_f32(acc);
  for (; i < n; i++) s += q[i] * fp16_to_fp32(k[i]);
  return s;
}
void axpy_neon(float a, const uint16_t* v, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float32x4_t vv = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(v + i)));
    vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), vv, a));
  }
  for (; i < n; i++) y[i] += a * fp16_to_fp32(v[i]);
}
void round_neon(float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(x + i, vcvt_f32_f16(vcvt_f16_f32(vld1q_f32(x + i))));
  for (; i < n; i++) x[i] = fp16_to_fp32(fp32_to_fp16(x[i]));
}
void to_half_neon(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1_u16(y + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(x + i))));
  for (; i < n; i++) y[i] = fp32_to_fp16(x[i]);
}
HalfOps pick() { return {"neon", dot_neon, axpy_neon, round_neon, to_half_neon, nullptr, nullptr, softmax_scalar<round_neon>}; }
#else
HalfOps pick() { return {"generic", dot_generic, axpy_generic, round_generic, to_half_generic, nullptr, nullptr, softmax_scalar<round_generic>}; }
#endif

const HalfOps& ops() {
  static const HalfOps chosen = pick();
  return chosen;
}

}  // namespace

void attend_heads_f16(const float* q, int n_heads, const uint16_t* k, const uint16_t* v, int64_t stride, int64_t n_kv,
                      int64_t hd, float scale, float* scores, int64_t scores_stride, float* q16, float* out) {
  const HalfOps& h = ops();
  for (int64_t i = 0; i < n_heads * hd; i++) q16[i] = q[i];
  h.round_half(q16, n_heads * hd);
  if (!h.group_scores || !h.group_scores(q16, n_heads, k, stride, n_kv, hd, scores, scores_stride)) {
    for (int g = 0; g < n_heads; g++) {
      for (int64_t j = 0; j < n_kv; j++) scores[g * scores_stride + j] = h.dot(q16 + g * hd, k + j * stride, hd);
    }
  }
  for (int g = 0; g < n_heads; g++) h.softmax_to_half(scores + g * scores_stride, n_kv, scale);
  if (!h.group_values || !h.group_values(scores, n_heads, scores_stride, v, stride, n_kv, hd, out)) {
    for (int g = 0; g < n_heads; g++) {
      float* o = out + g * hd;
      for (int64_t i = 0; i < hd; i++) o[i] = 0;
      for (int64_t j = 0; j < n_kv; j++) h.axpy(scores[g * scores_stride + j], v + j * stride, o, hd);
    }
  }
}

void store_row_f16(const float* src, uint16_t* dst, int64_t n) { ops().to_half(src, dst, n); }

void round_row_f16(float* x, int64_t n) { ops().round_half(x, n); }

const char* attention_f16_isa() { return ops().name; }

}  // namespace ghostline::cpu
