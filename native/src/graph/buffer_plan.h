// Every buffer a backend needs, sized once when the model loads. Backends
// allocate exactly these (weights are mapped or copied from the file) and
// nothing during a request; the counters they report prove it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/llama_model.h"

namespace ghostline {

// Activation buffers: each holds up to n_batch rows of its width.
enum class Act : uint8_t {
  X,       // (n_batch, dim)     the residual stream
  XB,      // (n_batch, dim)     normalised input to a projection
  Q,       // (n_batch, q_dim)
  K,       // (n_batch, kv_dim)
  V,       // (n_batch, kv_dim)
  Att,     // (n_batch, q_dim)   attention output before the output projection
  HB,      // (n_batch, n_ff)    gate, then silu(gate) * up
  HB2,     // (n_batch, n_ff)    up
  Logits,  // (n_batch, n_vocab)
  Count,
};

const char* act_name(Act a);

struct BufferSpec {
  std::string name;
  uint64_t bytes;
};

struct BufferPlan {
  int64_t n_ctx = 0;    // positions per KV slot
  int64_t n_batch = 0;  // tokens per chunk
  int n_slots = 0;      // independent sequences
  int64_t width[static_cast<int>(Act::Count)] = {};
  int64_t kv_dim = 0;
  int64_t n_layer = 0;
  TensorType kv_type = TensorType::F16;  // F16 (llama.cpp's default) or F32

  int64_t act_width(Act a) const { return width[static_cast<int>(a)]; }
  uint64_t act_bytes(Act a) const { return static_cast<uint64_t>(n_batch * act_width(a)) * sizeof(float); }
  // K (or V) of one slot and layer: n_ctx rows of kv_dim values of kv_type.
  uint64_t kv_layer_bytes() const {
    return static_cast<uint64_t>(n_ctx * kv_dim) * (kv_type == TensorType::F16 ? 2u : 4u);
  }
  uint64_t kv_bytes() const { return 2 * kv_layer_bytes() * static_cast<uint64_t>(n_layer * n_slots); }
  // Widest input to any projection (for quantized activations).
  int64_t max_matmul_cols() const;

  // Every buffer with its size, activations first, then the KV cache.
  std::vector<BufferSpec> buffers() const;
  uint64_t total_bytes() const;
};

BufferPlan plan_buffers(const LlamaHparams& hp, int64_t n_ctx, int64_t n_batch, int n_slots, TensorType kv_type);

}  // namespace ghostline
