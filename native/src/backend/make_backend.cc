#include "backend/make_backend.h"

#include "common/error.h"
#include "cpu/cpu_backend.h"

#ifdef GHOSTLINE_WITH_CUDA
#include "cuda/cuda_backend.h"
#endif
#ifdef GHOSTLINE_WITH_METAL
#include "metal/metal_backend.h"
#endif

namespace ghostline {

bool cuda_built_in() {
#ifdef GHOSTLINE_WITH_CUDA
  return true;
#else
  return false;
#endif
}

bool metal_built_in() {
#ifdef GHOSTLINE_WITH_METAL
  return true;
#else
  return false;
#endif
}

namespace {

// Starts one GPU backend; on a Backend error, adds why to `reasons` and gives null.
std::unique_ptr<Backend> try_gpu(const std::string& name, std::string& reasons) {
  auto note = [&](const std::string& why) { reasons += (reasons.empty() ? "" : "; ") + why; };
  try {
#ifdef GHOSTLINE_WITH_METAL
    if (name == "metal") return make_metal_backend();
#endif
#ifdef GHOSTLINE_WITH_CUDA
    if (name == "cuda") return make_cuda_backend();
#endif
  } catch (const Error& e) {
    if (e.code() != ErrorCode::Backend) throw;
    note(e.what());
    return nullptr;
  }
  if (name == "metal") note("this build has no Metal backend (it is built on macOS with GHOSTLINE_METAL)");
  if (name == "cuda") note("this build has no CUDA backend (configure with GHOSTLINE_CUDA=ON and a CUDA toolkit)");
  return nullptr;
}

}  // namespace

BackendChoice choose_backend(const std::string& name, int threads) {
  BackendChoice choice;
  if (name == "cpu") {
    choice.backend = std::make_unique<CpuBackend>(threads);
    return choice;
  }
  if (name != "cuda" && name != "metal" && name != "auto") {
    throw Error(ErrorCode::Invalid, "unknown backend \"" + name + "\" (expected cpu, cuda, metal or auto)");
  }
  std::string reasons;
  if (name == "auto") {
    // Metal where it is built in (macOS), then CUDA; a GPU not built in is not worth a reason here.
    if (metal_built_in()) choice.backend = try_gpu("metal", reasons);
    if (!choice.backend && cuda_built_in()) choice.backend = try_gpu("cuda", reasons);
    if (!choice.backend && !metal_built_in() && !cuda_built_in()) try_gpu("cuda", reasons);
  } else {
    choice.backend = try_gpu(name, reasons);
  }
  if (choice.backend) return choice;
  choice.fallback_reason = reasons;
  choice.backend = std::make_unique<CpuBackend>(threads);
  return choice;
}

std::unique_ptr<Backend> make_backend(const std::string& name, int threads) {
  return choose_backend(name, threads).backend;
}

}  // namespace ghostline
