// Turns a chunk program into the dispatches that run it on a GPU: which
// kernels, in what order, over which buffers at which offsets, with which grid
// and block sizes. Written once for every GPU backend and checked on the host
// by the reference executor.
//
// Neighbouring ops are fused where a GPU gains from it: RoPE with the KV
// store, and the quantization of a product's input with the op that produced
// that input (norm, attention, SwiGLU). Positions are read from the step
// record, so every decode step of a slot plans the same list.
#pragma once

#include <cstddef>
#include <vector>

#include "gpu/device_plan.h"
#include "gpu/dispatch.h"
#include "graph/program.h"

namespace ghostline::gpu {

struct DispatchList {
  std::vector<Dispatch> dispatches;
  std::vector<size_t> layer_ends;  // dispatches[0, layer_ends[i]) finish layer i
  bool replayable = false;         // a decode step: the same list for every step of this slot
};

struct PlannerOptions {
  int matvec_rows_per_block = 4;  // warps (SIMD groups) per matrix-vector block, one row each
  int attention_decode_threads = 1024;  // threads per (head) block when one row attends
  // One-token products absorb the RMSNorm or SwiGLU before them (GL_K_MATVEC_FUSED),
  // where the executor supports it; GpuBackend clears this where it does not.
  bool fuse_matvec_prologue = true;
  int matvec_fused_warps = 8;     // warps per fused block
  int matvec_fused_blocks = 528;  // blocks aimed at: each recomputes the prologue, so not one per few rows
  // Decode steps use GL_K_MATVEC_DECODE (norm + product + RoPE/KV store or SwiGLU,
  // five dispatches a layer) where the executor supports it; GpuBackend clears
  // this where it does not.
  bool decode_kernels = true;
  int decode_norm_warps = 8;     // warps per block of a product with the norm prologue
  int decode_swiglu_warps = 8;   // the same for gate/up with the SwiGLU epilogue
  int decode_norm_blocks = 264;  // blocks aimed at there (each block normalizes the input)
  int decode_q8_warps = 8;       // warps per block of a product of an already quantized input
  int decode_q8_blocks = 4096;   // blocks aimed at there (nothing to recompute: one unit a warp)
};

// Fills `out` (reusing its storage) with the dispatches for `program`.
void plan_dispatches(const DevicePlan& dp, const ChunkProgram& program, const PlannerOptions& options,
                     DispatchList& out);

}  // namespace ghostline::gpu
