// Kernel bodies shared by the AVX2 and AVX-512 tables. Included only by
// kernels_avx2.cc and kernels_avx512.cc, each compiled with its own -m flags;
// everything here has internal linkage so that the two copies never merge.
//
// Q8_0 matrix products are built from one tile: R weight rows against T
// activation rows, R*T float accumulators of 8 lanes held in registers. Each
// weight block is loaded once for T tokens and each activation block once for
// R rows. Decode (one token) streams one row after another from memory;
// prefill keeps a few rows in L1 and runs many tokens past them.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "common/fp16.h"
#include "cpu/kernels.h"

namespace ghostline::cpu {
namespace {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }

// roundf() for 8 lanes: round half away from zero. _mm256_round_ps only offers
// ties-to-even, which would differ from the reference on exact .5 products.
// v - trunc(v) is exact, so comparing it with 0.5 decides ties exactly.
inline __m256 round_half_away(__m256 v) {
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 frac = _mm256_andnot_ps(sign_bit, _mm256_sub_ps(v, t));
  const __m256 up = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
  const __m256 step = _mm256_or_ps(_mm256_and_ps(v, sign_bit), _mm256_set1_ps(1.0f));
  return _mm256_add_ps(t, _mm256_and_ps(up, step));
}

void quantize_q8_0(const float* x, gl_block_q8_0* y, int64_t n) {
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  for (int64_t b = 0; b < n / GL_QK8_0; b++) {
    const float* xb = x + b * GL_QK8_0;
    __m256 v[4];
    for (int i = 0; i < 4; i++) v[i] = _mm256_loadu_ps(xb + 8 * i);
    __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign_bit, v[0]), _mm256_andnot_ps(sign_bit, v[1])),
                             _mm256_max_ps(_mm256_andnot_ps(sign_bit, v[2]), _mm256_andnot_ps(sign_bit, v[3])));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float amax = _mm_cvtss_f32(m4);
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = fp32_to_fp16(d);
    const __m256 vid = _mm256_set1_ps(id);
    __m256i q[4];
    for (int i = 0; i < 4; i++) q[i] = _mm256_cvtps_epi32(round_half_away(_mm256_mul_ps(v[i], vid)));
    // The packs work within 128-bit lanes; the permute puts the 32 bytes back in order.
    const __m256i q16a = _mm256_packs_epi32(q[0], q[1]);
    const __m256i q16b = _mm256_packs_epi32(q[2], q[3]);
    const __m256i q8 = _mm256_packs_epi16(q16a, q16b);
    const __m256i ordered = _mm256_permutevar8x32_epi32(q8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[b].qs), ordered);
  }
}

// Integer dot product of one weight block with one activation block, as 8
// int32 partial sums. `bias` is per activation block, computed once by
// Dot::bias() and reused against every weight row.
struct DotMaddubs {  // AVX2: |w| as unsigned times x with w's sign, then pairs to int32
  static constexpr bool kUsesBias = false;
  static __m256i bias(__m256i) { return _mm256_setzero_si256(); }
  static __m256i dot(__m256i x, __m256i, __m256i w) {
    const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
  }
};

#ifdef __AVX512VNNI__
// vpdpbusd multiplies unsigned by signed bytes: weights go in as w + 128 (one
// xor), and the accumulator starts at -128 * sum(x) to take the excess back out.
struct DotVnni {
  static constexpr bool kUsesBias = true;
  static __m256i bias(__m256i x) {
    const __m256i s = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(char(0x80)), x);
    return _mm256_sub_epi32(_mm256_setzero_si256(), s);
  }
  static __m256i dot(__m256i x, __m256i bias, __m256i w) {
    return _mm256_dpbusd_epi32(bias, _mm256_xor_si256(w, _mm256_set1_epi8(char(0x80))), x);
  }
};
#endif

inline __m256i load_quants(const gl_block_q8_0& b) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs));
}

// The scales of 8 consecutive blocks (34 bytes apart) as floats: gathered in
// general-purpose registers, which are idle here, then one conversion.
inline __m256 load_scales8(const gl_block_q8_0* b) {
  const uint64_t lo = uint64_t(b[0].d) | uint64_t(b[1].d) << 16 | uint64_t(b[2].d) << 32 | uint64_t(b[3].d) << 48;
  const uint64_t hi = uint64_t(b[4].d) | uint64_t(b[5].d) << 16 | uint64_t(b[6].d) << 32 | uint64_t(b[7].d) << 48;
  return _mm256_cvtph_ps(_mm_set_epi64x(int64_t(hi), int64_t(lo)));
}

// Activations of one call, prepared once and shared by every row tile: the
// scales as floats and, for VNNI, each block's bias.
struct PreparedX {
  const gl_block_q8_0* q;  // (n_tok, nb) the caller's blocks
  const float* d;          // (n_tok, nb)
  const __m256i* bias;     // (n_tok, nb), 32-byte aligned; unused without VNNI
  int64_t nb;
};

template <class Dot>
PreparedX prepare_x(const gl_block_q8_0* x, int64_t n_tok, int64_t nb) {
  // Per thread, grown as needed: no allocation once the largest shape was seen.
  thread_local std::vector<float> d;
  struct alignas(32) Bias {
    int32_t lanes[8];
  };
  thread_local std::vector<Bias> bias;  // aligned by C++17's aligned operator new
  const size_t n = size_t(n_tok * nb);
  if (d.size() < n) d.resize(n);
  if (Dot::kUsesBias && bias.size() < n) bias.resize(n);
  for (size_t i = 0; i < n; i++) {
    d[i] = half_to_float(x[i].d);
    if constexpr (Dot::kUsesBias) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(bias[i].lanes), Dot::bias(load_quants(x[i])));
    }
  }
  return {x, d.data(), reinterpret_cast<const __m256i*>(bias.data()), nb};
}

// Decode's software prefetch distance. The rows of a thread's range are one
// contiguous run of memory, so this runs ahead into the following rows too.
constexpr int64_t kPrefetchBytes = 8192;

// R weight rows (row stride nb blocks) against T prepared tokens; y[t * ldy + i].
// Blocks go in groups of 8 so that the 8 * R * T products of scales are
// computed as vectors and each multiply-add takes its scale from memory.
template <class Dot, int R, int T>
inline void q8_tile(const gl_block_q8_0* w, const PreparedX& x, float* y, int64_t ldy) {
  // One accumulator per output in every tile shape, so that an output is the
  // same sum in the same order whether it is computed alone (decode) or in a
  // prefill tile: a prompt evaluated in one call, in chunks or token by token
  // gives bit-identical logits, and so do cached and fresh prefixes. (Decode's
  // single chain waits on memory, not on the multiply-add.)
  const int64_t nb = x.nb;
  __m256 acc[R][T];
  for (int i = 0; i < R; i++)
    for (int t = 0; t < T; t++) acc[i][t] = _mm256_setzero_ps();
  auto step = [&](int64_t b, auto&& scale) {
    __m256i xq[T], xb[T];
    for (int t = 0; t < T; t++) {
      xq[t] = load_quants(x.q[t * nb + b]);
      if constexpr (Dot::kUsesBias) xb[t] = _mm256_load_si256(x.bias + t * nb + b);
    }
    for (int i = 0; i < R; i++) {
      const __m256i wq = load_quants(w[i * nb + b]);
      for (int t = 0; t < T; t++) {
        const __m256 p = _mm256_cvtepi32_ps(Dot::dot(xq[t], xb[t], wq));
        acc[i][t] = _mm256_fmadd_ps(p, _mm256_set1_ps(scale(i, t)), acc[i][t]);
      }
    }
  };
  int64_t b = 0;
  for (; b + 8 <= nb; b += 8) {
    if constexpr (T == 1) {
      for (int i = 0; i < R; i++) {
        const char* p = reinterpret_cast<const char*>(w + i * nb + b) + kPrefetchBytes;
        for (int line = 0; line < 8 * int(sizeof(gl_block_q8_0)); line += 64) _mm_prefetch(p + line, _MM_HINT_T0);
      }
    }
    alignas(32) float s[R][T][8];
    for (int i = 0; i < R; i++) {
      const __m256 dw = load_scales8(w + i * nb + b);
      for (int t = 0; t < T; t++) _mm256_store_ps(s[i][t], _mm256_mul_ps(dw, _mm256_loadu_ps(x.d + t * nb + b)));
    }
    for (int k = 0; k < 8; k++) step(b + k, [&](int i, int t) { return s[i][t][k]; });
  }
  for (; b < nb; b++) {
    step(b, [&](int i, int t) { return half_to_float(w[i * nb + b].d) * x.d[t * nb + b]; });
  }
  for (int i = 0; i < R; i++) {
    for (int t = 0; t < T; t++) y[t * ldy + i] = hsum(acc[i][t]);
  }
}

inline PreparedX tokens_from(const PreparedX& x, int64_t t) {
  return {x.q + t * x.nb, x.d + t * x.nb, x.bias + t * x.nb, x.nb};
}

// R rows against tokens [0, n): full tiles of T tokens, then the remainder.
template <class Dot, int R, int T>
inline void q8_rows(const gl_block_q8_0* w, const PreparedX& x, int64_t n, float* y, int64_t ldy) {
  int64_t t = 0;
  for (; t + T <= n; t += T) q8_tile<Dot, R, T>(w, tokens_from(x, t), y + t * ldy, ldy);
  if constexpr (T > 1) {
    if (n > t) q8_rows<Dot, R, T - 1>(w, tokens_from(x, t), n - t, y + t * ldy, ldy);
  }
}

// R x T: the prefill tile.
template <class Dot, int R, int T>
void matmul_q8_0(const gl_block_q8_0* w, int64_t cols, int64_t r0, int64_t r1, const gl_block_q8_0* x,
                 int64_t n_tok, float* y, int64_t ldy) {
  const int64_t nb = cols / GL_QK8_0;
  if (n_tok == 1) {
    const PreparedX xp = prepare_x<Dot>(x, 1, nb);
    // One row at a time: the weights are read as a single linear stream, which
    // measured clearly faster from memory than interleaving several rows (the
    // hardware prefetchers lose track of many short streams); the activations
    // are reread from L1 for each row.
    for (int64_t r = r0; r < r1; r++) q8_tile<Dot, 1, 1>(w + r * nb, xp, y + r, ldy);
    return;
  }
  // Tokens go in chunks whose activations stay in L2 while every row tile of
  // [r0, r1) runs past them; each row tile stays in L1 across the chunk.
  const int64_t row_bytes = nb * int64_t(sizeof(gl_block_q8_0));
  const int64_t chunk = std::max<int64_t>(T, (192 * 1024 / row_bytes) / T * T);
  for (int64_t t0 = 0; t0 < n_tok; t0 += chunk) {
    const int64_t nt = std::min(chunk, n_tok - t0);
    const PreparedX xp = prepare_x<Dot>(x + t0 * nb, nt, nb);
    float* yc = y + t0 * ldy;
    int64_t r = r0;
    for (; r + R <= r1; r += R) q8_rows<Dot, R, T>(w + r * nb, xp, nt, yc + r, ldy);
    for (; r < r1; r++) q8_rows<Dot, 1, T>(w + r * nb, xp, nt, yc + r, ldy);
  }
}

// Float-activation products for f16, bf16 and f32 weights: 4 rows at a time,
// 8 columns per step, the odd columns at the end in scalar code.
struct LoadF16 {
  using T = uint16_t;
  static __m256 load8(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static float load1(const uint16_t* p) { return half_to_float(*p); }
};
struct LoadBf16 {
  using T = uint16_t;
  static __m256 load8(const uint16_t* p) {
    const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
  }
  static float load1(const uint16_t* p) { return bf16_to_fp32(*p); }
};
struct LoadF32 {
  using T = float;
  static __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
  static float load1(const float* p) { return *p; }
};

template <class Load, int R>
inline void float_tile(const typename Load::T* w, int64_t cols, const float* x, float* y) {
  __m256 acc[R];
  for (int i = 0; i < R; i++) acc[i] = _mm256_setzero_ps();
  int64_t c = 0;
  for (; c + 8 <= cols; c += 8) {
    const __m256 xv = _mm256_loadu_ps(x + c);
    for (int i = 0; i < R; i++) acc[i] = _mm256_fmadd_ps(Load::load8(w + i * cols + c), xv, acc[i]);
  }
  for (int i = 0; i < R; i++) {
    float s = hsum(acc[i]);
    for (int64_t k = c; k < cols; k++) s += Load::load1(w + i * cols + k) * x[k];
    y[i] = s;
  }
}

template <class Load>
void matmul_float(const typename Load::T* w, int64_t cols, int64_t r0, int64_t r1, const float* x,
                  int64_t n_tok, float* y, int64_t ldy) {
  for (int64_t t = 0; t < n_tok; t++) {
    int64_t r = r0;
    for (; r + 4 <= r1; r += 4) float_tile<Load, 4>(w + r * cols, cols, x + t * cols, y + t * ldy + r);
    for (; r < r1; r++) float_tile<Load, 1>(w + r * cols, cols, x + t * cols, y + t * ldy + r);
  }
}

}  // namespace
}  // namespace ghostline::cpu
