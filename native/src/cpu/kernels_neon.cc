// The NEON table for AArch64 (Apple silicon, Graviton, Ampere, Snapdragon).
// Where the compiler targets the dot-product extension (__ARM_FEATURE_DOTPROD,
// e.g. -march=armv8.2-a+dotprod or any Apple target), Q8_0 blocks use sdot;
// otherwise widening multiplies. Same tiling as the x86 tables: R weight rows
// against T tokens, one float accumulator of 4 lanes per pair.
#include <arm_neon.h>

#include <algorithm>
#include <cstdint>

#include "common/fp16.h"
#include "cpu/kernels.h"

namespace ghostline::cpu {
namespace {

void quantize_q8_0(const float* x, gl_block_q8_0* y, int64_t n) {
  for (int64_t b = 0; b < n / GL_QK8_0; b++) {
    const float* xb = x + b * GL_QK8_0;
    float32x4_t v[8];
    for (int i = 0; i < 8; i++) v[i] = vld1q_f32(xb + 4 * i);
    float32x4_t m = vabsq_f32(v[0]);
    for (int i = 1; i < 8; i++) m = vmaxq_f32(m, vabsq_f32(v[i]));
    const float amax = vmaxvq_f32(m);
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = fp32_to_fp16(d);
    int16x8_t q16[4];
    for (int i = 0; i < 4; i++) {
      // vcvtaq: round to nearest, ties away from zero, exactly as roundf().
      const int32x4_t lo = vcvtaq_s32_f32(vmulq_n_f32(v[2 * i], id));
      const int32x4_t hi = vcvtaq_s32_f32(vmulq_n_f32(v[2 * i + 1], id));
      q16[i] = vcombine_s16(vqmovn_s32(lo), vqmovn_s32(hi));
    }
    vst1q_s8(y[b].qs, vcombine_s8(vqmovn_s16(q16[0]), vqmovn_s16(q16[1])));
    vst1q_s8(y[b].qs + 16, vcombine_s8(vqmovn_s16(q16[2]), vqmovn_s16(q16[3])));
  }
}

// Integer dot product of two 32-value blocks as 4 int32 partial sums.
// Activations are in [-127, 127] (quantize_q8_0 never yields -128), so the
// widening path's int16 pair sums cannot overflow.
inline int32x4_t dot_block(int8x16_t w0, int8x16_t w1, int8x16_t x0, int8x16_t x1) {
#if defined(__ARM_FEATURE_DOTPROD)
  return vdotq_s32(vdotq_s32(vdupq_n_s32(0), w0, x0), w1, x1);
#else
  int16x8_t p0 = vmull_s8(vget_low_s8(w0), vget_low_s8(x0));
  p0 = vmlal_s8(p0, vget_high_s8(w0), vget_high_s8(x0));
  int16x8_t p1 = vmull_s8(vget_low_s8(w1), vget_low_s8(x1));
  p1 = vmlal_s8(p1, vget_high_s8(w1), vget_high_s8(x1));
  return vpadalq_s16(vpaddlq_s16(p0), p1);
#endif
}

constexpr int64_t kPrefetchBytes = 768;

template <int R, int T>
inline void q8_tile(const gl_block_q8_0* w, const gl_block_q8_0* x, int64_t nb, float* y, int64_t ldy) {
  float32x4_t acc[R][T];
  for (int i = 0; i < R; i++)
    for (int t = 0; t < T; t++) acc[i][t] = vdupq_n_f32(0.0f);
  for (int64_t b = 0; b < nb; b++) {
    if constexpr (T == 1) {
      for (int i = 0; i < R; i++) __builtin_prefetch(reinterpret_cast<const char*>(w + i * nb + b) + kPrefetchBytes);
    }
    int8x16_t x0[T], x1[T];
    float dx[T];
    for (int t = 0; t < T; t++) {
      const gl_block_q8_0& xb = x[t * nb + b];
      x0[t] = vld1q_s8(xb.qs);
      x1[t] = vld1q_s8(xb.qs + 16);
      dx[t] = fp16_to_fp32(xb.d);
    }
    for (int i = 0; i < R; i++) {
      const gl_block_q8_0& wb = w[i * nb + b];
      const int8x16_t w0 = vld1q_s8(wb.qs);
      const int8x16_t w1 = vld1q_s8(wb.qs + 16);
      const float dw = fp16_to_fp32(wb.d);
      for (int t = 0; t < T; t++) {
        const float32x4_t p = vcvtq_f32_s32(dot_block(w0, w1, x0[t], x1[t]));
        acc[i][t] = vfmaq_n_f32(acc[i][t], p, dw * dx[t]);
      }
    }
  }
  for (int i = 0; i < R; i++)
    for (int t = 0; t < T; t++) y[t * ldy + i] = vaddvq_f32(acc[i][t]);
}

template <int R, int T>
inline void q8_rows(const gl_block_q8_0* w, const gl_block_q8_0* x, int64_t nb, int64_t n, float* y, int64_t ldy) {
  int64_t t = 0;
  for (; t + T <= n; t += T) q8_tile<R, T>(w, x + t * nb, nb, y + t * ldy, ldy);
  if constexpr (T > 1) {
    if (n > t) q8_rows<R, T - 1>(w, x + t * nb, nb, n - t, y + t * ldy, ldy);
  }
}

constexpr int kDecodeRows = 4;
constexpr int kTileRows = 4;
constexpr int kTileTokens = 2;

void matmul_q8_0(const gl_block_q8_0* w, int64_t cols, int64_t r0, int64_t r1, const gl_block_q8_0* x,
                 int64_t n_tok, float* y, int64_t ldy) {
  const int64_t nb = cols / GL_QK8_0;
  if (n_tok == 1) {
    int64_t r = r0;
    for (; r + kDecodeRows <= r1; r += kDecodeRows) q8_tile<kDecodeRows, 1>(w + r * nb, x, nb, y + r, ldy);
    for (; r < r1; r++) q8_tile<1, 1>(w + r * nb, x, nb, y + r, ldy);
    return;
  }
  // Token chunks whose activations stay in L2 while all row tiles pass them.
  const int64_t row_bytes = nb * int64_t(sizeof(gl_block_q8_0));
  const int64_t chunk = std::max<int64_t>(kTileTokens, (256 * 1024 / row_bytes) / kTileTokens * kTileTokens);
  for (int64_t t0 = 0; t0 < n_tok; t0 += chunk) {
    const int64_t nt = std::min(chunk, n_tok - t0);
    const gl_block_q8_0* xc = x + t0 * nb;
    float* yc = y + t0 * ldy;
    int64_t r = r0;
    for (; r + kTileRows <= r1; r += kTileRows) q8_rows<kTileRows, kTileTokens>(w + r * nb, xc, nb, nt, yc + r, ldy);
    for (; r < r1; r++) q8_rows<1, kTileTokens>(w + r * nb, xc, nb, nt, yc + r, ldy);
  }
}

struct LoadF16 {
  using T = uint16_t;
  static float32x4_t load4(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
  static float load1(const uint16_t* p) { return fp16_to_fp32(*p); }
};
struct LoadBf16 {
  using T = uint16_t;
  static float32x4_t load4(const uint16_t* p) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16)); }
  static float load1(const uint16_t* p) { return bf16_to_fp32(*p); }
};
struct LoadF32 {
  using T = float;
  static float32x4_t load4(const float* p) { return vld1q_f32(p); }
  static float load1(const float* p) { return *p; }
};

template <class Load, int R>
inline void float_tile(const typename Load::T* w, int64_t cols, const float* x, float* y) {
  float32x4_t acc[R];
  for (int i = 0; i < R; i++) acc[i] = vdupq_n_f32(0.0f);
  int64_t c = 0;
  for (; c + 4 <= cols; c += 4) {
    const float32x4_t xv = vld1q_f32(x + c);
    for (int i = 0; i < R; i++) acc[i] = vfmaq_f32(acc[i], Load::load4(w + i * cols + c), xv);
  }
  for (int i = 0; i < R; i++) {
    float s = vaddvq_f32(acc[i]);
    for (int64_t k = c; k < cols; k++) s += Load::load1(w + i * cols + k) * x[k];
    y[i] = s;
  }
}

template <class Load>
void matmul_float(const typename Load::T* w, int64_t cols, int64_t r0, int64_t r1, const float* x, int64_t n_tok,
                  float* y, int64_t ldy) {
  for (int64_t t = 0; t < n_tok; t++) {
    int64_t r = r0;
    for (; r + 4 <= r1; r += 4) float_tile<Load, 4>(w + r * cols, cols, x + t * cols, y + t * ldy + r);
    for (; r < r1; r++) float_tile<Load, 1>(w + r * cols, cols, x + t * cols, y + t * ldy + r);
  }
}

}  // namespace

const KernelTable* neon_kernels() {
  static const KernelTable table = {
      "neon",
      quantize_q8_0,
      matmul_q8_0,
      matmul_float<LoadF16>,
      matmul_float<LoadBf16>,
      matmul_float<LoadF32>,
      nullptr,
      nullptr,
  };
  return &table;
}

}  // namespace ghostline::cpu
