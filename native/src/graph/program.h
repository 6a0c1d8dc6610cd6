// One chunk of a forward pass as an ordered list of operations over the
// planned buffers. The list is built once by shared code (forward_program.cc)
// and executed by each backend: the CPU runs it directly, GPU backends encode
// it into command buffers. Between layers a backend polls for cancellation.
#pragma once

#include <cstdint>
#include <vector>

#include "graph/buffer_plan.h"
#include "model/llama_model.h"

namespace ghostline {

enum class OpKind : uint8_t {
  Embed,      // dst rows = token_embd rows of program.tokens
  RmsNorm,    // dst = src / rms(src) * norm, row by row
  MatMul,     // outs[i] (+)= src x weights[i]^T, for every weight; shared input
  Rope,       // rotate Q and K in place at positions pos0 + row
  StoreKv,    // K and V rows -> KV cache of (slot, layer) at positions pos0 + row
  Attention,  // Att = causal attention of Q over the cache of (slot, layer), positions [0, pos0 + row]
  SwiGlu,     // HB = silu(HB) * HB2
};

const char* op_name(OpKind kind);

struct Op {
  OpKind kind;
  int32_t n_rows = 0;     // token rows the op covers
  Act src = Act::X;
  int32_t src_row = 0;    // first row of src (the final norm may take only the last)
  Act dst = Act::X;
  const float* norm = nullptr;      // RmsNorm weight (dim)
  int n_weights = 0;                // MatMul
  const Weight* weights[3] = {};
  Act outs[3] = {};
  bool accumulate = false;          // MatMul adds into its outputs (residual)
  int32_t layer = -1;
  int32_t slot = 0;
  int32_t pos0 = 0;
};

struct ChunkProgram {
  std::vector<int32_t> tokens;        // the chunk's input ids
  int32_t slot = 0;
  int32_t pos0 = 0;                   // position of tokens[0]
  int32_t n_logit_rows = 0;           // rows of Act::Logits the program fills
  std::vector<Op> ops;
  std::vector<size_t> layer_ends;     // ops[0, layer_ends[i]) finish layer i; a backend may stop there
};

enum class LogitRows { None, Last, All };

// Builds the program for `tokens` at positions [pos0, pos0 + n) of `slot`,
// with logits for no row (a prefill chunk before the last), the last or all.
ChunkProgram build_forward_program(const LlamaModel& model, std::vector<int32_t> tokens, int32_t slot, int32_t pos0,
                                   LogitRows logits);

}  // namespace ghostline
