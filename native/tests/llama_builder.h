// Test fixture: a small random Llama model as a GGUF file in memory, of any
// shape, with the metadata and tensor names llama.cpp writes.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "common/block_q8_0.h"
#include "common/fp16.h"
#include "common/tensor_type.h"
#include "cpu/kernels.h"
#include "gguf_builder.h"

namespace ghostline::test {

using gguf_test::GgufBuilder;

struct LlamaShape {
  int64_t dim = 64;
  int64_t n_layer = 2;
  int64_t n_head = 4;
  int64_t n_head_kv = 2;
  int64_t n_ff = 96;
  int64_t n_vocab = 100;
  int64_t n_ctx = 128;
  bool tied = false;
  TensorType matrix_type = TensorType::Q8_0;
  std::string architecture = "llama";
  std::string omit_tensor;        // leave this tensor out
  std::string misshapen_tensor;   // give this matrix one row too many
  uint32_t odd_type_tensor_type = 0;
  std::string odd_type_tensor;    // store this tensor's info with odd_type_tensor_type
  // Makes every matrix's bytes (of matrix_type) instead of quantizing normal
  // random values: benchmarks use it to build 1 GB models quickly.
  std::function<std::vector<uint8_t>(int64_t cols, int64_t rows)> matrix_bytes;
};

inline std::vector<uint8_t> encode(TensorType type, const std::vector<float>& values) {
  std::vector<uint8_t> out;
  switch (type) {
    case TensorType::F32:
      out.resize(values.size() * 4);
      std::memcpy(out.data(), values.data(), out.size());
      break;
    case TensorType::F16:
    case TensorType::BF16:
      out.resize(values.size() * 2);
      for (size_t i = 0; i < values.size(); i++) {
        const uint16_t h = type == TensorType::F16 ? fp32_to_fp16(values[i]) : fp32_to_bf16(values[i]);
        std::memcpy(out.data() + 2 * i, &h, 2);
      }
      break;
    case TensorType::Q8_0: {
      std::vector<gl_block_q8_0> blocks(values.size() / GL_QK8_0);
      cpu::generic_kernels().quantize_q8_0(values.data(), blocks.data(), static_cast<int64_t>(values.size()));
      out.resize(blocks.size() * sizeof(gl_block_q8_0));
      std::memcpy(out.data(), blocks.data(), out.size());
      break;
    }
  }
  return out;
}

// Builds the model; `mutate` may edit the builder before serialisation.
template <typename Mutate>
std::vector<uint8_t> build_llama(const LlamaShape& s, uint32_t seed, Mutate mutate) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto random = [&](int64_t n, float scale, float mean = 0.0f) {
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = mean + scale * normal(rng);
    return v;
  };
  const int64_t hd = s.dim / s.n_head;
  GgufBuilder b;
  b.add_string("general.architecture", s.architecture);
  b.add_string("general.name", "test-llama");
  b.add_u32("llama.context_length", static_cast<uint32_t>(s.n_ctx));
  b.add_u32("llama.embedding_length", static_cast<uint32_t>(s.dim));
  b.add_u32("llama.block_count", static_cast<uint32_t>(s.n_layer));
  b.add_u32("llama.feed_forward_length", static_cast<uint32_t>(s.n_ff));
  b.add_u32("llama.attention.head_count", static_cast<uint32_t>(s.n_head));
  b.add_u32("llama.attention.head_count_kv", static_cast<uint32_t>(s.n_head_kv));
  b.add_u32("llama.rope.dimension_count", static_cast<uint32_t>(hd));
  b.add_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  auto matrix = [&](const std::string& name, int64_t cols, int64_t rows, TensorType type) {
    if (name == s.omit_tensor) return;
    if (name == s.misshapen_tensor) rows++;
    std::vector<uint8_t> data =
        s.matrix_bytes ? s.matrix_bytes(cols, rows) : encode(type, random(cols * rows, 1.0f / std::sqrt(float(cols))));
    if (name == s.odd_type_tensor) {
      b.add_tensor(name, {cols, rows}, s.odd_type_tensor_type, data);  // bytes need not fit the type
      return;
    }
    b.add_tensor(name, {cols, rows}, static_cast<uint32_t>(type), data);
  };
  auto vector = [&](const std::string& name, int64_t n) {
    if (name == s.omit_tensor) return;
    b.add_tensor(name, {n}, static_cast<uint32_t>(TensorType::F32), encode(TensorType::F32, random(n, 0.1f, 1.0f)));
  };
  matrix("token_embd.weight", s.dim, s.n_vocab, s.matrix_type);
  vector("output_norm.weight", s.dim);
  if (!s.tied) matrix("output.weight", s.dim, s.n_vocab, s.matrix_type);
  for (int64_t l = 0; l < s.n_layer; l++) {
    const std::string p = "blk." + std::to_string(l) + ".";
    vector(p + "attn_norm.weight", s.dim);
    matrix(p + "attn_q.weight", s.dim, s.n_head * hd, s.matrix_type);
    matrix(p + "attn_k.weight", s.dim, s.n_head_kv * hd, s.matrix_type);
    matrix(p + "attn_v.weight", s.dim, s.n_head_kv * hd, s.matrix_type);
    matrix(p + "attn_output.weight", s.n_head * hd, s.dim, s.matrix_type);
    vector(p + "ffn_norm.weight", s.dim);
    matrix(p + "ffn_gate.weight", s.dim, s.n_ff, s.matrix_type);
    matrix(p + "ffn_up.weight", s.dim, s.n_ff, s.matrix_type);
    matrix(p + "ffn_down.weight", s.n_ff, s.dim, s.matrix_type);
  }
  mutate(b);
  return b.build();
}

inline std::vector<uint8_t> build_llama(const LlamaShape& s, uint32_t seed = 1) {
  return build_llama(s, seed, [](GgufBuilder&) {});
}

}  // namespace ghostline::test
