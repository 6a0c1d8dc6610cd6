// The orchestration every backend shares: KV slots with the tokens they hold,
// evaluation split into chunks, one request scope per evaluation, and
// cancellation that leaves each slot at a known length.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "backend/backend.h"
#include "graph/buffer_plan.h"
#include "model/llama_model.h"

namespace ghostline {

struct ContextParams {
  int64_t n_ctx = 0;     // positions per slot; 0 = the model's training context, at most 4096
  int64_t n_batch = 256; // tokens per chunk (prefill granularity and cancellation latency)
  int n_slots = 1;       // independent sequences with their own KV cache
  TensorType kv_type = TensorType::F16;  // KV cache precision: F16 (as llama.cpp by default) or F32
};

struct EvalResult {
  std::vector<float> logits;  // n_rows * n_vocab
  int64_t n_rows = 0;         // 1 (last position) or the number of tokens evaluated
  int64_t n_evaluated = 0;    // tokens run through the model
};

class Context {
 public:
  Context(const LlamaModel& model, std::unique_ptr<Backend> backend, const ContextParams& params);

  // Appends `tokens` to the slot's sequence and evaluates them. With
  // all_logits, returns one row per token; otherwise the last row only.
  // When *cancel becomes true it stops between layers or chunks and throws
  // Error(Cancelled); the slot then holds the tokens of the chunks that
  // completed. Throws Error(Invalid) for bad ids or a full slot.
  EvalResult eval(int slot, const std::vector<int32_t>& tokens, bool all_logits, const std::atomic<bool>* cancel);

  // Keeps the first n tokens of the slot (n <= length). Their cache rows stay valid.
  void truncate(int slot, int64_t n);
  void clear(int slot) { truncate(slot, 0); }
  const std::vector<int32_t>& tokens(int slot) const;

  const LlamaModel& model() const { return model_; }
  const BufferPlan& plan() const { return plan_; }
  Backend& backend() { return *backend_; }
  const Backend& backend() const { return *backend_; }

 private:
  void check_slot(int slot) const;

  const LlamaModel& model_;
  std::unique_ptr<Backend> backend_;
  BufferPlan plan_;
  std::vector<std::vector<int32_t>> slots_;
};

}  // namespace ghostline
