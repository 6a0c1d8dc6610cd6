// The AVX2 + FMA + F16C table (x86-64 from Haswell and Zen 1 on).
#include "cpu/kernels_x86.h"

namespace ghostline::cpu {

const KernelTable* avx2_kernels() {
  // 16 vector registers: prefill tiles 2 rows x 4 tokens.
  static const KernelTable table = {
      "avx2",
      quantize_q8_0,
      matmul_q8_0<DotMaddubs, 2, 4>,
      matmul_float<LoadF16>,
      matmul_float<LoadBf16>,
      matmul_float<LoadF32>,
      nullptr,
      nullptr,
  };
  return &table;
}

}  // namespace ghostline::cpu
