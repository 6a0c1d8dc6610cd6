// The CUDA kernels behind each gl_kernel id, launched from a planned Dispatch.
#pragma once

#include <cuda_runtime.h>

#include "gpu/dispatch.h"

namespace ghostline::cuda {

struct LaunchOptions {
  // The kernel may start while the one before it finishes (programmatic
  // dependent launch: each kernel waits for its predecessor before touching
  // activations).
  bool pdl = false;
  // GL_K_MATVEC_DECODE starts each warp's next three units of weight rows towards L2
  // before the kernel before it has finished (off: the first unit only, then two ahead).
  bool prefetch_weights = true;
};

// Enqueues `d` on `stream`; bases[i] is the device address of buffer i.
// Returns the launch's error, cudaErrorInvalidValue for an unknown kernel or layout.
cudaError_t launch(const gpu::Dispatch& d, uint8_t* const* bases, cudaStream_t stream, const LaunchOptions& options);

// A streaming read of `bytes` at `data` (16-byte aligned, a multiple of 16):
// every byte is loaded once; per-block results go to `sink` (grid floats).
cudaError_t launch_read(const uint8_t* data, uint64_t bytes, unsigned* sink, int grid, cudaStream_t stream);

}  // namespace ghostline::cuda
