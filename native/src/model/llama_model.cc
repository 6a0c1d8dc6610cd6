#include "model/llama_model.h"

#include <cmath>
#include <cstring>

#include "common/error.h"
#include "common/fp16.h"

namespace ghostline {
namespace {

[[noreturn]] void invalid(const GgufFile& f, const std::string& what) {
  throw Error(ErrorCode::Invalid, f.path() + ": " + what);
}

[[noreturn]] void unsupported(const GgufFile& f, const std::string& what) {
  throw Error(ErrorCode::Unsupported, f.path() + ": " + what);
}

// A hyper-parameter that must be a positive integer no larger than `limit`.
int64_t positive(const GgufFile& f, const std::string& key, uint64_t value, uint64_t limit) {
  if (value == 0 || value > limit) {
    invalid(f, "key \"" + key + "\" = " + std::to_string(value) + " is out of range (1.." + std::to_string(limit) + ")");
  }
  return static_cast<int64_t>(value);
}

std::string shape_text(int64_t cols, int64_t rows) {
  return rows == 1 ? "[" + std::to_string(cols) + "]" : "[" + std::to_string(cols) + ", " + std::to_string(rows) + "]";
}

const GgufTensor& require_tensor(const GgufFile& f, const std::string& name) {
  const GgufTensor* t = f.find_tensor(name);
  if (!t) invalid(f, "tensor \"" + name + "\" is missing");
  if (!tensor_type_supported(t->type)) {
    unsupported(f, "tensor \"" + name + "\" has type " + tensor_type_name(t->type) +
                       ", which Ghostline does not run (supported: f32, f16, bf16, q8_0)");
  }
  return *t;
}

void check_shape(const GgufFile& f, const GgufTensor& t, int64_t cols, int64_t rows, const char* why) {
  const bool is_vector = rows == 1;
  const bool ok = is_vector ? (t.n_dims == 1 && t.ne[0] == cols)
                            : (t.n_dims == 2 && t.ne[0] == cols && t.ne[1] == rows);
  if (!ok) {
    std::string got = "[";
    for (uint32_t i = 0; i < t.n_dims; i++) got += (i ? ", " : "") + std::to_string(t.ne[i]);
    got += "]";
    invalid(f, "tensor \"" + t.name + "\" has shape " + got + ", expected " + shape_text(cols, rows) + " (" + why + ")");
  }
}

Weight bind_matrix(const GgufFile& f, const std::string& name, int64_t cols, int64_t rows, const char* why) {
  const GgufTensor& t = require_tensor(f, name);
  check_shape(f, t, cols, rows, why);
  Weight w;
  w.name = name;
  w.type = static_cast<TensorType>(t.type);
  w.cols = cols;
  w.rows = rows;
  w.data = t.data;
  w.n_bytes = t.n_bytes;
  return w;
}

std::vector<float> read_vector(const GgufFile& f, const std::string& name, int64_t n, const char* why) {
  const GgufTensor& t = require_tensor(f, name);
  check_shape(f, t, n, 1, why);
  std::vector<float> out(static_cast<size_t>(n));
  const auto type = static_cast<TensorType>(t.type);
  for (int64_t i = 0; i < n; i++) {
    switch (type) {
      case TensorType::F32: std::memcpy(&out[i], t.data + 4 * i, 4); break;
      case TensorType::F16: {
        uint16_t h;
        std::memcpy(&h, t.data + 2 * i, 2);
        out[i] = fp16_to_fp32(h);
        break;
      }
      case TensorType::BF16: {
        uint16_t h;
        std::memcpy(&h, t.data + 2 * i, 2);
        out[i] = bf16_to_fp32(h);
        break;
      }
      case TensorType::Q8_0:
        invalid(f, "tensor \"" + name + "\" is a vector and must be f32, f16 or bf16, not q8_0");
    }
    if (!std::isfinite(out[i])) invalid(f, "tensor \"" + name + "\" holds a non-finite value at " + std::to_string(i));
  }
  return out;
}

}  // namespace

std::unique_ptr<LlamaModel> LlamaModel::load(const std::string& path) {
  return from_gguf(GgufFile::open(path));
}

std::unique_ptr<LlamaModel> LlamaModel::from_gguf(std::unique_ptr<GgufFile> file) {
  std::unique_ptr<LlamaModel> m(new LlamaModel());
  m->file_ = std::move(file);
  m->bind();
  return m;
}

void LlamaModel::bind() {
  const GgufFile& f = *file_;
  const std::string arch = f.get_string("general.architecture");
  if (arch != "llama") {
    unsupported(f, "architecture \"" + arch + "\" is not supported (key general.architecture); Ghostline runs \"llama\" models");
  }
  LlamaHparams& hp = hp_;
  {
    std::string base = f.path();
    const size_t slash = base.find_last_of("/\\");
    if (slash != std::string::npos) base = base.substr(slash + 1);
    hp.name = f.get_string("general.name", base);
  }

  const uint64_t kMaxWidth = 1 << 16;
  hp.dim = positive(f, "llama.embedding_length", f.get_u64("llama.embedding_length"), kMaxWidth);
  hp.n_layer = positive(f, "llama.block_count", f.get_u64("llama.block_count"), 1024);
  hp.n_head = positive(f, "llama.attention.head_count", f.get_u64("llama.attention.head_count"), 1024);
  hp.n_head_kv = positive(f, "llama.attention.head_count_kv",
                          f.get_u64("llama.attention.head_count_kv", static_cast<uint64_t>(hp.n_head)), 1024);
  hp.n_ff = positive(f, "llama.feed_forward_length", f.get_u64("llama.feed_forward_length"), 1 << 20);
  hp.n_ctx_train = positive(f, "llama.context_length", f.get_u64("llama.context_length", 2048), 1 << 24);
  if (hp.n_head % hp.n_head_kv != 0) {
    invalid(f, "llama.attention.head_count (" + std::to_string(hp.n_head) +
                   ") is not a multiple of llama.attention.head_count_kv (" + std::to_string(hp.n_head_kv) + ")");
  }
  const uint64_t default_head_dim = static_cast<uint64_t>(hp.dim / hp.n_head);
  hp.head_dim = positive(f, "llama.attention.key_length", f.get_u64("llama.attention.key_length", default_head_dim), 4096);
  const uint64_t value_dim = f.get_u64("llama.attention.value_length", static_cast<uint64_t>(hp.head_dim));
  if (value_dim != static_cast<uint64_t>(hp.head_dim)) {
    unsupported(f, "llama.attention.value_length (" + std::to_string(value_dim) +
                       ") differs from the key length (" + std::to_string(hp.head_dim) + ")");
  }
  if (hp.head_dim % 2 != 0) invalid(f, "head size " + std::to_string(hp.head_dim) + " is odd; RoPE needs pairs");
  const uint64_t n_rot = f.get_u64("llama.rope.dimension_count", static_cast<uint64_t>(hp.head_dim));
  if (n_rot != static_cast<uint64_t>(hp.head_dim)) {
    unsupported(f, "llama.rope.dimension_count (" + std::to_string(n_rot) + ") differs from the head size (" +
                       std::to_string(hp.head_dim) + "); partial rotary embeddings are not supported");
  }
  hp.rms_eps = static_cast<float>(f.get_f64("llama.attention.layer_norm_rms_epsilon", 1e-5));
  hp.rope_freq_base = static_cast<float>(f.get_f64("llama.rope.freq_base", 10000.0));
  if (!(hp.rms_eps > 0 && hp.rms_eps < 1)) invalid(f, "llama.attention.layer_norm_rms_epsilon is out of range");
  if (!(hp.rope_freq_base > 0) || !std::isfinite(hp.rope_freq_base)) invalid(f, "llama.rope.freq_base is out of range");

  // Linear RoPE scaling: newer files say scaling.type/factor, older ones scale_linear.
  double factor = f.get_f64("llama.rope.scale_linear", 1.0);
  const std::string scaling = f.get_string("llama.rope.scaling.type", factor != 1.0 ? "linear" : "none");
  if (scaling == "linear") {
    factor = f.get_f64("llama.rope.scaling.factor", factor);
  } else if (scaling != "none") {
    unsupported(f, "llama.rope.scaling.type \"" + scaling + "\" is not supported (only none and linear)");
  }
  if (!(factor > 0) || !std::isfinite(factor)) invalid(f, "llama.rope.scaling.factor is out of range");
  hp.rope_freq_scale = static_cast<float>(1.0 / factor);

  const GgufTensor& embd = require_tensor(f, "token_embd.weight");
  if (embd.n_dims != 2 || embd.ne[0] != hp.dim) {
    check_shape(f, embd, hp.dim, embd.n_dims == 2 ? embd.ne[1] : 1, "llama.embedding_length by vocabulary size");
  }
  hp.n_vocab = embd.ne[1];
  const uint64_t declared_vocab = f.get_u64("llama.vocab_size", static_cast<uint64_t>(hp.n_vocab));
  if (declared_vocab != static_cast<uint64_t>(hp.n_vocab)) {
    invalid(f, "llama.vocab_size (" + std::to_string(declared_vocab) + ") differs from token_embd.weight's " +
                   std::to_string(hp.n_vocab) + " rows");
  }
  token_embd = bind_matrix(f, "token_embd.weight", hp.dim, hp.n_vocab, "llama.embedding_length by vocabulary size");
  output_norm = read_vector(f, "output_norm.weight", hp.dim, "llama.embedding_length");
  hp.tied_output = f.find_tensor("output.weight") == nullptr;
  output = hp.tied_output ? token_embd
                          : bind_matrix(f, "output.weight", hp.dim, hp.n_vocab, "llama.embedding_length by vocabulary size");
  if (f.find_tensor("rope_freqs.weight")) {
    rope_freqs = read_vector(f, "rope_freqs.weight", hp.head_dim / 2, "half the head size");
  }

  layers.resize(static_cast<size_t>(hp.n_layer));
  for (int64_t l = 0; l < hp.n_layer; l++) {
    const std::string p = "blk." + std::to_string(l) + ".";
    LlamaLayer& L = layers[static_cast<size_t>(l)];
    L.attn_norm = read_vector(f, p + "attn_norm.weight", hp.dim, "llama.embedding_length");
    L.wq = bind_matrix(f, p + "attn_q.weight", hp.dim, hp.q_dim(), "embedding length by head_count x head size");
    L.wk = bind_matrix(f, p + "attn_k.weight", hp.dim, hp.kv_dim(), "embedding length by head_count_kv x head size");
    L.wv = bind_matrix(f, p + "attn_v.weight", hp.dim, hp.kv_dim(), "embedding length by head_count_kv x head size");
    L.wo = bind_matrix(f, p + "attn_output.weight", hp.q_dim(), hp.dim, "head_count x head size by embedding length");
    L.ffn_norm = read_vector(f, p + "ffn_norm.weight", hp.dim, "llama.embedding_length");
    L.w_gate = bind_matrix(f, p + "ffn_gate.weight", hp.dim, hp.n_ff, "embedding length by feed_forward_length");
    L.w_up = bind_matrix(f, p + "ffn_up.weight", hp.dim, hp.n_ff, "embedding length by feed_forward_length");
    L.w_down = bind_matrix(f, p + "ffn_down.weight", hp.n_ff, hp.dim, "feed_forward_length by embedding length");
  }
}

uint64_t LlamaModel::weight_bytes_per_token() const {
  uint64_t total = output.n_bytes + token_embd.n_bytes / static_cast<uint64_t>(hp_.n_vocab);
  for (const auto& L : layers) {
    total += L.wq.n_bytes + L.wk.n_bytes + L.wv.n_bytes + L.wo.n_bytes + L.w_gate.n_bytes + L.w_up.n_bytes +
             L.w_down.n_bytes;
  }
  return total;
}

uint64_t LlamaModel::weight_bytes_total() const {
  uint64_t total = 0;
  for (const auto& t : file_->tensors()) total += t.n_bytes;
  return total;
}

}  // namespace ghostline
