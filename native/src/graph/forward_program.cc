#include "graph/program.h"

namespace ghostline {

const char* op_name(OpKind kind) {
  switch (kind) {
    case OpKind::Embed: return "embed";
    case OpKind::RmsNorm: return "rms_norm";
    case OpKind::MatMul: return "matmul";
    case OpKind::Rope: return "rope";
    case OpKind::StoreKv: return "store_kv";
    case OpKind::Attention: return "attention";
    case OpKind::SwiGlu: return "swiglu";
  }
  return "?";
}

namespace {

Op norm_op(Act src, int32_t src_row, Act dst, int32_t n, const std::vector<float>& weight) {
  Op op{OpKind::RmsNorm};
  op.src = src;
  op.src_row = src_row;
  op.dst = dst;
  op.n_rows = n;
  op.norm = weight.data();
  return op;
}

Op matmul_op(Act src, int32_t n, std::initializer_list<std::pair<const Weight*, Act>> outs, bool accumulate) {
  Op op{OpKind::MatMul};
  op.src = src;
  op.n_rows = n;
  op.accumulate = accumulate;
  for (const auto& [w, dst] : outs) {
    op.weights[op.n_weights] = w;
    op.outs[op.n_weights] = dst;
    op.n_weights++;
  }
  return op;
}

Op layer_op(OpKind kind, int32_t n, int32_t layer, int32_t slot, int32_t pos0) {
  Op op{kind};
  op.n_rows = n;
  op.layer = layer;
  op.slot = slot;
  op.pos0 = pos0;
  return op;
}

}  // namespace

ChunkProgram build_forward_program(const LlamaModel& model, std::vector<int32_t> tokens, int32_t slot, int32_t pos0,
                                   LogitRows logits) {
  ChunkProgram p;
  const int32_t n = static_cast<int32_t>(tokens.size());
  p.tokens = std::move(tokens);
  p.slot = slot;
  p.pos0 = pos0;
  p.n_logit_rows = logits == LogitRows::All ? n : logits == LogitRows::Last ? 1 : 0;

  Op embed{OpKind::Embed};
  embed.dst = Act::X;
  embed.n_rows = n;
  p.ops.push_back(embed);

  for (int32_t l = 0; l < static_cast<int32_t>(model.layers.size()); l++) {
    const LlamaLayer& L = model.layers[static_cast<size_t>(l)];
    p.ops.push_back(norm_op(Act::X, 0, Act::XB, n, L.attn_norm));
    p.ops.push_back(matmul_op(Act::XB, n, {{&L.wq, Act::Q}, {&L.wk, Act::K}, {&L.wv, Act::V}}, false));
    p.ops.push_back(layer_op(OpKind::Rope, n, l, slot, pos0));
    p.ops.push_back(layer_op(OpKind::StoreKv, n, l, slot, pos0));
    p.ops.push_back(layer_op(OpKind::Attention, n, l, slot, pos0));
    p.ops.push_back(matmul_op(Act::Att, n, {{&L.wo, Act::X}}, true));
    p.ops.push_back(norm_op(Act::X, 0, Act::XB, n, L.ffn_norm));
    p.ops.push_back(matmul_op(Act::XB, n, {{&L.w_gate, Act::HB}, {&L.w_up, Act::HB2}}, false));
    p.ops.push_back(layer_op(OpKind::SwiGlu, n, l, slot, pos0));
    p.ops.push_back(matmul_op(Act::HB, n, {{&L.w_down, Act::X}}, true));
    p.layer_ends.push_back(p.ops.size());
  }

  if (p.n_logit_rows > 0) {
    p.ops.push_back(norm_op(Act::X, n - p.n_logit_rows, Act::XB, p.n_logit_rows, model.output_norm));
    p.ops.push_back(matmul_op(Act::XB, p.n_logit_rows, {{&model.output, Act::Logits}}, false));
  }
  return p;
}

}  // namespace ghostline
