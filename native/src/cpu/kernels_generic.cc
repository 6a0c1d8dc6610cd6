// The reference kernels: plain C++, one output at a time, no tricks. Every
// optimised table is tested against these, so they follow llama.cpp's own
// reference code step for step (quantize_row_q8_0_ref, vec_dot_q8_0_q8_0).
#include <cmath>

#include "common/fp16.h"
#include "cpu/kernels.h"

namespace ghostline::cpu {
namespace {

void quantize_q8_0(const float* x, gl_block_q8_0* y, int64_t n) {
  for (int64_t b = 0; b < n / GL_QK8_0; b++) {
    const float* xb = x + b * GL_QK8_0;
    float amax = 0.0f;
    for (int j = 0; j < GL_QK8_0; j++) amax = std::fmax(amax, std::fabs(xb[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = fp32_to_fp16(d);
    for (int j = 0; j < GL_QK8_0; j++) y[b].qs[j] = int8_t(std::roundf(xb[j] * id));
  }
}

void matmul_q8_0(const gl_block_q8_0* w, int64_t cols, int64_t r0, int64_t r1,
                 const gl_block_q8_0* x, int64_t n_tok, float* y, int64_t ldy) {
  const int64_t nb = cols / GL_QK8_0;
  for (int64_t t = 0; t < n_tok; t++) {
    const gl_block_q8_0* xt = x + t * nb;
    for (int64_t r = r0; r < r1; r++) {
      const gl_block_q8_0* wr = w + r * nb;
      float sum = 0.0f;
      for (int64_t b = 0; b < nb; b++) {
        int32_t isum = 0;
        for (int j = 0; j < GL_QK8_0; j++) isum += int32_t(wr[b].qs[j]) * int32_t(xt[b].qs[j]);
        sum += float(isum) * (fp16_to_fp32(wr[b].d) * fp16_to_fp32(xt[b].d));
      }
      y[t * ldy + r] = sum;
    }
  }
}

template <float (*ToFloat)(uint16_t)>
void matmul_half(const uint16_t* w, int64_t cols, int64_t r0, int64_t r1, const float* x,
                 int64_t n_tok, float* y, int64_t ldy) {
  for (int64_t t = 0; t < n_tok; t++) {
    for (int64_t r = r0; r < r1; r++) {
      float sum = 0.0f;
      for (int64_t c = 0; c < cols; c++) sum += ToFloat(w[r * cols + c]) * x[t * cols + c];
      y[t * ldy + r] = sum;
    }
  }
}

void matmul_f32(const float* w, int64_t cols, int64_t r0, int64_t r1, const float* x,
                int64_t n_tok, float* y, int64_t ldy) {
  for (int64_t t = 0; t < n_tok; t++) {
    for (int64_t r = r0; r < r1; r++) {
      float sum = 0.0f;
      for (int64_t c = 0; c < cols; c++) sum += w[r * cols + c] * x[t * cols + c];
      y[t * ldy + r] = sum;
    }
  }
}

}  // namespace

const KernelTable& generic_kernels() {
  static const KernelTable table = {
      "generic",          quantize_q8_0,
      matmul_q8_0,        matmul_half<fp16_to_fp32>,
      matmul_half<bf16_to_fp32>, matmul_f32, nullptr, nullptr,
  };
  return table;
}

}  // namespace ghostline::cpu
