// An Executor on host memory: runs each kernel id block by block over the
// planned grid, in plain C++, so that the dispatch plan (buffers, offsets,
// grids, fusion) is checked against the CPU backend without a GPU. A block
// computes exactly what its GPU counterpart's block covers, so a grid too
// small leaves outputs unwritten and the tests see it.
#pragma once

#include <memory>
#include <vector>

#include "gpu/executor.h"

namespace ghostline::gpu {

class ReferenceExecutor final : public Executor {
 public:
  // `optional_kernels`: also run GL_K_MATVEC_FUSED, so that the planner plans it;
  // `decode_kernel`: also run GL_K_MATVEC_DECODE (decode steps of five dispatches a
  // layer). Without either the plan is the one every executor runs.
  explicit ReferenceExecutor(WeightPlacement placement = WeightPlacement::CopySplitQ8, bool optional_kernels = false,
                             bool decode_kernel = false)
      : placement_(placement), optional_kernels_(optional_kernels), decode_kernel_(decode_kernel) {}

  std::string name() const override { return "reference"; }
  std::string device() const override { return "host reference executor"; }
  WeightPlacement placement() const override { return placement_; }
  bool supports(uint32_t kernel) const override {
    return kernel < GL_K_COUNT || (optional_kernels_ && kernel == GL_K_MATVEC_FUSED) ||
           (decode_kernel_ && kernel == GL_K_MATVEC_DECODE);
  }
  void allocate(const DeviceBufferSpec (&buffers)[GL_BUF_COUNT]) override;
  void upload(uint32_t buffer, uint64_t offset, const void* src, uint64_t bytes) override;
  void write(uint32_t buffer, uint64_t offset, const void* src, uint64_t bytes) override;
  void run(const Dispatch* dispatches, size_t n, bool replayable) override;
  void read(uint32_t buffer, uint64_t offset, void* dst, uint64_t bytes) override;
  ExecutorStats stats() const override { return stats_; }

 private:
  uint8_t* at(uint32_t buffer, uint64_t offset, uint64_t bytes);
  void* bound(const Dispatch& d, uint32_t i);

  WeightPlacement placement_;
  bool optional_kernels_;
  bool decode_kernel_;
  std::vector<uint8_t> storage_[GL_BUF_COUNT];
  uint8_t* base_[GL_BUF_COUNT] = {};
  uint64_t size_[GL_BUF_COUNT] = {};
  ExecutorStats stats_;
};

}  // namespace ghostline::gpu
