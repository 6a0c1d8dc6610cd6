#include "cuda/cuda_backend.h"

#include <algorithm>
#include <cstdlib>

#include "common/error.h"
#include "cuda/cuda_executor.h"
#include "cuda/cuda_kernels.h"
#include "gpu/gpu_backend.h"

namespace ghostline {

std::unique_ptr<Backend> make_cuda_backend(int device) {
  gpu::PlannerOptions options;
  // Rows per matrix-vector block (one warp each); 4 measured best of 2/4/8 on H100 for TinyLlama.
  if (const char* rows = std::getenv("GHOSTLINE_CUDA_MATVEC_ROWS")) {
    const int n = std::atoi(rows);
    if (n >= 1 && n <= 32) options.matvec_rows_per_block = n;
  }
  if (const char* threads = std::getenv("GHOSTLINE_CUDA_ATTENTION_THREADS")) {
    const int n = std::atoi(threads);
    if (n >= 32 && n <= 1024 && n % 32 == 0) options.attention_decode_threads = n;
  }
  // GHOSTLINE_CUDA_FUSE=0: norms and SwiGLU keep their own kernels (for comparison).
  if (const char* fuse = std::getenv("GHOSTLINE_CUDA_FUSE")) options.fuse_matvec_prologue = *fuse != '0';
  if (const char* blocks = std::getenv("GHOSTLINE_CUDA_FUSED_BLOCKS")) {
    const int n = std::atoi(blocks);
    if (n >= 1 && n <= 65536) options.matvec_fused_blocks = n;
  }
  // GHOSTLINE_CUDA_DECODE=0: decode steps keep the plan of six dispatches a layer (for comparison).
  if (const char* decode = std::getenv("GHOSTLINE_CUDA_DECODE")) options.decode_kernels = *decode != '0';
  auto setting = [](const char* name, int lo, int hi, int& value) {
    if (const char* v = std::getenv(name)) {
      const int n = std::atoi(v);
      if (n >= lo && n <= hi) value = n;
    }
  };
  setting("GHOSTLINE_CUDA_DECODE_WARPS", 1, 16, options.decode_norm_warps);
  setting("GHOSTLINE_CUDA_DECODE_SWIGLU_WARPS", 1, 16, options.decode_swiglu_warps);
  setting("GHOSTLINE_CUDA_DECODE_BLOCKS", 1, 65536, options.decode_norm_blocks);
  setting("GHOSTLINE_CUDA_DECODE_Q8_WARPS", 1, 16, options.decode_q8_warps);
  return std::make_unique<gpu::GpuBackend>(std::make_unique<cuda::CudaExecutor>(device), options);
}

double cuda_read_bandwidth_gbs(uint64_t bytes, int repeats) {
  auto check = [](cudaError_t e, const char* call) {
    if (e != cudaSuccess) throw Error(ErrorCode::Backend, std::string("CUDA: ") + call + ": " + cudaGetErrorString(e));
  };
  bytes = bytes / 16 * 16;
  uint8_t* data = nullptr;
  unsigned* sink = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;
  int sms = 0;
  check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0), "cudaDeviceGetAttribute");
  const int grid = sms * 8;
  check(cudaMalloc(&data, bytes), "cudaMalloc (bandwidth buffer)");
  double best = 0;
  try {
    check(cudaMalloc(&sink, grid * sizeof(unsigned)), "cudaMalloc (sink)");
    check(cudaMemset(data, 1, bytes), "cudaMemset");
    check(cudaEventCreate(&start), "cudaEventCreate");
    check(cudaEventCreate(&stop), "cudaEventCreate");
    check(cuda::launch_read(data, bytes, sink, grid, nullptr), "read kernel");  // warm-up
    for (int r = 0; r < repeats; r++) {
      check(cudaEventRecord(start), "cudaEventRecord");
      check(cuda::launch_read(data, bytes, sink, grid, nullptr), "read kernel");
      check(cudaEventRecord(stop), "cudaEventRecord");
      check(cudaEventSynchronize(stop), "cudaEventSynchronize");
      float ms = 0;
      check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
      best = std::max(best, double(bytes) / (ms * 1e-3) / 1e9);
    }
  } catch (...) {
    cudaFree(data);
    if (sink) cudaFree(sink);
    throw;
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  cudaFree(sink);
  cudaFree(data);
  return best;
}

}  // namespace ghostline
