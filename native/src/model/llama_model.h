// A Llama-architecture model as llama.cpp writes it to GGUF: hyper-parameters
// from the `llama.*` keys and weights bound by name to the mapped tensor data,
// each checked for presence, type and exact shape before anything runs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/tensor_type.h"
#include "gguf/gguf_file.h"

namespace ghostline {

struct LlamaHparams {
  std::string name;          // general.name, or the file name
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;
  int64_t dim = 0;           // embedding width
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;      // per-head width of queries, keys and values
  int64_t n_ff = 0;
  float rms_eps = 1e-5f;
  float rope_freq_base = 10000.0f;
  float rope_freq_scale = 1.0f;  // 1 / linear scaling factor
  bool tied_output = false;      // logits from token_embd (no output.weight)

  int64_t q_dim() const { return n_head * head_dim; }
  int64_t kv_dim() const { return n_head_kv * head_dim; }
};

// A matrix of `rows` rows of `cols` values, in the file's layout and type.
struct Weight {
  std::string name;
  TensorType type = TensorType::F32;
  int64_t cols = 0;
  int64_t rows = 0;
  const void* data = nullptr;  // inside the mapping
  uint64_t n_bytes = 0;
};

struct LlamaLayer {
  std::vector<float> attn_norm;  // (dim)
  Weight wq;                     // (q_dim rows, dim cols)
  Weight wk;                     // (kv_dim, dim)
  Weight wv;                     // (kv_dim, dim)
  Weight wo;                     // (dim, q_dim)
  std::vector<float> ffn_norm;   // (dim)
  Weight w_gate;                 // (n_ff, dim)
  Weight w_up;                   // (n_ff, dim)
  Weight w_down;                 // (dim, n_ff)
};

class LlamaModel {
 public:
  // Maps and validates `path`. Throws ghostline::Error naming the file and the
  // key or tensor at fault.
  static std::unique_ptr<LlamaModel> load(const std::string& path);
  // Binds an already-parsed file (tests, fuzzing).
  static std::unique_ptr<LlamaModel> from_gguf(std::unique_ptr<GgufFile> file);

  const GgufFile& file() const { return *file_; }
  const LlamaHparams& hparams() const { return hp_; }

  Weight token_embd;               // (n_vocab rows, dim cols)
  std::vector<float> output_norm;  // (dim)
  Weight output;                   // (n_vocab, dim); token_embd's view when tied
  std::vector<float> rope_freqs;   // (head_dim / 2) divisors of the rotation frequencies; empty when absent
  std::vector<LlamaLayer> layers;

  // Bytes of weights a decode step reads: every layer matrix, the output
  // matrix and one embedding row.
  uint64_t weight_bytes_per_token() const;
  uint64_t weight_bytes_total() const;

 private:
  LlamaModel() = default;
  void bind();

  std::unique_ptr<GgufFile> file_;
  LlamaHparams hp_;
};

}  // namespace ghostline
