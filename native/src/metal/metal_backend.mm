// The Metal backend (metal_backend.h). Nothing Objective-C happens here: the
// executor does it all, and GpuBackend::request_scope runs each request inside
// the executor's scope, an autorelease pool on the calling thread.
#include "metal/metal_backend.h"

#include <algorithm>

#include "gpu/gpu_backend.h"

namespace ghostline {

gpu::PlannerOptions metal_planner_options(const metal::MetalExecutor& executor) {
  gpu::PlannerOptions options;
  // Whole SIMD groups, within what each pipeline accepts.
  const int matvec = static_cast<int>(executor.max_threads(GL_K_MATVEC) / 32);
  options.matvec_rows_per_block = std::max(1, std::min(options.matvec_rows_per_block, matvec));
  const int attention = static_cast<int>(executor.max_threads(GL_K_ATTENTION) / 32 * 32);
  options.attention_decode_threads = std::max(32, std::min(options.attention_decode_threads, attention));
  return options;
}

std::unique_ptr<Backend> make_metal_backend(std::unique_ptr<metal::MetalExecutor> executor) {
  const gpu::PlannerOptions options = metal_planner_options(*executor);
  return std::make_unique<gpu::GpuBackend>(std::move(executor), options);
}

std::unique_ptr<Backend> make_metal_backend() { return make_metal_backend(std::make_unique<metal::MetalExecutor>()); }

}  // namespace ghostline
