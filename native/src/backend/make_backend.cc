#include "backend/make_backend.h"

#include "common/error.h"
#include "cpu/cpu_backend.h"

#ifdef GHOSTLINE_WITH_CUDA
#include "cuda/cuda_backend.h"
#endif

namespace ghostline {

bool cuda_built_in() {
#ifdef GHOSTLINE_WITH_CUDA
  return true;
#else
  return false;
#endif
}

BackendChoice choose_backend(const std::string& name, int threads) {
  BackendChoice choice;
  if (name == "cpu") {
    choice.backend = std::make_unique<CpuBackend>(threads);
    return choice;
  }
  if (name != "cuda" && name != "auto") {
    throw Error(ErrorCode::Invalid, "unknown backend \"" + name + "\" (expected cpu, cuda or auto)");
  }
#ifdef GHOSTLINE_WITH_CUDA
  try {
    choice.backend = make_cuda_backend();
    return choice;
  } catch (const Error& e) {
    if (e.code() != ErrorCode::Backend) throw;
    choice.fallback_reason = e.what();
  }
#else
  choice.fallback_reason = "this build has no CUDA backend (configure with GHOSTLINE_CUDA=ON and a CUDA toolkit)";
#endif
  choice.backend = std::make_unique<CpuBackend>(threads);
  return choice;
}

std::unique_ptr<Backend> make_backend(const std::string& name, int threads) {
  return choose_backend(name, threads).backend;
}

}  // namespace ghostline
