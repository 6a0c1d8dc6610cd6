/* The contract between the dispatch planner and every GPU's kernels: kernel
 * ids, what each kernel's bindings and parameters mean, the step record that
 * kernels read positions and token ids from, and the weight layouts. Plain C
 * so that CUDA and Metal sources include the same declarations. */
#ifndef GHOSTLINE_GPU_KERNEL_ABI_H
#define GHOSTLINE_GPU_KERNEL_ABI_H

#include <stdint.h>

#include "common/block_q8_0.h"

#define GL_MAX_BINDINGS 16

/* Activations quantized for Q8_0 products lie in the scratch buffer as two
 * planes: row t's int8 quants at t * cols, its float scales (rounded through
 * half, as the CPU's blocks store them) at t * cols / 32 of the second plane. */

/* Device buffers a plan allocates. Offsets inside them are fixed at load. */
enum gl_buffer {
  GL_BUF_WEIGHTS = 0, /* matrices: copied once, or no-copy views over the mapped file */
  GL_BUF_CONST = 1,   /* norm vectors and RoPE tables (float), written at load */
  GL_BUF_ACT = 2,     /* activations of one chunk (float), one region per Act */
  GL_BUF_SCRATCH = 3, /* activations quantized to Q8_0: quants, then scales */
  GL_BUF_KV = 4,      /* K and V per (slot, layer): n_ctx rows of kv_dim, F16 or F32 */
  GL_BUF_STEP = 5,    /* the step record below, written before each chunk */
  GL_BUF_COUNT = 6
};

/* The step record. Kernels read pos0 from it rather than from their
 * parameters, so that one decode step's dispatch list is identical to the
 * next and can be recorded once and replayed. */
#define GL_STEP_POS0 0   /* int32: position of the chunk's first token */
#define GL_STEP_TOKENS 4 /* int32 index of tokens[0]; n_batch ids follow */

/* How a matrix lies in the weights buffer. */
enum gl_weight_layout {
  GL_LAYOUT_FILE = 0,   /* the file's bytes: Q8_0 as 34-byte blocks, or F16/BF16/F32 rows */
  GL_LAYOUT_Q8_SPLIT = 1 /* Q8_0 split in two planes: rows*cols int8 quants (16-byte aligned
                            rows), then at GL_Q8_SCALES_AT rows*cols/32 half scales */
};
#define GL_Q8_SCALES_AT(rows, cols) ((((uint64_t)(rows) * (uint64_t)(cols)) + 255u) & ~(uint64_t)255u)

/* Weight element types, numbered as GGUF numbers them. */
enum gl_weight_type { GL_W_F32 = 0, GL_W_F16 = 1, GL_W_Q8_0 = 8, GL_W_BF16 = 30 };

enum gl_kernel {
  /* b0 step, b1 embedding matrix, b2 dst (rows of cols floats).
   * i0 cols, i1 weight type, i2 layout, i3 rows of the matrix (quant plane size).
   * grid (n_rows), block (256). */
  GL_K_EMBED = 0,
  /* b0 src row 0, b1 norm weight, b2 dst row 0, b3 quant plane, b4 scale plane.
   * i0 width, i1 quantize (also write Q8_0 of dst rows to b3/b4); f0 eps.
   * grid (n_rows), block (256). */
  GL_K_RMS_NORM = 1,
  /* b0 src (n_rows of cols floats), b1 quant plane, b2 scale plane.
   * i0 cols, i1 n_rows. One 32-wide block per 32 threads, counted over all rows.
   * grid (ceil(n_rows * cols / 32 / 8)), block (256). */
  GL_K_QUANTIZE = 2,
  /* Matrix-vector (one token) for up to three matrices sharing the input.
   * b0 input floats, b1 input quants, b2 input scales (float), then (matrix, out)
   * pairs b3/b4, b5/b6, b7/b8; i0 cols, i1..i3 rows of each matrix,
   * i4 n_matrices, i5 weight type, i6 layout, i7 accumulate (out += product).
   * Each block covers i_rows_per_block consecutive rows of the matrices taken
   * together. grid (ceil(total rows / rows per block)), block (32 * rows per block). */
  GL_K_MATVEC = 3,
  /* Matrix-matrix (prefill) for one matrix: out[t * ld + r] (+)= x_t . w_r.
   * b0 input floats (n_tok rows of cols), b1 matrix, b2 out.
   * i0 cols, i1 rows, i2 n_tok, i3 weight type, i4 layout, i5 accumulate, i6 ld.
   * grid (ceil(rows / GL_MM_TILE), ceil(n_tok / GL_MM_TILE)), block (GL_MM_THREADS). */
  GL_K_MATMUL = 4,
  /* RoPE on Q and K rows, then K and V rows into the cache.
   * b0 Q, b1 K, b2 V, b3 cos table, b4 sin table (n_ctx, head_dim/2), b5 K cache
   * of (slot, layer), b6 V cache, b7 step.
   * i0 n_head, i1 n_head_kv, i2 head_dim, i3 rope (0/1), i4 store (0/1), i5 kv half (0/1).
   * grid (n_rows, n_head + n_head_kv), block (64). */
  GL_K_ROPE_STORE = 5,
  /* Causal attention of Q rows over the cache: row t sees positions [0, pos0 + t].
   * b0 Q, b1 K cache, b2 V cache, b3 Att out, b4 step, b5 quant plane, b6 scale plane.
   * i0 n_head, i1 n_head_kv, i2 head_dim, i3 kv half, i4 quantize Att rows; f0 scale.
   * grid (n_head, n_rows), block (a multiple of 32 up to 1024: wide for one row). */
  GL_K_ATTENTION = 6,
  /* HB = silu(HB) * HB2, optionally quantizing HB rows.
   * b0 HB, b1 HB2, b2 quant plane, b3 scale plane. i0 width, i1 quantize.
   * grid (ceil(width / 256), n_rows), block (256). */
  GL_K_SWIGLU = 7,
  GL_K_COUNT = 8, /* the kernels above: every executor provides them */
  /* Optional kernels, planned only for an executor whose supports() reports them. */

  /* Matrix-vector (one token) of up to three Q8_0 matrices whose input each block
   * makes for itself from the op before it, which then needs no dispatch of its own:
   * prologue 1, RMSNorm: x = src / rms(src) * b1 (f0 eps);
   * prologue 2, SwiGLU: x = silu(src) * b1.
   * x is quantized to Q8_0 as GL_K_QUANTIZE would; neither x nor its quants are
   * stored (the planner fuses only where nothing reads them later).
   * b0 src row (cols floats), b1 norm weight or second SwiGLU input, b2 unused, then
   * (matrix, out) pairs b3/b4, b5/b6, b7/b8 as GL_K_MATVEC. i0 cols (a multiple of 32,
   * at most GL_MATVEC_FUSED_MAX_COLS), i1..i3 rows of each matrix, i4 n_matrices,
   * i5 prologue, i6 layout, i7 accumulate; f0 eps. A block covers rows_per_block
   * consecutive rows of the matrices taken together, its warp w the rows w, w + warps, ...
   * grid (ceil(total rows / rows per block)), block (32 * warps, up to 1024). */
  GL_K_MATVEC_FUSED = 8,
  /* A decode step's one-token product of up to three Q8_0 matrices (GL_LAYOUT_Q8_SPLIT),
   * with the op before it folded into a prologue and the ops after it into an epilogue,
   * so that a layer needs five dispatches: norm + q/k/v + RoPE + KV store, attention,
   * wo, norm + gate/up + SwiGLU, down.
   * Prologue (i5), the input x every block reads:
   *   GL_PROLOGUE_RMS_NORM: b0 src row (cols floats), b1 norm weight, f0 eps; x as GL_K_MATVEC_FUSED
   *     makes it, quantized to Q8_0;
   *   GL_PROLOGUE_Q8: x already quantized, b0 its quant plane, b1 its (float) scale plane.
   * The rows are taken in units of two: rows 2u and 2u + 1 of the matrices taken together,
   * or, for the SwiGLU epilogue, row u of matrix 0 and row u of matrix 1.
   * Epilogue (i8):
   *   GL_EPILOGUE_STORE: out[r] (+)= the product (i7 accumulate), as GL_K_MATVEC;
   *   GL_EPILOGUE_ROPE_KV: matrices Q, K, V (i4 = 3, no accumulate); each pair of rows
   *     (2i, 2i + 1) of a head of Q and of K is rotated as GL_K_ROPE_STORE rotates it at
   *     position step[GL_STEP_POS0] (i9 head_dim), written to its out, and the K and V rows
   *     also go into the cache: b10 cos table, b11 sin table, b12 K cache of (slot, layer),
   *     b13 V cache, b14 step, i10 kv half (0/1);
   *   GL_EPILOGUE_SWIGLU_Q8: matrices gate and up of equal rows, a multiple of 32 (i4 = 2);
   *     h[u] = silu(gate[u]) * up[u] is quantized to Q8_0 (as GL_K_SWIGLU would) into
   *     b10 quant plane and b11 scale plane; the outs b4/b6 are not written.
   * b0, b1 as above, b2 unused, (matrix, out) pairs b3/b4, b5/b6, b7/b8, b9 unused.
   * i0 cols (a multiple of 32, at most GL_MATVEC_FUSED_MAX_COLS), i1..i3 rows of each matrix,
   * i4 n_matrices, i5 prologue, i6 layout (GL_LAYOUT_Q8_SPLIT), i7 accumulate, i8 epilogue,
   * i9 head_dim, i10 kv half. A block covers rows_per_block consecutive units (a multiple of
   * 32 for the SwiGLU epilogue), its warp w the units w, w + warps, ...
   * grid (ceil(units / rows_per_block)), block (32 * warps, up to 512). */
  GL_K_MATVEC_DECODE = 9,
  GL_K_ALL = 10
};

#define GL_PROLOGUE_RMS_NORM 1
#define GL_PROLOGUE_SWIGLU 2
#define GL_PROLOGUE_Q8 3 /* GL_K_MATVEC_DECODE only */

#define GL_EPILOGUE_STORE 0
#define GL_EPILOGUE_ROPE_KV 1
#define GL_EPILOGUE_SWIGLU_Q8 2
#define GL_MATVEC_FUSED_MAX_COLS 16384 /* its Q8_0 input lives in a block's shared memory */

#define GL_MM_TILE 64    /* output tile of the matrix-matrix kernel: 64 rows x 64 tokens */
#define GL_MM_THREADS 128

typedef struct {
  int32_t i[12];
  float f[2];
  int32_t rows_per_block; /* GL_K_MATVEC and GL_K_MATVEC_FUSED; units for GL_K_MATVEC_DECODE */
  int32_t pad;
} gl_params;

#endif
