// The Metal backend: GpuBackend driving the Metal executor. Declared in plain
// C++ so that code without Objective-C can create it; built on macOS only
// (GHOSTLINE_WITH_METAL).
#pragma once

#include <memory>

#include "backend/backend.h"
#include "gpu/dispatch_planner.h"
#include "metal/metal_executor.h"

namespace ghostline {

// Throws Error(Backend, "Metal: ...") when Metal has no usable device or its
// kernels fail to compile.
std::unique_ptr<Backend> make_metal_backend();

// The same backend around an executor the caller made (tests keep a pointer to
// it for its counters, or cap its weight views).
std::unique_ptr<Backend> make_metal_backend(std::unique_ptr<metal::MetalExecutor> executor);

// Planner options within the executor's pipeline limits.
gpu::PlannerOptions metal_planner_options(const metal::MetalExecutor& executor);

}  // namespace ghostline
