#include "cpu/cpu_backend.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/error.h"
#include "cpu/attention.h"
#include "cpu/attention_f16.h"
#include "cpu/dequantize_row.h"
#include "cpu/q8_0_pair_layout.h"
#include "graph/program.h"

namespace ghostline {
namespace {
// Rows per unit of a matrix product's split between threads: whole kernel tiles.
constexpr int64_t kMatmulGrain = 16;
// Rows a decode thread takes at a time (about 70 KB of a 2048-column matrix).
constexpr int64_t kDecodeChunk = 32;
}  // namespace

CpuBackend::CpuBackend(int n_threads)
    : kernels_(cpu::select_kernels()), pool_(n_threads > 0 ? n_threads : cpu::physical_core_count()) {}

CpuBackend::~CpuBackend() = default;

std::string CpuBackend::device() const {
  return std::string("CPU (") + kernels_.name + ", " + std::to_string(pool_.size()) +
         (pool_.size() == 1 ? " thread)" : " threads)");
}

void CpuBackend::allocate(const LlamaModel& model, const BufferPlan& plan) {
  model_ = &model;
  plan_ = plan;
  const LlamaHparams& hp = model.hparams();

  size_t total = 0;
  for (int i = 0; i < static_cast<int>(Act::Count); i++) {
    act_offset_[i] = total;
    total += static_cast<size_t>(plan.n_batch * plan.width[i]);
  }
  activations_.assign(total, 0.0f);
  quantized_.assign(static_cast<size_t>(plan.n_batch * (plan.max_matmul_cols() / GL_QK8_0 + 1)), gl_block_q8_0{});
  half_input_.assign(static_cast<size_t>(plan.n_batch * plan.max_matmul_cols()), 0.0f);
  accumulator_.assign(static_cast<size_t>(plan.n_batch * hp.dim), 0.0f);
  scores_.assign(static_cast<size_t>(pool_.size() * cpu::kAttendGroupHeads) * static_cast<size_t>(plan.n_ctx), 0.0f);
  q16_.assign(static_cast<size_t>(pool_.size() * cpu::kAttendGroupHeads * hp.head_dim), 0.0f);
  const size_t kv_elems = static_cast<size_t>(2 * plan.n_slots * plan.n_layer * plan.n_ctx * plan.kv_dim);
  if (plan.kv_type == TensorType::F16) {
    kv_f16_.assign(kv_elems, 0);
  } else {
    kv_f32_.assign(kv_elems, 0.0f);
  }

  // RoPE angles for every position, as llama.cpp computes them for GGUF
  // weights: pair i of a head turns by pos * scale * base^(-2i/hd) / factor_i.
  const int64_t half = hp.head_dim / 2;
  rope_cos_.assign(static_cast<size_t>(plan.n_ctx * half), 0.0f);
  rope_sin_.assign(rope_cos_.size(), 0.0f);
  for (int64_t i = 0; i < half; i++) {
    double freq = std::pow(double(hp.rope_freq_base), -2.0 * double(i) / double(hp.head_dim)) * hp.rope_freq_scale;
    if (!model.rope_freqs.empty()) freq /= model.rope_freqs[static_cast<size_t>(i)];
    for (int64_t pos = 0; pos < plan.n_ctx; pos++) {
      const double theta = double(pos) * freq;
      rope_cos_[static_cast<size_t>(pos * half + i)] = static_cast<float>(std::cos(theta));
      rope_sin_[static_cast<size_t>(pos * half + i)] = static_cast<float>(std::sin(theta));
    }
  }
  cursors_ = std::vector<RowCursor>(static_cast<size_t>(pool_.size()));
  allocations_ = 10;
  pack_weights(model);
  if (!packed_.empty()) {
    prepared_pairs_ = LargeBuffer(cpu::pair_activation_bytes(plan.n_batch, plan.max_matmul_cols()));
    allocations_++;
  }
  thread_inputs_ = std::vector<ThreadInput>(pool_.size() > 1 ? static_cast<size_t>(pool_.size()) : 0);
  for (ThreadInput& in : thread_inputs_) {
    in.quantized.assign(static_cast<size_t>(plan.max_matmul_cols() / GL_QK8_0 + 1), gl_block_q8_0{});
    if (!packed_.empty()) in.prepared = LargeBuffer(cpu::pair_activation_bytes(1, plan.max_matmul_cols()));
    allocations_ += packed_.empty() ? 1 : 2;
  }
}

void CpuBackend::pack_weights(const LlamaModel& model) {
  packed_.clear();
  packed_weights_ = LargeBuffer();
  if (kernels_.matmul_q8_0_pairs == nullptr) return;
  // The matrix products of a decode step, in the order the program runs them;
  // matmul() splits each product's rows between threads as ThreadPool::split does.
  std::vector<std::vector<const Weight*>> products;
  for (const Op& op : build_forward_program(model, {0}, 0, 0, LogitRows::Last).ops) {
    if (op.kind == OpKind::MatMul) products.emplace_back(op.weights, op.weights + op.n_weights);
  }

  // Each thread's rows of every product, in program order, packed back to back:
  // a thread then reads one linear stream through a whole step instead of
  // starting a new one at each product. In same-run rounds on the development
  // VM, reading the weights product by product, each thread restarting at a new
  // address, reached 82-96% of the probe's bandwidth.
  struct Piece {
    const Weight* w;
    int64_t r0, r1;
    size_t offset;
  };
  const int n_threads = pool_.size();
  std::vector<Piece> pieces;
  std::vector<size_t> thread_end(static_cast<size_t>(n_threads));
  size_t total = 0;
  for (int i = 0; i < n_threads; i++) {
    for (const auto& product : products) {
      int64_t rows = 0;
      for (const Weight* w : product) rows += w->rows;
      int64_t b = 0, e = 0;
      cpu::ThreadPool::split(rows, kMatmulGrain, n_threads, i, &b, &e);
      int64_t first = 0;
      for (const Weight* w : product) {
        const int64_t r0 = std::max(b, first) - first, r1 = std::min(e, first + w->rows) - first;
        first += w->rows;
        if (r0 >= r1 || w->type != TensorType::Q8_0) continue;
        pieces.push_back({w, r0, r1, total});
        total += static_cast<size_t>((r1 - r0) * cpu::pair_layout(w->cols).row_bytes);
      }
    }
    thread_end[static_cast<size_t>(i)] = pieces.size();
  }
  if (total == 0) return;
  packed_weights_ = LargeBuffer(total);
  // Each thread packs (and so first touches) the stream it will read.
  pool_.run([&](int i, int) {
    for (size_t k = i == 0 ? 0 : thread_end[static_cast<size_t>(i - 1)]; k < thread_end[static_cast<size_t>(i)]; k++) {
      const Piece& piece = pieces[k];
      const auto* src = static_cast<const gl_block_q8_0*>(piece.w->data) + piece.r0 * (piece.w->cols / GL_QK8_0);
      cpu::pack_pair_rows(src, piece.w->cols, 0, piece.r1 - piece.r0, packed_weights_.data() + piece.offset);
    }
  });
  for (const Piece& piece : pieces) {
    packed_[piece.w->data].push_back({piece.r0, piece.r1, packed_weights_.data() + piece.offset});
  }
  // Products read only the packed copies now; the file's pages need not stay resident (token_embd's,
  // when the output is tied to it, come back row by row for the embedding lookups).
  for (const auto& product : products) {
    for (const Weight* w : product) {
      if (packed_.count(w->data) != 0) model.file().drop_resident(w->data, w->n_bytes);
    }
  }
  allocations_++;
}

void CpuBackend::request_scope(const std::function<void()>& work) {
  requests_begun_++;
  struct End {
    uint64_t& n;
    ~End() { n++; }
  } end{requests_ended_};
  work();
}

float* CpuBackend::act(Act a, int64_t row) {
  return activations_.data() + act_offset_[static_cast<int>(a)] + static_cast<size_t>(row * plan_.act_width(a));
}

size_t CpuBackend::kv_offset(int32_t slot, int32_t layer, bool v) const {
  const size_t per = static_cast<size_t>(plan_.n_ctx * plan_.kv_dim);
  return (static_cast<size_t>(slot * plan_.n_layer + layer) * 2 + (v ? 1 : 0)) * per;
}

bool CpuBackend::run(const ChunkProgram& p, const std::atomic<bool>* cancel) {
  submits_++;
  size_t next_layer_end = 0;
  for (size_t i = 0; i < p.ops.size(); i++) {
    if (next_layer_end < p.layer_ends.size() && i == p.layer_ends[next_layer_end]) {
      next_layer_end++;
      if (cancel && cancel->load(std::memory_order_relaxed)) return false;
    }
    const Op& op = p.ops[i];
    switch (op.kind) {
      case OpKind::Embed: embed(p, op); break;
      case OpKind::RmsNorm: rms_norm(op); break;
      case OpKind::MatMul: matmul(op); break;
      case OpKind::Rope: rope(op); break;
      case OpKind::StoreKv: store_kv(op); break;
      case OpKind::Attention: attention(op); break;
      case OpKind::SwiGlu: swiglu(op); break;
    }
  }
  return true;
}

void CpuBackend::read_logits(int64_t n_rows, float* dst) {
  std::memcpy(dst, act(Act::Logits), static_cast<size_t>(n_rows * plan_.act_width(Act::Logits)) * sizeof(float));
}

BackendCounters CpuBackend::counters() const {
  BackendCounters c;
  c.live_buffers = model_ ? allocations_ : 0;
  c.buffer_bytes = (activations_.size() + accumulator_.size() + scores_.size() + rope_cos_.size() +
                    rope_sin_.size() + q16_.size() + kv_f32_.size() + half_input_.size()) * sizeof(float) +
                   kv_f16_.size() * sizeof(uint16_t) + quantized_.size() * sizeof(gl_block_q8_0) +
                   packed_weights_.size() + prepared_pairs_.size();
  for (const ThreadInput& in : thread_inputs_) {
    c.buffer_bytes += in.quantized.size() * sizeof(gl_block_q8_0) + in.prepared.size();
  }
  c.allocations = allocations_;
  c.submits = submits_;
  c.requests_begun = requests_begun_;
  c.requests_ended = requests_ended_;
  return c;
}

void CpuBackend::embed(const ChunkProgram& p, const Op& op) {
  const Weight& e = model_->token_embd;
  const int64_t row_bytes = tensor_row_bytes(e.type, e.cols);
  for (int32_t t = 0; t < op.n_rows; t++) {
    const auto* row = static_cast<const uint8_t*>(e.data) + p.tokens[static_cast<size_t>(t)] * row_bytes;
    cpu::dequantize_row(e.type, row, act(op.dst, t), e.cols);
  }
}

void CpuBackend::rms_norm(const Op& op) {
  const int64_t n = plan_.act_width(op.dst);
  const float eps = model_->hparams().rms_eps;
  pool_.parallel_for(op.n_rows, 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; t++) cpu::rms_norm_row(act(op.src, op.src_row + t), op.norm, act(op.dst, t), n, eps);
  });
}

void CpuBackend::matmul(const Op& op) {
  const int64_t cols = op.weights[0]->cols;
  const int64_t n_tok = op.n_rows;
  const float* x = act(op.src, op.src_row);
  bool any_q8 = false, any_f16 = false;
  int64_t total_rows = 0;
  for (int i = 0; i < op.n_weights; i++) {
    any_q8 |= op.weights[i]->type == TensorType::Q8_0;
    any_f16 |= op.weights[i]->type == TensorType::F16;
    total_rows += op.weights[i]->rows;
  }
  // llama.cpp multiplies F16 weights with activations converted to F16; so do we, to agree with it.
  if (any_f16) {
    std::memcpy(half_input_.data(), x, static_cast<size_t>(n_tok * cols) * sizeof(float));
    cpu::round_row_f16(half_input_.data(), n_tok * cols);
  }
  const int64_t blocks = cols / GL_QK8_0;
  const bool decode = n_tok == 1 && !thread_inputs_.empty();
  if (any_q8 && !decode) {
    pool_.parallel_for(n_tok, 1, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; t++) kernels_.quantize_q8_0(x + t * cols, quantized_.data() + t * blocks, cols);
    });
  }

  // Each weight's packed pieces, looked up once per product rather than per chunk of rows, and the
  // activations in the pair layout once for every row (a product's weights are all packed or none);
  // a decode step's are laid out by each thread for itself, below.
  const std::vector<PackedRows>* pieces[sizeof(Op::weights) / sizeof(Op::weights[0])] = {};
  bool any_packed = false;
  for (int i = 0; i < op.n_weights; i++) {
    if (const auto found = packed_.find(op.weights[i]->data); found != packed_.end()) {
      pieces[i] = &found->second;
      any_packed = true;
    }
  }
  if (any_packed && !decode) kernels_.prepare_q8_0_pairs(quantized_.data(), n_tok, cols, prepared_pairs_.data());

  // Threads split the rows of all weights together, so a thread streams one
  // contiguous run of weight memory.
  const auto rows = [&](int64_t b, int64_t e, const gl_block_q8_0* quantized, const void* prepared) {
    int64_t first = 0;
    for (int i = 0; i < op.n_weights; i++) {
      const Weight& w = *op.weights[i];
      const int64_t r0 = std::max(b, first) - first;
      const int64_t r1 = std::min(e, first + w.rows) - first;
      first += w.rows;
      if (r0 >= r1) continue;
      float* y = op.accumulate ? accumulator_.data() : act(op.outs[i]);
      const int64_t ldy = op.accumulate ? w.rows : plan_.act_width(op.outs[i]);
      switch (w.type) {
        case TensorType::Q8_0:
          if (pieces[i] != nullptr) {
            // Rows [r0, r1) from the packed pieces that hold them (one, when the split matches the packing).
            const int64_t row_bytes = cpu::pair_layout(cols).row_bytes;
            for (const PackedRows& piece : *pieces[i]) {
              const int64_t a = std::max(r0, piece.r0), z = std::min(r1, piece.r1);
              if (a >= z) continue;
              kernels_.matmul_q8_0_pairs(piece.data + (a - piece.r0) * row_bytes, cols, 0, z - a, prepared, n_tok,
                                         y + a, ldy);
            }
          } else {
            kernels_.matmul_q8_0(static_cast<const gl_block_q8_0*>(w.data), cols, r0, r1, quantized, n_tok, y, ldy);
          }
          break;
        case TensorType::F16:
          kernels_.matmul_f16(static_cast<const uint16_t*>(w.data), cols, r0, r1, half_input_.data(), n_tok, y, ldy);
          break;
        case TensorType::BF16:
          kernels_.matmul_bf16(static_cast<const uint16_t*>(w.data), cols, r0, r1, x, n_tok, y, ldy);
          break;
        case TensorType::F32:
          kernels_.matmul_f32(static_cast<const float*>(w.data), cols, r0, r1, x, n_tok, y, ldy);
          break;
      }
    }
  };
  if (decode) {
    // Decode: each thread starts on its own rows and then helps with the rows
    // the others have not reached, a few at a time. A product ends when its
    // slowest part does; on a shared machine one core's bandwidth dips while
    // the other's does not, and fixed halves left the early thread waiting.
    for (int i = 0; i < pool_.size(); i++) {
      int64_t b = 0, e = 0;
      cpu::ThreadPool::split(total_rows, kMatmulGrain, pool_.size(), i, &b, &e);
      cursors_[static_cast<size_t>(i)].next.store(b, std::memory_order_relaxed);
      cursors_[static_cast<size_t>(i)].end = e;
    }
    pool_.run([&](int thread, int n_threads) {
      ThreadInput& in = thread_inputs_[static_cast<size_t>(thread)];
      if (any_q8) kernels_.quantize_q8_0(x, in.quantized.data(), cols);
      if (any_packed) kernels_.prepare_q8_0_pairs(in.quantized.data(), 1, cols, in.prepared.data());
      for (int k = 0; k < n_threads; k++) {
        RowCursor& c = cursors_[static_cast<size_t>((thread + k) % n_threads)];
        for (int64_t r; (r = c.next.fetch_add(kDecodeChunk, std::memory_order_relaxed)) < c.end;) {
          rows(r, std::min(r + kDecodeChunk, c.end), in.quantized.data(), in.prepared.data());
        }
      }
    });
  } else {
    pool_.parallel_for(total_rows, kMatmulGrain,
                       [&](int64_t b, int64_t e) { rows(b, e, quantized_.data(), prepared_pairs_.data()); });
  }

  if (op.accumulate) {
    const int64_t width = op.weights[0]->rows;
    pool_.parallel_for(n_tok, 1, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; t++) cpu::add_row(act(op.outs[0], t), accumulator_.data() + t * width, width);
    });
  }
}

void CpuBackend::rope(const Op& op) {
  const LlamaHparams& hp = model_->hparams();
  const int64_t hd = hp.head_dim, half = hd / 2;
  const int64_t heads_per_row = hp.n_head + hp.n_head_kv;
  pool_.parallel_for(op.n_rows * heads_per_row, 8, [&](int64_t b, int64_t e) {
    for (int64_t item = b; item < e; item++) {
      const int64_t t = item / heads_per_row, h = item % heads_per_row;
      float* v = h < hp.n_head ? act(Act::Q, t) + h * hd : act(Act::K, t) + (h - hp.n_head) * hd;
      const float* c = rope_cos_.data() + (op.pos0 + t) * half;
      const float* s = rope_sin_.data() + (op.pos0 + t) * half;
      for (int64_t i = 0; i < half; i++) {
        const float x0 = v[2 * i], x1 = v[2 * i + 1];
        v[2 * i] = x0 * c[i] - x1 * s[i];
        v[2 * i + 1] = x0 * s[i] + x1 * c[i];
      }
    }
  });
}

void CpuBackend::store_kv(const Op& op) {
  // Head-major: each KV head's rows are one contiguous run (n_ctx x head_dim), so attention streams them.
  const int64_t hd = model_->hparams().head_dim;
  const int64_t n_kv_heads = plan_.kv_dim / hd;
  const size_t k0 = kv_offset(op.slot, op.layer, false), v0 = kv_offset(op.slot, op.layer, true);
  for (int64_t t = 0; t < op.n_rows; t++) {
    for (int64_t h = 0; h < n_kv_heads; h++) {
      const size_t at = static_cast<size_t>((h * plan_.n_ctx + op.pos0 + t) * hd);
      const float* k = act(Act::K, t) + h * hd;
      const float* v = act(Act::V, t) + h * hd;
      if (plan_.kv_type == TensorType::F16) {
        cpu::store_row_f16(k, kv_f16_.data() + k0 + at, hd);
        cpu::store_row_f16(v, kv_f16_.data() + v0 + at, hd);
      } else {
        std::memcpy(kv_f32_.data() + k0 + at, k, static_cast<size_t>(hd) * sizeof(float));
        std::memcpy(kv_f32_.data() + v0 + at, v, static_cast<size_t>(hd) * sizeof(float));
      }
    }
  }
}

void CpuBackend::attention(const Op& op) {
  const LlamaHparams& hp = model_->hparams();
  const int64_t hd = hp.head_dim;
  const int64_t group = hp.n_head / hp.n_head_kv;
  const float scale = 1.0f / std::sqrt(float(hd));
  const size_t k0 = kv_offset(op.slot, op.layer, false);
  const size_t v0 = kv_offset(op.slot, op.layer, true);
  const bool half = plan_.kv_type == TensorType::F16;
  // A call covers a row's query heads that share a KV head, a few at a time, so
  // each key and value row is converted once for all of them (F16 cache). A
  // thread takes all the calls of one (row, KV head) unit in turn: the first
  // reads that head's keys and values from memory, the rest find them in its
  // L2. With fewer units than threads (one KV head, one row), a unit is one call.
  const int64_t per_item = half ? std::min<int64_t>(group, cpu::kAttendGroupHeads) : 1;
  const int64_t heads_per_unit = op.n_rows * hp.n_head_kv >= pool_.size() ? group : per_item;
  const int64_t units_per_kv = (group + heads_per_unit - 1) / heads_per_unit;
  const int64_t n_units = op.n_rows * hp.n_head_kv * units_per_kv;
  pool_.run([&](int thread, int n_threads) {
    const size_t stride = static_cast<size_t>(plan_.n_ctx);
    float* scores = scores_.data() + static_cast<size_t>(thread * cpu::kAttendGroupHeads) * stride;
    float* q16 = q16_.data() + static_cast<size_t>(thread * cpu::kAttendGroupHeads * hd);
    // Later rows attend over more keys: deal (row, KV head) units round-robin to balance.
    for (int64_t unit = thread; unit < n_units; unit += n_threads) {
      const int64_t t = unit / (hp.n_head_kv * units_per_kv), kvh = unit / units_per_kv % hp.n_head_kv;
      const int64_t n_kv = op.pos0 + t + 1;
      const size_t head = static_cast<size_t>(kvh * plan_.n_ctx * hd);
      const int64_t h0 = kvh * group + (unit % units_per_kv) * heads_per_unit;
      const int64_t h1 = std::min(h0 + heads_per_unit, (kvh + 1) * group);
      for (int64_t h = h0; h < h1; h += per_item) {
        const int n_heads = static_cast<int>(std::min(per_item, h1 - h));
        const float* q = act(Act::Q, t) + h * hd;
        float* out = act(Act::Att, t) + h * hd;
        if (half) {
          cpu::attend_heads_f16(q, n_heads, kv_f16_.data() + k0 + head, kv_f16_.data() + v0 + head, hd, n_kv, hd,
                                scale, scores, plan_.n_ctx, q16, out);
        } else {
          cpu::attend_head(q, kv_f32_.data() + k0 + head, kv_f32_.data() + v0 + head, hd, n_kv, hd, scale, scores,
                           out);
        }
      }
    }
  });
}

void CpuBackend::swiglu(const Op& op) {
  // Split by elements, not rows: a decode step has one long row.
  const int64_t n = plan_.act_width(Act::HB);
  pool_.parallel_for(op.n_rows * n, 64, [&](int64_t b, int64_t e) {
    while (b < e) {
      const int64_t t = b / n, i = b % n;
      const int64_t len = std::min(e - b, n - i);
      cpu::swiglu_row(act(Act::HB, t) + i, act(Act::HB2, t) + i, len);
      b += len;
    }
  });
}

}  // namespace ghostline
