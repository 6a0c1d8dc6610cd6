#include "gpu/dispatch_planner.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace ghostline::gpu {

const char* kernel_name(uint32_t kernel) {
  switch (kernel) {
    case GL_K_EMBED: return "embed";
    case GL_K_RMS_NORM: return "rms_norm";
    case GL_K_QUANTIZE: return "quantize_q8_0";
    case GL_K_MATVEC: return "matvec";
    case GL_K_MATMUL: return "matmul";
    case GL_K_ROPE_STORE: return "rope_store_kv";
    case GL_K_ATTENTION: return "attention";
    case GL_K_SWIGLU: return "swiglu";
    case GL_K_MATVEC_FUSED: return "matvec_fused";
    case GL_K_MATVEC_DECODE: return "matvec_decode";
  }
  return "?";
}

namespace {

uint32_t blocks_for(int64_t n, int64_t per) { return static_cast<uint32_t>((n + per - 1) / per); }

class Planner {
 public:
  Planner(const DevicePlan& dp, const ChunkProgram& p, const PlannerOptions& o, DispatchList& out)
      : dp_(dp), p_(p), o_(o), out_(out) {}

  void run() {
    out_.dispatches.clear();
    out_.layer_ends.clear();
    const int32_t n = static_cast<int32_t>(p_.tokens.size());
    out_.replayable = n == 1;
    size_t next_end = 0;
    for (size_t i = 0; i < p_.ops.size(); i++) {
      while (next_end < p_.layer_ends.size() && p_.layer_ends[next_end] <= i) {
        out_.layer_ends.push_back(out_.dispatches.size());
        next_end++;
      }
      i = plan_op(i);
    }
    while (next_end++ < p_.layer_ends.size()) out_.layer_ends.push_back(out_.dispatches.size());
  }

 private:
  Dispatch& add(uint32_t kernel, uint32_t gx, uint32_t gy, uint32_t threads) {
    Dispatch d;
    d.kernel = kernel;
    d.grid[0] = gx;
    d.grid[1] = gy;
    d.block[0] = threads;
    out_.dispatches.push_back(d);
    return out_.dispatches.back();
  }
  static void bind(Dispatch& d, uint32_t index, uint32_t buffer, uint64_t offset) {
    d.bindings[index].buffer = buffer;
    d.bindings[index].offset = offset;
    if (index + 1 > d.n_bindings) d.n_bindings = index + 1;
  }
  void bind_quant(Dispatch& d, uint32_t first) {
    bind(d, first, GL_BUF_SCRATCH, dp_.quant_offset);
    bind(d, first + 1, GL_BUF_SCRATCH, dp_.scale_offset);
  }

  // The fused one-token products share this layout: weights and outputs from binding 3 on, in pairs; the
  // parameters say the input width, each matrix's rows, the prologue and whether the outputs accumulate.
  void bind_products(Dispatch& d, const Op& mm, int32_t prologue, float eps) {
    for (int k = 0; k < mm.n_weights; k++) {
      const WeightPlace& w = dp_.weight(*mm.weights[k]);
      bind(d, static_cast<uint32_t>(3 + 2 * k), GL_BUF_WEIGHTS, w.offset);
      bind(d, static_cast<uint32_t>(4 + 2 * k), GL_BUF_ACT, dp_.act_row(mm.outs[k], 0));
      d.params.i[1 + k] = static_cast<int32_t>(w.rows);
    }
    const WeightPlace& w0 = dp_.weight(*mm.weights[0]);
    d.params.i[0] = static_cast<int32_t>(w0.cols);
    d.params.i[4] = mm.n_weights;
    d.params.i[5] = prologue;
    d.params.i[6] = static_cast<int32_t>(w0.layout);
    d.params.i[7] = mm.accumulate ? 1 : 0;
    d.params.f[0] = eps;
  }

  // True when op i + 1 is a one-token product of `a` row 0 that reads Q8_0 activations.
  bool next_wants_quantized(size_t i, Act a, int64_t width) const {
    if (i + 1 >= p_.ops.size() || width % GL_QK8_0 != 0) return false;
    const Op& next = p_.ops[i + 1];
    return next.kind == OpKind::MatMul && next.src == a && next.src_row == 0 && next.n_rows == 1 &&
           next.weights[0]->type == TensorType::Q8_0;
  }

  // True when a later op (from ops[j] on) reads activation `a` before something rewrites it.
  bool read_later(size_t j, Act a) const {
    for (; j < p_.ops.size(); j++) {
      const Op& o = p_.ops[j];
      const bool reads = ((o.kind == OpKind::RmsNorm || o.kind == OpKind::MatMul) && o.src == a) ||
                         (o.kind == OpKind::SwiGlu && (a == Act::HB || a == Act::HB2)) ||
                         ((o.kind == OpKind::Rope || o.kind == OpKind::StoreKv) && (a == Act::Q || a == Act::K || a == Act::V)) ||
                         (o.kind == OpKind::Attention && a == Act::Q);
      if (reads) return true;
      bool writes = (o.kind == OpKind::RmsNorm || o.kind == OpKind::Embed) && o.dst == a;
      for (int k = 0; o.kind == OpKind::MatMul && !o.accumulate && k < o.n_weights; k++) writes = writes || o.outs[k] == a;
      if (writes) return false;
    }
    return false;
  }

  // True when op i (one row of `a`, `width` wide, made by a norm or SwiGLU) can be
  // folded into the prologue of the one-token Q8_0 product at op i + 1.
  bool fusable_into_next(size_t i, Act a, int64_t width) const {
    return o_.fuse_matvec_prologue && prologue_fusable(i, a, width);
  }
  bool prologue_fusable(size_t i, Act a, int64_t width) const {
    if (i + 1 >= p_.ops.size() || p_.ops[i].n_rows != 1) return false;
    if (width % GL_QK8_0 != 0 || width > GL_MATVEC_FUSED_MAX_COLS) return false;
    const Op& next = p_.ops[i + 1];
    if (next.kind != OpKind::MatMul || next.src != a || next.src_row != 0 || next.n_rows != 1) return false;
    // Blocks read the prologue's inputs while others write the product: they must not meet.
    const Op& op = p_.ops[i];
    for (int k = 0; k < next.n_weights; k++) {
      if (next.weights[k]->type != TensorType::Q8_0 || next.weights[k]->cols != width) return false;
      const Act out = next.outs[k];
      if (op.kind == OpKind::RmsNorm ? out == op.src : out == Act::HB || out == Act::HB2) return false;
    }
    return !read_later(i + 2, a);
  }

  // One GL_K_MATVEC_FUSED for the product op `mm`, its input made from `src` and `aux`.
  void plan_matvec_fused(const Op& mm, int32_t prologue, uint64_t src, uint32_t aux_buffer, uint64_t aux, float eps) {
    const int64_t warps = o_.matvec_fused_warps;
    int64_t total_rows = 0;
    for (int k = 0; k < mm.n_weights; k++) total_rows += mm.weights[k]->rows;
    // Each block recomputes the prologue: give a warp several rows rather than
    // launching many times more blocks than the GPU holds at once.
    const int64_t per_warp = std::max<int64_t>(1, (total_rows + warps * o_.matvec_fused_blocks - 1) /
                                                      (warps * o_.matvec_fused_blocks));
    const int64_t rpb = warps * per_warp;
    Dispatch& d = add(GL_K_MATVEC_FUSED, blocks_for(total_rows, rpb), 1, static_cast<uint32_t>(32 * warps));
    bind(d, 0, GL_BUF_ACT, src);
    bind(d, 1, aux_buffer, aux);
    bind(d, 2, GL_BUF_ACT, src);  // unused
    bind_products(d, mm, prologue, eps);
    d.params.rows_per_block = static_cast<int32_t>(rpb);
    quantized_for_ = -1;  // the scratch holds nothing of this
  }

  // True when every matrix of `mm` lies in the split Q8_0 layout GL_K_MATVEC_DECODE reads.
  bool split_q8(const Op& mm) const {
    for (int k = 0; k < mm.n_weights; k++) {
      const WeightPlace& w = dp_.weight(*mm.weights[k]);
      if (w.type != GL_W_Q8_0 || w.layout != GL_LAYOUT_Q8_SPLIT || w.cols % GL_QK8_0 != 0 ||
          w.cols > GL_MATVEC_FUSED_MAX_COLS) {
        return false;
      }
    }
    return true;
  }

  // The epilogue GL_K_MATVEC_DECODE can give the product at op i + 1 (made from the
  // norm at op i): RoPE and the KV store of ops i + 2 and i + 3, the SwiGLU of op
  // i + 2 (quantized for the product at op i + 3), or none.
  int32_t decode_epilogue(size_t i) const {
    const Op& mm = p_.ops[i + 1];
    const LlamaHparams& hp = dp_.hp;
    auto op_at = [&](size_t j, OpKind kind) { return j < p_.ops.size() && p_.ops[j].kind == kind && p_.ops[j].n_rows == 1; };
    if (mm.n_weights == 3 && !mm.accumulate && mm.outs[0] == Act::Q && mm.outs[1] == Act::K && mm.outs[2] == Act::V &&
        op_at(i + 2, OpKind::Rope) && op_at(i + 3, OpKind::StoreKv) && p_.ops[i + 3].layer == p_.ops[i + 2].layer &&
        p_.ops[i + 3].slot == p_.ops[i + 2].slot && hp.head_dim % 2 == 0 && mm.weights[0]->rows == hp.q_dim() &&
        mm.weights[1]->rows == hp.kv_dim() && mm.weights[2]->rows == hp.kv_dim()) {
      return GL_EPILOGUE_ROPE_KV;
    }
    if (mm.n_weights == 2 && !mm.accumulate && mm.outs[0] == Act::HB && mm.outs[1] == Act::HB2 &&
        mm.weights[0]->rows == mm.weights[1]->rows && mm.weights[0]->rows % GL_QK8_0 == 0 && op_at(i + 2, OpKind::SwiGlu) &&
        op_at(i + 3, OpKind::MatMul)) {
      const Op& down = p_.ops[i + 3];
      if (down.src == Act::HB && down.src_row == 0 && split_q8(down) && down.weights[0]->cols == mm.weights[0]->rows &&
          !read_later(i + 4, Act::HB) && !read_later(i + 4, Act::HB2)) {
        return GL_EPILOGUE_SWIGLU_Q8;
      }
    }
    return GL_EPILOGUE_STORE;
  }

  // One GL_K_MATVEC_DECODE for the product op `mm`. Its input comes from the norm
  // (src row and norm weight) or, for GL_PROLOGUE_Q8, from the quantized scratch.
  Dispatch& plan_matvec_decode(const Op& mm, int32_t prologue, int32_t epilogue, uint64_t src, uint64_t norm, float eps) {
    int64_t total_rows = 0;
    for (int k = 0; k < mm.n_weights; k++) total_rows += mm.weights[k]->rows;
    const int64_t units = epilogue == GL_EPILOGUE_SWIGLU_Q8 ? mm.weights[0]->rows : (total_rows + 1) / 2;
    const bool norm_prologue = prologue == GL_PROLOGUE_RMS_NORM;
    const int64_t warps = !norm_prologue                      ? o_.decode_q8_warps
                          : epilogue == GL_EPILOGUE_SWIGLU_Q8 ? o_.decode_swiglu_warps
                                                              : o_.decode_norm_warps;
    const int64_t blocks = norm_prologue ? o_.decode_norm_blocks : o_.decode_q8_blocks;
    // Units per warp: enough that the blocks aimed at cover every unit.
    const int64_t per_warp = std::max<int64_t>(1, (units + warps * blocks - 1) / (warps * blocks));
    int64_t upb = warps * per_warp;
    if (epilogue == GL_EPILOGUE_SWIGLU_Q8) upb = (upb + GL_QK8_0 - 1) / GL_QK8_0 * GL_QK8_0;  // whole Q8_0 blocks of h
    Dispatch& d = add(GL_K_MATVEC_DECODE, blocks_for(units, upb), 1, static_cast<uint32_t>(32 * warps));
    if (norm_prologue) {
      bind(d, 0, GL_BUF_ACT, src);
      bind(d, 1, GL_BUF_CONST, norm);
    } else {
      bind_quant(d, 0);
    }
    bind(d, 2, GL_BUF_ACT, dp_.act_row(mm.src, 0));  // unused
    bind_products(d, mm, prologue, eps);
    d.params.i[8] = epilogue;
    d.params.rows_per_block = static_cast<int32_t>(upb);
    quantized_for_ = -1;
    return d;
  }

  // The norm at op i with the product after it, and what follows that product, as one
  // GL_K_MATVEC_DECODE. Sets `last` to the last op it covers; false where it does not apply.
  bool plan_norm_decode(size_t i, size_t& last) {
    const Op& op = p_.ops[i];
    const int64_t width = dp_.plan.act_width(op.dst);
    if (!o_.decode_kernels || op.n_rows != 1 || !prologue_fusable(i, op.dst, width) || !split_q8(p_.ops[i + 1])) {
      return false;
    }
    const int32_t epilogue = decode_epilogue(i);
    Dispatch& d = plan_matvec_decode(p_.ops[i + 1], GL_PROLOGUE_RMS_NORM, epilogue, dp_.act_row(op.src, op.src_row),
                                     dp_.norm(op.norm), dp_.hp.rms_eps);
    if (epilogue == GL_EPILOGUE_ROPE_KV) {
      const Op& rope = p_.ops[i + 2];
      bind(d, 10, GL_BUF_CONST, dp_.rope_cos_offset);
      bind(d, 11, GL_BUF_CONST, dp_.rope_sin_offset);
      bind(d, 12, GL_BUF_KV, dp_.kv_offset(rope.slot, rope.layer, false));
      bind(d, 13, GL_BUF_KV, dp_.kv_offset(rope.slot, rope.layer, true));
      bind(d, 14, GL_BUF_STEP, 0);
      d.params.i[9] = static_cast<int32_t>(dp_.hp.head_dim);
      d.params.i[10] = dp_.plan.kv_type == TensorType::F16 ? 1 : 0;
      last = i + 3;
    } else if (epilogue == GL_EPILOGUE_SWIGLU_Q8) {
      bind(d, 9, GL_BUF_ACT, dp_.act_row(Act::HB, 0));  // unused
      bind_quant(d, 10);
      quantized_for_ = static_cast<int64_t>(i + 3);  // the down product reads h's quants
      last = i + 2;
    } else {
      last = i + 1;
    }
    return true;
  }

  size_t plan_op(size_t i) {
    const Op& op = p_.ops[i];
    const LlamaHparams& hp = dp_.hp;
    switch (op.kind) {
      case OpKind::Embed: {
        const WeightPlace& w = dp_.embedding;
        Dispatch& d = add(GL_K_EMBED, static_cast<uint32_t>(op.n_rows), 1, 256);
        bind(d, 0, GL_BUF_STEP, 0);
        bind(d, 1, GL_BUF_WEIGHTS, w.offset);
        bind(d, 2, GL_BUF_ACT, dp_.act_row(op.dst, 0));
        d.params.i[0] = static_cast<int32_t>(w.cols);
        d.params.i[1] = static_cast<int32_t>(w.type);
        d.params.i[2] = static_cast<int32_t>(w.layout);
        d.params.i[3] = static_cast<int32_t>(w.rows);
        return i;
      }
      case OpKind::RmsNorm: {
        const int64_t width = dp_.plan.act_width(op.dst);
        if (size_t last = i; plan_norm_decode(i, last)) return last;
        if (fusable_into_next(i, op.dst, width)) {
          plan_matvec_fused(p_.ops[i + 1], GL_PROLOGUE_RMS_NORM, dp_.act_row(op.src, op.src_row), GL_BUF_CONST,
                            dp_.norm(op.norm), hp.rms_eps);
          return i + 1;
        }
        Dispatch& d = add(GL_K_RMS_NORM, static_cast<uint32_t>(op.n_rows), 1, 256);
        bind(d, 0, GL_BUF_ACT, dp_.act_row(op.src, op.src_row));
        bind(d, 1, GL_BUF_CONST, dp_.norm(op.norm));
        bind(d, 2, GL_BUF_ACT, dp_.act_row(op.dst, 0));
        bind_quant(d, 3);
        d.params.i[0] = static_cast<int32_t>(width);
        d.params.i[1] = next_wants_quantized(i, op.dst, width) ? 1 : 0;
        d.params.f[0] = hp.rms_eps;
        quantized_for_ = d.params.i[1] ? static_cast<int64_t>(i + 1) : -1;
        return i;
      }
      case OpKind::MatMul:
        if (op.n_rows == 1) {
          plan_matvec(i, op);
        } else {
          plan_matmul(op);
        }
        return i;
      case OpKind::Rope:
      case OpKind::StoreKv: {
        const bool fuse = op.kind == OpKind::Rope && i + 1 < p_.ops.size() &&
                          p_.ops[i + 1].kind == OpKind::StoreKv && p_.ops[i + 1].layer == op.layer &&
                          p_.ops[i + 1].n_rows == op.n_rows;
        Dispatch& d = add(GL_K_ROPE_STORE, static_cast<uint32_t>(op.n_rows),
                          static_cast<uint32_t>(hp.n_head + hp.n_head_kv), 64);
        bind(d, 0, GL_BUF_ACT, dp_.act_row(Act::Q, 0));
        bind(d, 1, GL_BUF_ACT, dp_.act_row(Act::K, 0));
        bind(d, 2, GL_BUF_ACT, dp_.act_row(Act::V, 0));
        bind(d, 3, GL_BUF_CONST, dp_.rope_cos_offset);
        bind(d, 4, GL_BUF_CONST, dp_.rope_sin_offset);
        bind(d, 5, GL_BUF_KV, dp_.kv_offset(op.slot, op.layer, false));
        bind(d, 6, GL_BUF_KV, dp_.kv_offset(op.slot, op.layer, true));
        bind(d, 7, GL_BUF_STEP, 0);
        d.params.i[0] = static_cast<int32_t>(hp.n_head);
        d.params.i[1] = static_cast<int32_t>(hp.n_head_kv);
        d.params.i[2] = static_cast<int32_t>(hp.head_dim);
        d.params.i[3] = op.kind == OpKind::Rope ? 1 : 0;
        d.params.i[4] = op.kind == OpKind::StoreKv || fuse ? 1 : 0;
        d.params.i[5] = dp_.plan.kv_type == TensorType::F16 ? 1 : 0;
        return fuse ? i + 1 : i;
      }
      case OpKind::Attention: {
        // One row (decode) has a block per head only: make each block wide.
        const uint32_t threads = op.n_rows == 1 ? o_.attention_decode_threads : 128;
        Dispatch& d = add(GL_K_ATTENTION, static_cast<uint32_t>(hp.n_head), static_cast<uint32_t>(op.n_rows), threads);
        bind(d, 0, GL_BUF_ACT, dp_.act_row(Act::Q, 0));
        bind(d, 1, GL_BUF_KV, dp_.kv_offset(op.slot, op.layer, false));
        bind(d, 2, GL_BUF_KV, dp_.kv_offset(op.slot, op.layer, true));
        bind(d, 3, GL_BUF_ACT, dp_.act_row(Act::Att, 0));
        bind(d, 4, GL_BUF_STEP, 0);
        bind_quant(d, 5);
        d.params.i[0] = static_cast<int32_t>(hp.n_head);
        d.params.i[1] = static_cast<int32_t>(hp.n_head_kv);
        d.params.i[2] = static_cast<int32_t>(hp.head_dim);
        d.params.i[3] = dp_.plan.kv_type == TensorType::F16 ? 1 : 0;
        // A head's output is whole Q8_0 blocks only when head_dim is a multiple of 32.
        d.params.i[4] = hp.head_dim % GL_QK8_0 == 0 && next_wants_quantized(i, Act::Att, hp.q_dim()) ? 1 : 0;
        d.params.f[0] = 1.0f / std::sqrt(float(hp.head_dim));
        quantized_for_ = d.params.i[4] ? static_cast<int64_t>(i + 1) : -1;
        return i;
      }
      case OpKind::SwiGlu: {
        const int64_t width = dp_.plan.act_width(Act::HB);
        if (fusable_into_next(i, Act::HB, width)) {
          plan_matvec_fused(p_.ops[i + 1], GL_PROLOGUE_SWIGLU, dp_.act_row(Act::HB, 0), GL_BUF_ACT,
                            dp_.act_row(Act::HB2, 0), 0.0f);
          return i + 1;
        }
        Dispatch& d = add(GL_K_SWIGLU, blocks_for(width, 256), static_cast<uint32_t>(op.n_rows), 256);
        bind(d, 0, GL_BUF_ACT, dp_.act_row(Act::HB, 0));
        bind(d, 1, GL_BUF_ACT, dp_.act_row(Act::HB2, 0));
        bind_quant(d, 2);
        d.params.i[0] = static_cast<int32_t>(width);
        d.params.i[1] = next_wants_quantized(i, Act::HB, width) ? 1 : 0;
        quantized_for_ = d.params.i[1] ? static_cast<int64_t>(i + 1) : -1;
        return i;
      }
    }
    throw Error(ErrorCode::Backend, std::string("dispatch planner: unknown op ") + op_name(op.kind));
  }

  void plan_matvec(size_t i, const Op& op) {
    if (o_.decode_kernels && quantized_for_ == static_cast<int64_t>(i) && op.src_row == 0 && split_q8(op) &&
        dp_.weight(*op.weights[0]).cols == dp_.plan.act_width(op.src)) {
      // The op before quantized this input (attention, or a SwiGLU epilogue).
      plan_matvec_decode(op, GL_PROLOGUE_Q8, GL_EPILOGUE_STORE, 0, 0, 0.0f);
      return;
    }
    const int rpb = o_.matvec_rows_per_block;
    int first = 0;
    while (first < op.n_weights) {
      // A run of matrices of one type shares a dispatch.
      int last = first + 1;
      while (last < op.n_weights && op.weights[last]->type == op.weights[first]->type) last++;
      const WeightPlace& w0 = dp_.weight(*op.weights[first]);
      const bool q8 = w0.type == GL_W_Q8_0;
      if (q8 && quantized_for_ != static_cast<int64_t>(i)) {
        Dispatch& q = add(GL_K_QUANTIZE, blocks_for(w0.cols / GL_QK8_0, 8), 1, 256);
        bind(q, 0, GL_BUF_ACT, dp_.act_row(op.src, op.src_row));
        bind_quant(q, 1);
        q.params.i[0] = static_cast<int32_t>(w0.cols);
        q.params.i[1] = op.n_rows;
        quantized_for_ = static_cast<int64_t>(i);
      }
      int64_t total_rows = 0;
      for (int k = first; k < last; k++) total_rows += op.weights[k]->rows;
      Dispatch& d = add(GL_K_MATVEC, blocks_for(total_rows, rpb), 1, static_cast<uint32_t>(32 * rpb));
      bind(d, 0, GL_BUF_ACT, dp_.act_row(op.src, op.src_row));
      bind_quant(d, 1);
      for (int k = first; k < last; k++) {
        const WeightPlace& w = dp_.weight(*op.weights[k]);
        bind(d, static_cast<uint32_t>(3 + 2 * (k - first)), GL_BUF_WEIGHTS, w.offset);
        bind(d, static_cast<uint32_t>(4 + 2 * (k - first)), GL_BUF_ACT, dp_.act_row(op.outs[k], 0));
        d.params.i[1 + (k - first)] = static_cast<int32_t>(w.rows);
      }
      d.params.i[0] = static_cast<int32_t>(w0.cols);
      d.params.i[4] = last - first;
      d.params.i[5] = static_cast<int32_t>(w0.type);
      d.params.i[6] = static_cast<int32_t>(w0.layout);
      d.params.i[7] = op.accumulate ? 1 : 0;
      d.params.rows_per_block = rpb;
      first = last;
    }
  }

  void plan_matmul(const Op& op) {
    for (int k = 0; k < op.n_weights; k++) {
      const WeightPlace& w = dp_.weight(*op.weights[k]);
      Dispatch& d = add(GL_K_MATMUL, blocks_for(w.rows, GL_MM_TILE), blocks_for(op.n_rows, GL_MM_TILE), GL_MM_THREADS);
      bind(d, 0, GL_BUF_ACT, dp_.act_row(op.src, op.src_row));
      bind(d, 1, GL_BUF_WEIGHTS, w.offset);
      bind(d, 2, GL_BUF_ACT, dp_.act_row(op.outs[k], 0));
      d.params.i[0] = static_cast<int32_t>(w.cols);
      d.params.i[1] = static_cast<int32_t>(w.rows);
      d.params.i[2] = op.n_rows;
      d.params.i[3] = static_cast<int32_t>(w.type);
      d.params.i[4] = static_cast<int32_t>(w.layout);
      d.params.i[5] = op.accumulate ? 1 : 0;
      d.params.i[6] = static_cast<int32_t>(dp_.plan.act_width(op.outs[k]));
    }
  }

  const DevicePlan& dp_;
  const ChunkProgram& p_;
  const PlannerOptions& o_;
  DispatchList& out_;
  int64_t quantized_for_ = -1;  // op index whose input the last dispatch quantized
};

}  // namespace

void plan_dispatches(const DevicePlan& dp, const ChunkProgram& program, const PlannerOptions& options,
                     DispatchList& out) {
  Planner(dp, program, options, out).run();
}

}  // namespace ghostline::gpu
