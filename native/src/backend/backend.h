// The interface every compute backend implements (CPU here; CUDA, Metal and
// WebGPU behind the same one). The orchestration around it (buffer plan,
// chunking, per-request scope, cancellation, KV bookkeeping) lives in
// runtime/context.cc and is written once.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "graph/buffer_plan.h"
#include "graph/program.h"
#include "model/llama_model.h"

namespace ghostline {

// What a backend reports about its resources. GPU backends count device
// objects; over any number of requests the live counts must stay flat.
struct BackendCounters {
  uint64_t live_buffers = 0;    // buffers (CPU: heap blocks) held now
  uint64_t buffer_bytes = 0;    // bytes those buffers hold
  uint64_t allocations = 0;     // buffers ever created (only at load)
  uint64_t submits = 0;         // command submissions (CPU: programs run)
  uint64_t in_flight = 0;       // submissions not yet complete
  uint64_t requests_begun = 0;  // request scopes entered (Metal: autorelease pools pushed)
  uint64_t requests_ended = 0;  // request scopes left (pools drained)
  uint64_t launches = 0;        // kernels run (GPU backends)
  uint64_t device_used_bytes = 0;    // memory the device reports in use (GPU backends; 0: unknown)
  uint64_t device_budget_bytes = 0;  // what the device recommends using at most (Metal; 0: unknown)
  uint64_t pools_pushed = 0;    // autorelease pools pushed, per request and around load and teardown (Metal)
  uint64_t pools_drained = 0;   // and drained: equal to pushed whenever no work is running
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string name() const = 0;    // "cpu", "cuda", "metal"
  virtual std::string device() const = 0;  // a human description of the device

  // Called once, when the model loads: allocates every buffer of the plan.
  // After this the backend allocates nothing until it is destroyed.
  virtual void allocate(const LlamaModel& model, const BufferPlan& plan) = 0;

  // Runs one request's work (every run and read_logits of one evaluation)
  // inside the backend's per-request scope, on the calling thread. Metal wraps
  // it in @autoreleasepool; every backend counts scopes entered and left.
  virtual void request_scope(const std::function<void()>& work) = 0;

  // Runs a chunk. Polls *cancel at layer boundaries; returns false (having
  // stopped there) when it was set. KV rows of this chunk may be partly
  // written then; the caller forgets the chunk.
  virtual bool run(const ChunkProgram& program, const std::atomic<bool>* cancel) = 0;

  // Copies the first n_rows rows of the logits buffer to dst (n_rows * n_vocab floats).
  virtual void read_logits(int64_t n_rows, float* dst) = 0;

  virtual BackendCounters counters() const = 0;
};

}  // namespace ghostline
