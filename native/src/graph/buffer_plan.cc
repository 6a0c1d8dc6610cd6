#include "graph/buffer_plan.h"

#include <algorithm>

namespace ghostline {

const char* act_name(Act a) {
  switch (a) {
    case Act::X: return "x";
    case Act::XB: return "xb";
    case Act::Q: return "q";
    case Act::K: return "k";
    case Act::V: return "v";
    case Act::Att: return "att";
    case Act::HB: return "hb";
    case Act::HB2: return "hb2";
    case Act::Logits: return "logits";
    case Act::Count: break;
  }
  return "?";
}

BufferPlan plan_buffers(const LlamaHparams& hp, int64_t n_ctx, int64_t n_batch, int n_slots, TensorType kv_type) {
  BufferPlan p;
  p.kv_type = kv_type;
  p.n_ctx = n_ctx;
  p.n_batch = n_batch;
  p.n_slots = n_slots;
  p.kv_dim = hp.kv_dim();
  p.n_layer = hp.n_layer;
  auto set = [&](Act a, int64_t w) { p.width[static_cast<int>(a)] = w; };
  set(Act::X, hp.dim);
  set(Act::XB, hp.dim);
  set(Act::Q, hp.q_dim());
  set(Act::K, hp.kv_dim());
  set(Act::V, hp.kv_dim());
  set(Act::Att, hp.q_dim());
  set(Act::HB, hp.n_ff);
  set(Act::HB2, hp.n_ff);
  set(Act::Logits, hp.n_vocab);
  return p;
}

int64_t BufferPlan::max_matmul_cols() const {
  return std::max({act_width(Act::XB), act_width(Act::Att), act_width(Act::HB)});
}

std::vector<BufferSpec> BufferPlan::buffers() const {
  std::vector<BufferSpec> out;
  for (int i = 0; i < static_cast<int>(Act::Count); i++) {
    out.push_back({std::string("act.") + act_name(static_cast<Act>(i)), act_bytes(static_cast<Act>(i))});
  }
  out.push_back({"kv.k", kv_bytes() / 2});
  out.push_back({"kv.v", kv_bytes() / 2});
  return out;
}

uint64_t BufferPlan::total_bytes() const {
  uint64_t total = 0;
  for (const auto& b : buffers()) total += b.bytes;
  return total;
}

}  // namespace ghostline
