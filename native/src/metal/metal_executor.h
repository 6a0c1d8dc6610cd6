// The Metal executor: one device, command queue and kernel library per
// process (shared by every executor alive), pipelines compiled once; every
// buffer made when the model loads (the weights as no-copy views over the
// mapped file, split to respect maxBufferLength), kernel parameters through
// setBytes, and each submission encoded, committed and waited on inside an
// autorelease pool on the calling thread. Every Metal error becomes
// Error(Backend, "Metal: ...") so the engine can fall back to the CPU.
//
// Plain C++: the Objective-C objects live behind the opaque State, defined in
// metal_executor.mm, so nothing Objective-C reaches the core.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "gpu/executor.h"

namespace ghostline::metal {

struct MetalStats {
  uint64_t live_buffers = 0;        // MTLBuffers this executor holds (planned buffers and weight views)
  uint64_t weight_views = 0;        // of which views onto the weights
  bool weights_no_copy = false;     // the views alias the mapped file (false: copied at load, the
                                    // weights not being page-aligned host memory)
  uint64_t command_buffers = 0;     // committed, ever
  uint64_t command_buffers_in_flight = 0;  // committed and not yet waited on
  uint64_t pools_pushed = 0;        // autorelease pools this executor pushed (requests, load,
  uint64_t pools_drained = 0;       // submissions, teardown) and drained
  uint64_t current_allocated_bytes = 0;        // MTLDevice.currentAllocatedSize (the whole process)
  uint64_t recommended_working_set_bytes = 0;  // MTLDevice.recommendedMaxWorkingSetSize
  uint64_t max_view_bytes = 0;      // the length cap the weight views were planned with
};

class MetalExecutor final : public gpu::Executor {
 public:
  // Throws Error(Backend) when Metal has no usable device or the kernels fail
  // to compile. `max_view_bytes` caps the weight views below the device's
  // maxBufferLength (0: the device's own cap); tests use it to force several views.
  explicit MetalExecutor(uint64_t max_view_bytes = 0);
  ~MetalExecutor() override;
  MetalExecutor(const MetalExecutor&) = delete;
  MetalExecutor& operator=(const MetalExecutor&) = delete;

  std::string name() const override { return "metal"; }
  std::string device() const override;
  gpu::WeightPlacement placement() const override { return gpu::WeightPlacement::MapFile; }
  void allocate(const gpu::DeviceBufferSpec (&buffers)[GL_BUF_COUNT]) override;
  void upload(uint32_t buffer, uint64_t offset, const void* src, uint64_t bytes) override;
  void write(uint32_t buffer, uint64_t offset, const void* src, uint64_t bytes) override;
  void run(const gpu::Dispatch* dispatches, size_t n, bool replayable) override;
  void read(uint32_t buffer, uint64_t offset, void* dst, uint64_t bytes) override;
  // Runs `work` inside an autorelease pool on this thread, drained however it ends.
  void scope(const std::function<void()>& work) override;
  gpu::ExecutorStats stats() const override;

  MetalStats metal_stats() const;
  // The most threads one threadgroup of `kernel` (a gl_kernel) may have.
  uint32_t max_threads(uint32_t kernel) const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace ghostline::metal
