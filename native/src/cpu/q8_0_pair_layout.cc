#include "cpu/q8_0_pair_layout.h"

#include <cstring>

namespace ghostline::cpu {

PairLayout pair_layout(int64_t cols) {
  PairLayout l;
  l.cols = cols;
  l.nb = cols / GL_QK8_0;
  l.np = (l.nb + 1) / 2;
  l.scale_bytes = (2 * l.nb + 63) / 64 * 64;
  l.row_bytes = l.scale_bytes + 64 * l.np;
  return l;
}

size_t pair_activation_bytes(int64_t n_tok, int64_t cols) {
  const PairLayout l = pair_layout(cols);
  const int64_t d_stride = (l.nb + 7) / 8 * 8;
  return size_t(n_tok * l.np * 64 + 2 * ((n_tok * d_stride * 4 + 63) / 64 * 64));
}

PairActivations pair_activations(const void* prepared, int64_t n_tok, int64_t cols) {
  const PairLayout l = pair_layout(cols);
  const int64_t d_stride = (l.nb + 7) / 8 * 8;
  const auto* base = static_cast<const uint8_t*>(prepared);
  const uint8_t* scales = base + n_tok * l.np * 64;
  const uint8_t* excess = scales + (n_tok * d_stride * 4 + 63) / 64 * 64;
  return {base, reinterpret_cast<const float*>(scales), reinterpret_cast<const float*>(excess), l.np, d_stride};
}

void pack_pair_rows(const gl_block_q8_0* src, int64_t cols, int64_t r0, int64_t r1, uint8_t* dst) {
  const PairLayout l = pair_layout(cols);
  for (int64_t r = r0; r < r1; r++) {
    const gl_block_q8_0* row = src + r * l.nb;
    uint8_t* rec = dst + r * l.row_bytes;
    // Every byte is written once: scales, their zero padding, quants, and a pad block's zeros (offset).
    for (int64_t b = 0; b < l.nb; b++) std::memcpy(rec + 2 * b, &row[b].d, 2);
    std::memset(rec + 2 * l.nb, 0, size_t(l.scale_bytes - 2 * l.nb));
    uint8_t* quants = rec + l.scale_bytes;
    if (l.nb % 2 == 1) {
      for (int j = 0; j < 8; j++) std::memset(quants + (l.np - 1) * 64 + 8 * j + 4, 0x80, 4);
    }
    for (int64_t b = 0; b < l.nb; b++) {
      uint8_t* pair = quants + (b / 2) * 64 + (b % 2) * 4;
      for (int j = 0; j < 8; j++) {  // dword j of the block, each byte offset by 128
        uint32_t word;
        std::memcpy(&word, row[b].qs + 4 * j, 4);
        word ^= 0x80808080u;
        std::memcpy(pair + 8 * j, &word, 4);
      }
    }
  }
}

}  // namespace ghostline::cpu
