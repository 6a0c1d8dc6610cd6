// The CUDA executor: plain device allocations made once at load, one stream,
// a pinned staging area for the step record, and decode steps recorded once as
// CUDA graphs and replayed. Every CUDA error becomes Error(Backend) naming the
// call, so the engine can fall back to the CPU.
#pragma once

#include <cuda_runtime.h>

#include <map>
#include <string>
#include <vector>

#include "gpu/executor.h"

namespace ghostline::cuda {

class CudaExecutor final : public gpu::Executor {
 public:
  // Throws Error(Backend) when CUDA has no usable device `device`.
  explicit CudaExecutor(int device);
  ~CudaExecutor() override;
  CudaExecutor(const CudaExecutor&) = delete;
  CudaExecutor& operator=(const CudaExecutor&) = delete;

  std::string name() const override { return "cuda"; }
  std::string device() const override { return device_name_; }
  gpu::WeightPlacement placement() const override { return gpu::WeightPlacement::CopySplitQ8; }
  bool supports(uint32_t kernel) const override { return kernel < GL_K_ALL; }
  // Whether kernels go with programmatic dependent launch (GHOSTLINE_CUDA_PDL=0: never).
  bool programmatic_launch() const { return pdl_; }
  void allocate(const gpu::DeviceBufferSpec (&buffers)[GL_BUF_COUNT]) override;
  void upload(uint32_t buffer, uint64_t offset, const void* src, uint64_t bytes) override;
  void write(uint32_t buffer, uint64_t offset, const void* src, uint64_t bytes) override;
  void run(const gpu::Dispatch* dispatches, size_t n, bool replayable) override;
  void read(uint32_t buffer, uint64_t offset, void* dst, uint64_t bytes) override;
  gpu::ExecutorStats stats() const override;

 private:
  struct Recording {
    std::vector<gpu::Dispatch> dispatches;
    cudaGraphExec_t exec = nullptr;
    uint64_t last_used = 0;
  };
  void check_range(uint32_t buffer, uint64_t offset, uint64_t bytes, const char* what) const;
  void enqueue(const gpu::Dispatch* dispatches, size_t n, bool pdl);
  Recording& record(const gpu::Dispatch* dispatches, size_t n);
  cudaGraphExec_t capture(const gpu::Dispatch* dispatches, size_t n);

  int device_ = 0;
  std::string device_name_;
  cudaStream_t stream_ = nullptr;
  uint8_t* base_[GL_BUF_COUNT] = {};
  uint64_t size_[GL_BUF_COUNT] = {};
  uint8_t* staging_ = nullptr;  // pinned host memory of the step buffer's size
  uint64_t staging_bytes_ = 0;
  std::vector<Recording> recordings_;  // at most kMaxRecordings, least recently used replaced
  uint64_t clock_ = 0;
  gpu::ExecutorStats stats_;
  // In recorded decode steps, each kernel may start while the one before it
  // finishes (off when profiling, and dropped for good if the driver refuses
  // it, with a note on stderr).
  bool pdl_ = true;
  // Decode products streaming through registers start three units of rows a warp towards
  // L2 before waiting for the kernel before them (GHOSTLINE_CUDA_PREFETCH=0: only the
  // first, then two ahead).
  bool prefetch_weights_ = true;
  // Decode products keep three steps of weights per warp in flight as bulk copies into
  // shared memory and four more on their way to L2, with up to 128 registers a thread
  // (GHOSTLINE_CUDA_BULK=0: streamed through registers instead; GHOSTLINE_CUDA_BULK,
  // _BULK_MIN_STEPS, _BULK_L2 set the counts, _BULK_WIDE=0 caps registers at 64).
  int bulk_stages_ = 3;
  int bulk_min_steps_ = 1;
  int bulk_l2_steps_ = 4;
  bool bulk_wide_registers_ = true;
  // The q/k/v product starts the layer's cache rows towards L2 for attention
  // (GHOSTLINE_CUDA_KV_AHEAD=0: not).
  bool kv_ahead_ = true;
  // Attention asks for all of an SM's shared memory, as the bulk products do
  // (GHOSTLINE_CUDA_CARVEOUT=0: no preference).
  bool shared_carveout_ = true;

  // GHOSTLINE_CUDA_PROFILE=1: every dispatch runs directly (no graphs) between
  // two events, and the time per kernel goes to stderr when the executor ends.
  bool profile_ = false;
  std::vector<cudaEvent_t> events_;
  struct KernelTime {
    uint64_t count = 0;
    double ms = 0;
  };
  std::map<std::string, KernelTime> profile_times_;
};

}  // namespace ghostline::cuda
