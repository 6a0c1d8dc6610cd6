// Chooses a compute backend by name: "cpu", "cuda", "metal" or "auto" (the GPU
// when one is built in and usable: Metal on macOS, else CUDA; else the CPU). A
// GPU that cannot start gives the CPU backend and says why, so the engine can
// report the fallback.
#pragma once

#include <memory>
#include <string>

#include "backend/backend.h"

namespace ghostline {

struct BackendChoice {
  std::unique_ptr<Backend> backend;
  std::string fallback_reason;  // empty when the requested backend started
};

// Throws Error(Invalid) for an unknown name. "cuda", "metal" and "auto" fall
// back to the CPU (with a reason) when that GPU backend is not built in or
// finds no usable device.
BackendChoice choose_backend(const std::string& name, int threads);

// The backend alone; the reason for any fallback is dropped.
std::unique_ptr<Backend> make_backend(const std::string& name, int threads);

// True when this build includes the CUDA backend.
bool cuda_built_in();

// True when this build includes the Metal backend (macOS builds).
bool metal_built_in();

}  // namespace ghostline
