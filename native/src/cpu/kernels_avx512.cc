// The AVX-512 tables (Skylake-X, Ice Lake, Zen 4 and later). Both use 256-bit
// vectors, which avoids the clock penalty some CPUs take on 512-bit ones, and
// the 32 registers of AVX-512VL for larger tiles than AVX2 can hold. The
// "avx512" table uses no VNNI instructions, for CPUs without them. The
// "avx512vnni" table also multiplies Q8_0 matrices re-laid out in pairs of
// blocks, two blocks to a 512-bit vector (q8_0_pair_tiles_vnni.h says why).
#include "cpu/kernels_x86.h"
#include "cpu/q8_0_pair_tiles_vnni.h"

namespace ghostline::cpu {

const KernelTable* avx512_kernels() {
  static const KernelTable table = {
      "avx512",
      quantize_q8_0,
      matmul_q8_0<DotMaddubs, 4, 4>,
      matmul_float<LoadF16>,
      matmul_float<LoadBf16>,
      matmul_float<LoadF32>,
      nullptr,
      nullptr,
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
      prepare_q8_0_pairs,
      matmul_q8_0_pairs<4, 4>,
  };
  return &table;
}

}  // namespace ghostline::cpu
