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
  // GL_K_MATVEC_DECODE through registers starts each warp's next three units of weight
  // rows towards L2 before the kernel before it has finished (off: the first unit only,
  // then two ahead).
  bool prefetch_weights = true;
  // GL_K_MATVEC_DECODE keeps up to this many steps (a unit's two rows in 2,048 columns)
  // per warp in flight as bulk copies into shared memory; 0: through registers.
  int bulk_stages = 0;
  // ... for warps with at least this many steps (the others stream through registers),
  int bulk_min_steps = 1;
  // ... and start this many steps past the ring towards L2,
  int bulk_l2_steps = 0;
  // ... with up to 128 registers a thread (else 64).
  bool bulk_wide_registers = false;
  // Decode attention (one row) asks for the multiprocessor's whole shared memory, as the
  // bulk decode products do, so that its SMs keep one split of L1 and shared memory.
  bool shared_carveout = false;
  // The q/k/v product with the KV store starts the layer's cached keys and values
  // towards L2 for the attention after it.
  bool kv_ahead = false;
};

// Lets the bulk decode kernels take more than 48 KB of shared memory on `device`, and
// asks for an SM's whole shared memory for them and for decode attention.
cudaError_t prepare_kernels(int device);

// Enqueues `d` on `stream`; bases[i] is the device address of buffer i.
// Returns the launch's error, cudaErrorInvalidValue for an unknown kernel or layout.
cudaError_t launch(const gpu::Dispatch& d, uint8_t* const* bases, cudaStream_t stream, const LaunchOptions& options);

// A streaming read of `bytes` at `data` (16-byte aligned, a multiple of 16):
// every byte is loaded once; per-block results go to `sink` (grid floats).
cudaError_t launch_read(const uint8_t* data, uint64_t bytes, unsigned* sink, int grid, cudaStream_t stream);

}  // namespace ghostline::cuda
