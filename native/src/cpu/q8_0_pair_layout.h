// Q8_0 matrices re-laid out once, at load, for the 512-bit VNNI products
// (q8_0_pair_tiles_vnni.h). The file's 34-byte blocks put a 2-byte scale
// before every 32 quants, so a kernel gathers scales one at a time and most
// quant loads straddle cache lines; decode is then limited by instructions
// per block rather than by memory. This layout gives each row one 64-byte
// aligned record:
//
//   scales  the row's block scales (fp16) in block order, zero-padded to a
//           multiple of 64 bytes (so a group of 8 is one aligned 16-byte load);
//   quants  one 64-byte vector per pair of blocks: dword j of the even block in
//           dword 2j, of the odd block in dword 2j + 1; an odd block count gets
//           a zero pad block. Each quant is stored as q + 128 (q xor 0x80), the
//           unsigned operand that VNNI's vpdpbusd takes.
//
// Rows follow each other, so a thread's rows are still one linear stream. The
// size is the file's, give or take the padding (2176 bytes for a 2048-column
// row either way).
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/block_q8_0.h"

namespace ghostline::cpu {

struct PairLayout {
  int64_t cols = 0;
  int64_t nb = 0;           // blocks per row
  int64_t np = 0;           // pairs per row, (nb + 1) / 2
  int64_t scale_bytes = 0;  // per row, a multiple of 64
  int64_t row_bytes = 0;    // scale_bytes + 64 * np
};

PairLayout pair_layout(int64_t cols);  // cols % 32 == 0

// Activations (n_tok rows of Q8_0 blocks) prepared once for all the rows of a
// product, in the same pair layout, 64-byte aligned, one region after another:
//   quants  (n_tok, np) 64-byte vectors, interleaved as the weights are;
//   scales  (n_tok, d_stride) floats, d_stride = nb rounded up to 8, zero past nb;
//   excess  (n_tok, d_stride) floats: -128 * the block's scale * the sum of its
//           quants, which takes back out what the weights' +128 adds to a
//           block's product once it is multiplied by the weight's scale.
struct PairActivations {
  const uint8_t* quants;
  const float* scales;
  const float* excess;
  int64_t np, d_stride;
};
size_t pair_activation_bytes(int64_t n_tok, int64_t cols);
PairActivations pair_activations(const void* prepared, int64_t n_tok, int64_t cols);

// Writes the records of rows [r0, r1) of a (rows x cols) Q8_0 matrix into
// `dst`, the start of the whole packed matrix (64-byte aligned).
void pack_pair_rows(const gl_block_q8_0* src, int64_t cols, int64_t r0, int64_t r1, uint8_t* dst);

}  // namespace ghostline::cpu
