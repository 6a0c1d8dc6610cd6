#include "cpu/dequantize_row.h"

#include <cstring>

#include "common/block_q8_0.h"
#include "common/fp16.h"

namespace ghostline::cpu {

void dequantize_row(TensorType type, const void* row, float* out, int64_t n) {
  const auto* bytes = static_cast<const uint8_t*>(row);
  switch (type) {
    case TensorType::F32:
      std::memcpy(out, row, static_cast<size_t>(n) * sizeof(float));
      return;
    case TensorType::F16:
    case TensorType::BF16:
      for (int64_t i = 0; i < n; i++) {
        uint16_t h;
        std::memcpy(&h, bytes + 2 * i, 2);
        out[i] = type == TensorType::F16 ? fp16_to_fp32(h) : bf16_to_fp32(h);
      }
      return;
    case TensorType::Q8_0:
      for (int64_t b = 0; b < n / GL_QK8_0; b++) {
        gl_block_q8_0 blk;
        std::memcpy(&blk, bytes + b * sizeof(gl_block_q8_0), sizeof blk);
        const float d = fp16_to_fp32(blk.d);
        for (int i = 0; i < GL_QK8_0; i++) out[b * GL_QK8_0 + i] = d * blk.qs[i];
      }
      return;
  }
}

}  // namespace ghostline::cpu
