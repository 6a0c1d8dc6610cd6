// One kernel launch as shared code plans it: the kernel, its buffers at fixed
// offsets, its grid and block sizes and a small parameter record. CUDA turns
// it into a launch, Metal into a compute encoder call, the reference executor
// into a loop on the host.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "gpu/kernel_abi.h"

namespace ghostline::gpu {

struct Binding {
  uint32_t buffer = 0;  // gl_buffer
  uint32_t pad = 0;
  uint64_t offset = 0;  // bytes from the buffer's start
};

struct Dispatch {
  uint32_t kernel = 0;      // gl_kernel
  uint32_t n_bindings = 0;
  uint32_t grid[3] = {1, 1, 1};   // blocks (threadgroups)
  uint32_t block[3] = {1, 1, 1};  // threads per block
  Binding bindings[GL_MAX_BINDINGS] = {};
  gl_params params = {};
};

inline bool same_dispatches(const std::vector<Dispatch>& a, const Dispatch* b, size_t n) {
  return a.size() == n && (n == 0 || std::memcmp(a.data(), b, n * sizeof(Dispatch)) == 0);
}

const char* kernel_name(uint32_t kernel);

}  // namespace ghostline::gpu
