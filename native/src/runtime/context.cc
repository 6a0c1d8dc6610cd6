#include "runtime/context.h"

#include <algorithm>
#include <string>

#include "common/error.h"
#include "graph/program.h"

namespace ghostline {

Context::Context(const LlamaModel& model, std::unique_ptr<Backend> backend, const ContextParams& params)
    : model_(model), backend_(std::move(backend)) {
  const LlamaHparams& hp = model.hparams();
  int64_t n_ctx = params.n_ctx > 0 ? params.n_ctx : std::min<int64_t>(hp.n_ctx_train, 4096);
  if (n_ctx > (1 << 20)) throw Error(ErrorCode::Invalid, "context size " + std::to_string(n_ctx) + " is too large");
  const int64_t n_batch = std::max<int64_t>(1, std::min(params.n_batch, n_ctx));
  if (params.n_slots < 1 || params.n_slots > 64) {
    throw Error(ErrorCode::Invalid, "slot count " + std::to_string(params.n_slots) + " is out of range (1..64)");
  }
  if (params.kv_type != TensorType::F16 && params.kv_type != TensorType::F32) {
    throw Error(ErrorCode::Invalid, "KV cache type " + tensor_type_name(static_cast<uint32_t>(params.kv_type)) +
                                        " is not supported (f16 or f32)");
  }
  plan_ = plan_buffers(hp, n_ctx, n_batch, params.n_slots, params.kv_type);
  backend_->allocate(model, plan_);
  slots_.resize(static_cast<size_t>(params.n_slots));
}

void Context::check_slot(int slot) const {
  if (slot < 0 || slot >= static_cast<int>(slots_.size())) {
    throw Error(ErrorCode::Invalid, "slot " + std::to_string(slot) + " does not exist (this context has " +
                                        std::to_string(slots_.size()) + ")");
  }
}

const std::vector<int32_t>& Context::tokens(int slot) const {
  check_slot(slot);
  return slots_[static_cast<size_t>(slot)];
}

void Context::truncate(int slot, int64_t n) {
  check_slot(slot);
  auto& seq = slots_[static_cast<size_t>(slot)];
  if (n < 0 || n > static_cast<int64_t>(seq.size())) {
    throw Error(ErrorCode::Invalid, "cannot truncate slot " + std::to_string(slot) + " to " + std::to_string(n) +
                                        " tokens: it holds " + std::to_string(seq.size()));
  }
  seq.resize(static_cast<size_t>(n));
}

EvalResult Context::eval(int slot, const std::vector<int32_t>& tokens, bool all_logits,
                         const std::atomic<bool>* cancel) {
  check_slot(slot);
  auto& seq = slots_[static_cast<size_t>(slot)];
  const LlamaHparams& hp = model_.hparams();
  if (tokens.empty()) throw Error(ErrorCode::Invalid, "nothing to evaluate: the token list is empty");
  for (size_t i = 0; i < tokens.size(); i++) {
    if (tokens[i] < 0 || tokens[i] >= hp.n_vocab) {
      throw Error(ErrorCode::Invalid, "token id " + std::to_string(tokens[i]) + " at index " + std::to_string(i) +
                                          " is outside the vocabulary (0.." + std::to_string(hp.n_vocab - 1) + ")");
    }
  }
  if (static_cast<int64_t>(seq.size() + tokens.size()) > plan_.n_ctx) {
    throw Error(ErrorCode::Invalid, "slot " + std::to_string(slot) + " holds " + std::to_string(seq.size()) +
                                        " tokens; " + std::to_string(tokens.size()) +
                                        " more exceed the context size " + std::to_string(plan_.n_ctx));
  }

  EvalResult result;
  result.n_rows = all_logits ? static_cast<int64_t>(tokens.size()) : 1;
  result.logits.resize(static_cast<size_t>(result.n_rows * hp.n_vocab));
  bool cancelled = false;
  backend_->request_scope([&] {
    for (size_t start = 0; start < tokens.size(); start += static_cast<size_t>(plan_.n_batch)) {
      if (cancel && cancel->load(std::memory_order_relaxed)) {
        cancelled = true;
        return;
      }
      const size_t end = std::min(tokens.size(), start + static_cast<size_t>(plan_.n_batch));
      const bool last = end == tokens.size();
      std::vector<int32_t> chunk(tokens.begin() + static_cast<std::ptrdiff_t>(start),
                                 tokens.begin() + static_cast<std::ptrdiff_t>(end));
      const ChunkProgram program = build_forward_program(model_, std::move(chunk), slot,
                                                         static_cast<int32_t>(seq.size()),
                                                         all_logits ? LogitRows::All
                                                         : last     ? LogitRows::Last
                                                                    : LogitRows::None);
      if (!backend_->run(program, cancel)) {
        cancelled = true;
        return;
      }
      seq.insert(seq.end(), program.tokens.begin(), program.tokens.end());
      result.n_evaluated += static_cast<int64_t>(program.tokens.size());
      if (all_logits) {
        backend_->read_logits(program.n_logit_rows, result.logits.data() + start * static_cast<size_t>(hp.n_vocab));
      } else if (last) {
        backend_->read_logits(1, result.logits.data());
      }
    }
  });
  if (cancelled) {
    throw Error(ErrorCode::Cancelled, "evaluation cancelled after " + std::to_string(result.n_evaluated) + " of " +
                                          std::to_string(tokens.size()) + " tokens; slot " + std::to_string(slot) +
                                          " holds " + std::to_string(seq.size()) + " tokens");
  }
  return result;
}

}  // namespace ghostline
