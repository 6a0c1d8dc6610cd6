// The CUDA backend: GpuBackend driving the CUDA executor. Declared in plain
// C++ so that code without CUDA headers can create it.
#pragma once

#include <memory>

#include "backend/backend.h"

namespace ghostline {

// Throws Error(Backend) naming the failing CUDA call when no usable device is
// present (no driver, no GPU, a GPU older than the kernels' target).
std::unique_ptr<Backend> make_cuda_backend(int device = 0);

// Measures device read bandwidth over `bytes` (a plain streaming read kernel),
// in GB/s, with its own buffer freed afterwards. For benchmarks only.
double cuda_read_bandwidth_gbs(uint64_t bytes, int repeats);

}  // namespace ghostline
