// The AVX-512 tables (Skylake-X, Ice Lake, Zen 4 and later). Both use 256-bit
// vectors, which avoids the clock penalty some CPUs take on 512-bit ones, and
// the 32 registers of AVX-512VL for larger tiles than AVX2 can hold. The
// "avx512" table uses no VNNI instructions, for CPUs without them.
#include "cpu/kernels_x86.h"

namespace ghostline::cpu {

const KernelTable* avx512_kernels() {
  static const KernelTable table = {
      "avx512",
      quantize_q8_0,
      matmul_q8_0<DotMaddubs, 4, 4>,
      matmul_float<LoadF16>,
      matmul_float<LoadBf16>,
      matmul_float<LoadF32>,
  };
  return &table;
}

const KernelTable* avx512vnni_kernels() {
  static const KernelTable table = {
      "avx512vnni",
      quantize_q8_0,
      matmul_q8_0<DotVnni, 4, 4>,
      matmul_float<LoadF16>,
      matmul_float<LoadBf16>,
      matmul_float<LoadF32>,
  };
  return &table;
}

}  // namespace ghostline::cpu
