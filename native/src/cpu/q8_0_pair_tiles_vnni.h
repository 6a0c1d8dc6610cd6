// Q8_0 products on the pair layout (q8_0_pair_layout.h), two blocks in each
// 512-bit vector, for CPUs with AVX-512 VNNI. Included only by
// kernels_avx512.cc, after kernels_x86.h.
//
// A pair of blocks costs one aligned load, one vpdpbusd, one conversion and
// one FMA whose two scales come as one 64-bit broadcast from
// memory; a group of 8 blocks' scales is one 16-byte load, and the weights'
// +128 offset is taken out with one 8-lane FMA on each group's scales.
// Decode streams better without a bias vector loaded beside each pair (the
// previous form): on the development VM, while its memory was fast, one
// 2-thread pass over 1.1 GB of packed rows reached 86-88% of the read
// bandwidth measured beside it with them and 90-96% without. The 256-bit tile
// on the file's layout spends about twice the instructions per block, and on
// the development VM that, not memory, capped decode at about 26 GB/s a core
// with the weights in L2. Every tile shape, decode's 1 x 1 included, sums an
// output in the same order, so a token's outputs stay bit-identical alone and
// in a batch.
//
// Decode issues no software prefetches: on aligned records the hardware
// prefetchers alone did better (91% of the read bandwidth measured beside it
// against 84% with prefetches 8 KiB ahead into L1, and no better into L2).
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "cpu/q8_0_pair_layout.h"

namespace ghostline::cpu {
namespace {

// Activations in the pair layout (q8_0_pair_layout.h) as vectors.
struct PreparedPairs {
  const __m512i* q;  // (n_tok, np)
  const float* d;    // (n_tok, d_stride)
  const float* e;    // (n_tok, d_stride)
  int64_t np, d_stride;
};

inline PreparedPairs prepared_from(const PairActivations& a) {
  return {reinterpret_cast<const __m512i*>(a.quants), a.scales, a.excess, a.np, a.d_stride};
}

// dword j of `even` to lane 2j and of `odd` to lane 2j + 1.
inline __m512i interleave_blocks(__m256i even, __m256i odd) {
  const __m512i idx = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  return _mm512_permutex2var_epi32(_mm512_castsi256_si512(even), idx, _mm512_castsi256_si512(odd));
}

// Writes the pair layout of n_tok rows of activation blocks into `prepared`
// (pair_activation_bytes(n_tok, cols) bytes, 64-byte aligned).
void prepare_q8_0_pairs(const gl_block_q8_0* x, int64_t n_tok, int64_t cols, void* prepared) {
  const PairActivations a = pair_activations(prepared, n_tok, cols);
  const int64_t nb = cols / GL_QK8_0;
  auto* q = reinterpret_cast<__m512i*>(const_cast<uint8_t*>(a.quants));
  auto* d = const_cast<float*>(a.scales);
  auto* e = const_cast<float*>(a.excess);
  for (int64_t t = 0; t < n_tok; t++) {
    const gl_block_q8_0* xt = x + t * nb;
    for (int64_t p = 0; p < a.np; p++) {
      const int64_t b = 2 * p;
      _mm512_store_si512(q + t * a.np + p, interleave_blocks(load_quants(xt[b]), b + 1 < nb ? load_quants(xt[b + 1])
                                                                                          : _mm256_setzero_si256()));
    }
    // vpdpbusd multiplies unsigned by signed bytes: the weights are stored as
    // w + 128, so a block's product comes out 128 * sum(x) too high; times the
    // two scales, that is taken back out once per block (DotVnni::bias gives
    // -128 * sum(x) in 8 parts). A pad block's zero activations make its
    // product 0 whatever its weights.
    float* dt = d + t * a.d_stride;
    float* et = e + t * a.d_stride;
    int64_t b = 0;
    for (; b < nb; b++) {
      dt[b] = half_to_float(xt[b].d);
      et[b] = float(_mm512_reduce_add_epi32(_mm512_zextsi256_si512(DotVnni::bias(load_quants(xt[b]))))) * dt[b];
    }
    for (; b < a.d_stride; b++) dt[b] = et[b] = 0.0f;
  }
}

inline PreparedPairs pair_tokens_from(const PreparedPairs& x, int64_t t) {
  return {x.q + t * x.np, x.d + t * x.d_stride, x.e + t * x.d_stride, x.np, x.d_stride};
}

// Two floats (an even and an odd block's scale) repeated over the 16 lanes.
inline __m512 broadcast_pair(const float* s) {
  double both;
  std::memcpy(&both, s, sizeof both);
  return _mm512_castpd_ps(_mm512_set1_pd(both));
}

// A zeroed register for vpdpbusd to accumulate into. Written as the xor zero
// idiom, which the core resolves at rename; left to itself the compiler
// copies one shared zero register each time, an extra vector operation per
// product that cost prefill 9%.
// The operands are inputs only so that no two products share one zero.
inline __m512i dot_pair(__m512i w, __m512i x) {
  __m512i z;
  __asm__("vpxord %0, %0, %0" : "=v"(z) : "v"(w), "v"(x));
  return _mm512_dpbusd_epi32(z, w, x);
}

// R packed rows (records l.row_bytes apart) against T prepared tokens; y[t * ldy + i].
template <int R, int T>
inline void pair_tile(const uint8_t* w, const PairLayout& l, const PreparedPairs& x, float* y, int64_t ldy) {
  __m512 acc[R][T];
  for (int i = 0; i < R; i++)
    for (int t = 0; t < T; t++) acc[i][t] = _mm512_setzero_ps();
  // Blocks go in groups of 8 (4 pairs): the group's R * T * 8 scale products
  // are computed as vectors, then each FMA takes its pair of them from memory.
  for (int64_t g = 0; g < l.nb; g += 8) {
    const int pairs = int(std::min<int64_t>(8, l.nb - g) + 1) / 2;
    alignas(64) float s[R][T][8];
    for (int i = 0; i < R; i++) {
      const uint8_t* row = w + i * l.row_bytes;
      const __m256 dw = _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(row + 2 * g)));
      for (int t = 0; t < T; t++) _mm256_store_ps(s[i][t], _mm256_mul_ps(dw, _mm256_loadu_ps(x.d + t * x.d_stride + g)));
    }
    for (int k = 0; k < pairs; k++) {
      const int64_t p = g / 2 + k;
      __m512i xq[T];
      for (int t = 0; t < T; t++) xq[t] = _mm512_load_si512(x.q + t * x.np + p);
      for (int i = 0; i < R; i++) {
        const uint8_t* quants = w + i * l.row_bytes + l.scale_bytes;
        const __m512i wq = _mm512_load_si512(quants + 64 * p);
        for (int t = 0; t < T; t++) {
          const __m512 prod = _mm512_cvtepi32_ps(dot_pair(wq, xq[t]));
          acc[i][t] = _mm512_fmadd_ps(prod, broadcast_pair(&s[i][t][2 * k]), acc[i][t]);
        }
      }
    }
  }
  // The offset's excess, from the row's scales again (now in L1): kept out of
  // the loop above, where its R * T accumulators cost prefill 7% in spills.
  for (int i = 0; i < R; i++) {
    const uint8_t* row = w + i * l.row_bytes;
    for (int t = 0; t < T; t++) {
      __m256 excess = _mm256_setzero_ps();
      for (int64_t g = 0; g < l.nb; g += 8) {
        const __m256 dw = _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(row + 2 * g)));
        excess = _mm256_fmadd_ps(dw, _mm256_loadu_ps(x.e + t * x.d_stride + g), excess);
      }
      y[t * ldy + i] = _mm512_reduce_add_ps(_mm512_add_ps(acc[i][t], _mm512_zextps256_ps512(excess)));
    }
  }
}

// R rows against tokens [0, n): full tiles of T tokens, then the remainder.
template <int R, int T>
inline void pair_rows(const uint8_t* w, const PairLayout& l, const PreparedPairs& x, int64_t n, float* y, int64_t ldy) {
  int64_t t = 0;
  for (; t + T <= n; t += T) pair_tile<R, T>(w, l, pair_tokens_from(x, t), y + t * ldy, ldy);
  if constexpr (T > 1) {
    if (n > t) pair_rows<R, T - 1>(w, l, pair_tokens_from(x, t), n - t, y + t * ldy, ldy);
  }
}

// Decode streams one row after another (one linear stream from memory, which
// measured faster than interleaving rows); prefill runs chunks of tokens whose
// activations stay in L2 past R x T tiles that stay in L1.
template <int R, int T>
void matmul_q8_0_pairs(const uint8_t* w, int64_t cols, int64_t r0, int64_t r1, const void* prepared, int64_t n_tok,
                       float* y, int64_t ldy) {
  const PairLayout l = pair_layout(cols);
  const PreparedPairs xp = prepared_from(pair_activations(prepared, n_tok, cols));
  if (n_tok == 1) {
    for (int64_t r = r0; r < r1; r++) pair_tile<1, 1>(w + r * l.row_bytes, l, xp, y + r, ldy);
    return;
  }
  const int64_t chunk = std::max<int64_t>(T, (192 * 1024 / l.row_bytes) / T * T);
  for (int64_t t0 = 0; t0 < n_tok; t0 += chunk) {
    const int64_t nt = std::min(chunk, n_tok - t0);
    const PreparedPairs xc = pair_tokens_from(xp, t0);
    float* yc = y + t0 * ldy;
    int64_t r = r0;
    for (; r + R <= r1; r += R) pair_rows<R, T>(w + r * l.row_bytes, l, xc, nt, yc + r, ldy);
    for (; r < r1; r++) pair_rows<1, T>(w + r * l.row_bytes, l, xc, nt, yc + r, ldy);
  }
}

}  // namespace
}  // namespace ghostline::cpu
