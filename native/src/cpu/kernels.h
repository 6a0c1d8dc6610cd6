// CPU compute kernels, one table per instruction set, chosen at run time.
//
// Weights are read in the file's layout (mmap, no copy): a matrix of `rows`
// rows of `cols` values, row-major, each row a run of blocks of its type;
// tables with matmul_q8_0_pairs also multiply Q8_0 matrices the CPU backend
// re-lays out once, at load (q8_0_pair_layout.h). Matrix
// products work on a range of output rows [r0, r1) so that the thread pool can
// split them. Activations for Q8_0 weights are first quantized to Q8_0 blocks
// the way llama.cpp does (d = max|x| / 127, q = round(x / d)), then multiplied
// with integer dot products.
#pragma once

#include <cstdint>
#include <string>

#include "common/block_q8_0.h"

namespace ghostline::cpu {

struct KernelTable {
  const char* name;  // "generic", "avx2", "avx512", "avx512vnni", "neon"

  // x: n floats (n % 32 == 0) -> n/32 blocks.
  void (*quantize_q8_0)(const float* x, gl_block_q8_0* y, int64_t n);

  // y[t * ldy + r] = dot(W row r, X row t) for r in [r0, r1), t in [0, n_tok).
  // W: Q8_0 rows of `cols` values; X: n_tok rows of cols/32 quantized blocks.
  // n_tok == 1 is decode (matrix-vector); larger is prefill (matrix-matrix).
  void (*matmul_q8_0)(const gl_block_q8_0* w, int64_t cols, int64_t r0, int64_t r1,
                      const gl_block_q8_0* x, int64_t n_tok, float* y, int64_t ldy);

  // Same for half-precision and float weights, with float activations
  // (X: n_tok rows of `cols` floats, any cols).
  void (*matmul_f16)(const uint16_t* w, int64_t cols, int64_t r0, int64_t r1,
                     const float* x, int64_t n_tok, float* y, int64_t ldy);
  void (*matmul_bf16)(const uint16_t* w, int64_t cols, int64_t r0, int64_t r1,
                      const float* x, int64_t n_tok, float* y, int64_t ldy);
  void (*matmul_f32)(const float* w, int64_t cols, int64_t r0, int64_t r1,
                     const float* x, int64_t n_tok, float* y, int64_t ldy);

  // Q8_0 products on a matrix re-laid out by pack_pair_rows (q8_0_pair_layout.h),
  // with activations prepared once for all rows by prepare_q8_0_pairs into
  // pair_activation_bytes(n_tok, cols) bytes (64-byte aligned); otherwise as
  // matmul_q8_0. Outputs sum in a different order from matmul_q8_0's, the same
  // in every tile shape. Both nullptr where the table has no pair products.
  void (*prepare_q8_0_pairs)(const gl_block_q8_0* x, int64_t n_tok, int64_t cols, void* prepared);
  void (*matmul_q8_0_pairs)(const uint8_t* w, int64_t cols, int64_t r0, int64_t r1,
                            const void* prepared, int64_t n_tok, float* y, int64_t ldy);
};

// The plain C++ kernels every optimised table is tested against.
const KernelTable& generic_kernels();

// Tables compiled for this build, whether or not this CPU runs them; null when
// not compiled in. Each lives in its own file compiled with its own flags.
const KernelTable* avx2_kernels();
const KernelTable* avx512_kernels();
const KernelTable* avx512vnni_kernels();
const KernelTable* neon_kernels();

// The best table this CPU supports. GHOSTLINE_CPU_KERNELS=generic|avx2|avx512|
// avx512vnni|neon forces one (falling back to generic, with a reason, when the
// CPU lacks it).
const KernelTable& select_kernels();

// The table select_kernels() would pick for GHOSTLINE_CPU_KERNELS=requested
// (null or empty: the best). When a forced table cannot run, *note (if given)
// says why and generic is returned.
const KernelTable& choose_kernels(const char* requested, std::string* note);

// Why select_kernels() did not give what GHOSTLINE_CPU_KERNELS asked for;
// empty when it did or nothing was asked.
const std::string& kernel_selection_note();

// Every table compiled in that this CPU can run, generic first (for tests and
// `bench`).
int runnable_kernel_tables(const KernelTable** out, int max);

}  // namespace ghostline::cpu
