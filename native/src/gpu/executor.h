// What a GPU API must provide for GpuBackend to drive it: buffers allocated
// once, uploads at load, a small staged write before each chunk, running a
// list of dispatches to completion, and reading results back. CUDA implements
// it in cuda/, Metal in metal/, and the reference executor on the host.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "gpu/device_plan.h"
#include "gpu/dispatch.h"

namespace ghostline::gpu {

struct ExecutorStats {
  uint64_t live_buffers = 0;     // device buffers held now
  uint64_t buffer_bytes = 0;     // bytes they hold (no-copy views excluded)
  uint64_t allocations = 0;      // device buffers ever created
  uint64_t launches = 0;         // kernels run (a replayed recording counts each of its kernels)
  uint64_t submits = 0;          // submissions waited on
  uint64_t replays = 0;          // submissions that replayed a recording
  uint64_t recordings = 0;       // recordings made (CUDA graphs captured)
  uint64_t in_flight = 0;        // submissions not yet complete
  uint64_t device_used_bytes = 0;  // memory the device reports in use (0 where it cannot tell)
  uint64_t device_budget_bytes = 0;  // what the device recommends using at most (Metal's working set; 0: unknown)
  uint64_t pools_pushed = 0;       // autorelease pools pushed (Metal; 0 elsewhere)
  uint64_t pools_drained = 0;      // and drained
};

class Executor {
 public:
  virtual ~Executor() = default;

  virtual std::string name() const = 0;    // "cuda", "metal", "reference"
  virtual std::string device() const = 0;  // the device in words
  // The weight placement this executor runs.
  virtual WeightPlacement placement() const = 0;
  // Whether it runs `kernel`: every executor runs the ids below GL_K_COUNT; the
  // planner uses an optional (fused) kernel only where this says so.
  virtual bool supports(uint32_t kernel) const { return kernel < GL_K_COUNT; }

  // Creates every buffer of the plan. Called once; a second call throws.
  virtual void allocate(const DeviceBufferSpec (&buffers)[GL_BUF_COUNT]) = 0;
  // Copies host bytes into a buffer at load time, synchronously.
  virtual void upload(uint32_t buffer, uint64_t offset, const void* src, uint64_t bytes) = 0;
  // Stages a small write (the step record) to happen before the next run's dispatches.
  virtual void write(uint32_t buffer, uint64_t offset, const void* src, uint64_t bytes) = 0;
  // Runs dispatches in order and waits for them. `replayable` promises that an
  // identical list may be recorded once and replayed.
  virtual void run(const Dispatch* dispatches, size_t n, bool replayable) = 0;
  virtual void read(uint32_t buffer, uint64_t offset, void* dst, uint64_t bytes) = 0;
  // Wraps one request's work (Metal: an autorelease pool on this thread).
  virtual void scope(const std::function<void()>& work) { work(); }

  virtual ExecutorStats stats() const = 0;
};

}  // namespace ghostline::gpu
