#include "gpu/device_plan.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/block_q8_0.h"
#include "common/error.h"

namespace ghostline::gpu {
namespace {

// 256 bytes satisfies CUDA's and Metal's alignment for any buffer offset.
uint64_t align_up(uint64_t n, uint64_t a = 256) { return (n + a - 1) / a * a; }

uint64_t split_q8_bytes(const Weight& w) {
  return GL_Q8_SCALES_AT(w.rows, w.cols) + static_cast<uint64_t>(w.rows * (w.cols / GL_QK8_0)) * 2;
}

std::vector<const Weight*> model_matrices(const LlamaModel& m) {
  std::vector<const Weight*> out = {&m.token_embd, &m.output};
  for (const auto& L : m.layers) {
    for (const Weight* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) out.push_back(w);
  }
  return out;
}

std::vector<const std::vector<float>*> model_norms(const LlamaModel& m) {
  std::vector<const std::vector<float>*> out = {&m.output_norm};
  for (const auto& L : m.layers) {
    out.push_back(&L.attn_norm);
    out.push_back(&L.ffn_norm);
  }
  return out;
}

}  // namespace

const WeightPlace& DevicePlan::weight(const Weight& w) const {
  auto it = weights.find(w.data);
  if (it == weights.end()) throw Error(ErrorCode::Backend, "device plan has no place for tensor \"" + w.name + "\"");
  return it->second;
}

uint64_t DevicePlan::norm(const float* v) const {
  auto it = norms.find(v);
  if (it == norms.end()) throw Error(ErrorCode::Backend, "device plan has no place for a norm vector");
  return it->second;
}

uint64_t DevicePlan::total_bytes() const {
  uint64_t total = 0;
  for (const auto& b : buffers) total += b.host_view ? 0 : b.bytes;
  return total;
}

DevicePlan plan_device(const LlamaModel& model, const BufferPlan& plan, WeightPlacement placement) {
  DevicePlan dp;
  dp.placement = placement;
  dp.plan = plan;
  dp.hp = model.hparams();

  // Weights, each once (a tied output shares the embedding's data).
  uint64_t w_bytes = 0;
  const uint8_t* file_base = model.file().data();
  for (const Weight* w : model_matrices(model)) {
    if (dp.weights.count(w->data)) continue;
    WeightPlace p;
    p.type = static_cast<uint32_t>(w->type);
    p.rows = w->rows;
    p.cols = w->cols;
    if (placement == WeightPlacement::MapFile) {
      p.layout = GL_LAYOUT_FILE;
      p.offset = static_cast<uint64_t>(static_cast<const uint8_t*>(w->data) - file_base);
    } else {
      p.layout = w->type == TensorType::Q8_0 ? GL_LAYOUT_Q8_SPLIT : GL_LAYOUT_FILE;
      p.offset = w_bytes;
      w_bytes = align_up(w_bytes + (p.layout == GL_LAYOUT_Q8_SPLIT ? split_q8_bytes(*w) : w->n_bytes));
    }
    dp.weights[w->data] = p;
  }
  dp.embedding = dp.weights.at(model.token_embd.data);
  if (placement == WeightPlacement::MapFile) {
    dp.buffers[GL_BUF_WEIGHTS] = {"weights (mapped file)", model.file().size(), file_base, {}};
    // The pieces kernels read, so that a device with a buffer length cap can split the file into views.
    std::vector<ByteRange>& ranges = dp.buffers[GL_BUF_WEIGHTS].ranges;
    for (const Weight* w : model_matrices(model)) {
      const uint64_t offset = dp.weights.at(w->data).offset;
      if (std::none_of(ranges.begin(), ranges.end(), [&](const ByteRange& r) { return r.offset == offset; })) {
        ranges.push_back({offset, w->n_bytes, w->name});
      }
    }
    std::sort(ranges.begin(), ranges.end(), [](const ByteRange& a, const ByteRange& b) { return a.offset < b.offset; });
  } else {
    dp.buffers[GL_BUF_WEIGHTS] = {"weights", w_bytes, nullptr, {}};
  }

  // Constants: norms, then the RoPE tables.
  uint64_t c_bytes = 0;
  for (const auto* v : model_norms(model)) {
    dp.norms[v->data()] = c_bytes;
    c_bytes = align_up(c_bytes + v->size() * sizeof(float));
  }
  const uint64_t table = static_cast<uint64_t>(plan.n_ctx * (dp.hp.head_dim / 2)) * sizeof(float);
  dp.rope_cos_offset = c_bytes;
  dp.rope_sin_offset = align_up(c_bytes + table);
  c_bytes = align_up(dp.rope_sin_offset + table);
  dp.buffers[GL_BUF_CONST] = {"constants", c_bytes, nullptr, {}};

  uint64_t a_bytes = 0;
  for (int i = 0; i < static_cast<int>(Act::Count); i++) {
    dp.act_offset[i] = a_bytes;
    a_bytes = align_up(a_bytes + plan.act_bytes(static_cast<Act>(i)));
  }
  dp.buffers[GL_BUF_ACT] = {"activations", a_bytes, nullptr, {}};

  const uint64_t quants = static_cast<uint64_t>(plan.n_batch * plan.max_matmul_cols());
  dp.quant_offset = 0;
  dp.scale_offset = align_up(quants);
  dp.buffers[GL_BUF_SCRATCH] = {"quantized activations", align_up(dp.scale_offset + quants / GL_QK8_0 * sizeof(float) + 4),
                                nullptr, {}};
  dp.buffers[GL_BUF_KV] = {"kv cache", plan.kv_bytes(), nullptr, {}};
  dp.buffers[GL_BUF_STEP] = {"step", align_up(static_cast<uint64_t>(GL_STEP_TOKENS + plan.n_batch) * sizeof(int32_t)),
                             nullptr, {}};
  return dp;
}

std::pair<uint32_t, uint64_t> MappedViews::locate(uint64_t offset) const {
  auto it = view_of.find(offset);
  if (it == view_of.end()) {
    throw Error(ErrorCode::Backend, "no weight view holds a tensor at offset " + std::to_string(offset));
  }
  return {it->second, offset - views[it->second].offset};
}

MappedViews plan_mapped_views(const DeviceBufferSpec& spec, uint64_t page, uint64_t max_bytes) {
  if (page == 0 || (page & (page - 1)) != 0) {
    throw Error(ErrorCode::Backend, "weight views: page size " + std::to_string(page) + " is not a power of two");
  }
  const auto floor_page = [&](uint64_t n) { return n & ~(page - 1); };
  const auto ceil_page = [&](uint64_t n) { return (n + page - 1) & ~(page - 1); };
  max_bytes = floor_page(max_bytes);
  MappedViews out;
  // Greedy, in file order: a view starts at the page of its first tensor and
  // takes tensors while the next one still ends inside max_bytes.
  uint64_t start = 0, end = 0;  // the open view; end == 0 when none is open
  std::vector<uint64_t> pending;  // offsets of the ranges in the open view
  auto close = [&] {
    if (end == 0) return;
    const auto index = static_cast<uint32_t>(out.views.size());
    out.views.push_back({start, end - start, ""});
    for (uint64_t o : pending) out.view_of[o] = index;
    pending.clear();
    end = 0;
  };
  uint64_t last_end = 0;
  for (const ByteRange& r : spec.ranges) {
    if (r.bytes == 0) continue;
    if (r.offset < last_end || r.offset + r.bytes > spec.bytes) {
      throw Error(ErrorCode::Backend, "weight views: tensor \"" + r.name + "\" at " + std::to_string(r.offset) +
                                          " overlaps the one before it or runs past the end of \"" + spec.name + "\"");
    }
    last_end = r.offset + r.bytes;
    const uint64_t r_start = floor_page(r.offset), r_end = ceil_page(r.offset + r.bytes);
    if (r_end - r_start > max_bytes) {
      throw Error(ErrorCode::Backend, "weight views: tensor \"" + r.name + "\" spans " + std::to_string(r_end - r_start) +
                                          " bytes of whole pages, more than one buffer may hold (" +
                                          std::to_string(max_bytes) + ")");
    }
    if (end != 0 && r_end - start > max_bytes) close();
    if (end == 0) start = r_start;
    end = std::max(end, r_end);
    pending.push_back(r.offset);
  }
  close();
  return out;
}

std::vector<uint8_t> pack_weight(const Weight& w, uint32_t layout) {
  const auto* src = static_cast<const uint8_t*>(w.data);
  if (layout != GL_LAYOUT_Q8_SPLIT) return std::vector<uint8_t>(src, src + w.n_bytes);
  std::vector<uint8_t> out(split_q8_bytes(w), 0);
  const auto* blocks = static_cast<const gl_block_q8_0*>(w.data);
  const int64_t n_blocks = w.rows * (w.cols / GL_QK8_0);
  uint8_t* scales = out.data() + GL_Q8_SCALES_AT(w.rows, w.cols);
  for (int64_t b = 0; b < n_blocks; b++) {
    std::memcpy(out.data() + b * GL_QK8_0, blocks[b].qs, GL_QK8_0);
    std::memcpy(scales + b * 2, &blocks[b].d, 2);
  }
  return out;
}

std::vector<uint8_t> build_constants(const LlamaModel& model, const DevicePlan& dp) {
  std::vector<uint8_t> out(dp.buffers[GL_BUF_CONST].bytes, 0);
  for (const auto* v : model_norms(model)) {
    std::memcpy(out.data() + dp.norm(v->data()), v->data(), v->size() * sizeof(float));
  }
  // As the CPU backend: pair i turns by pos * scale * base^(-2i/hd) / factor_i.
  const int64_t hd = dp.hp.head_dim, half = hd / 2;
  auto* cos_t = reinterpret_cast<float*>(out.data() + dp.rope_cos_offset);
  auto* sin_t = reinterpret_cast<float*>(out.data() + dp.rope_sin_offset);
  for (int64_t i = 0; i < half; i++) {
    double freq = std::pow(double(dp.hp.rope_freq_base), -2.0 * double(i) / double(hd)) * dp.hp.rope_freq_scale;
    if (!model.rope_freqs.empty()) freq /= model.rope_freqs[static_cast<size_t>(i)];
    for (int64_t pos = 0; pos < dp.plan.n_ctx; pos++) {
      const double theta = double(pos) * freq;
      cos_t[pos * half + i] = static_cast<float>(std::cos(theta));
      sin_t[pos * half + i] = static_cast<float>(std::sin(theta));
    }
  }
  return out;
}

}  // namespace ghostline::gpu
