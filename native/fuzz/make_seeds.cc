// Writes small valid GGUF files, built with the test builder, as fuzzing seeds.
// Usage: gguf_fuzz_seeds DIR
#include <cstdio>
#include <string>
#include <vector>

#include "../tests/gguf_builder.h"

using gguf_test::GgufBuilder;
using gguf_test::f32_bytes;

namespace {

bool write(const std::string& path, const std::vector<uint8_t>& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  return std::fclose(f) == 0 && ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  std::string dir = argv[1];

  GgufBuilder model;
  model.add_string("general.architecture", "llama");
  model.add_u32("llama.block_count", 1);
  model.add_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  model.add_bool("tokenizer.ggml.add_bos_token", true);
  model.add_array_string("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "a", "b"});
  model.add_array_f32("tokenizer.ggml.scores", {0, 0, 0, -1, -2});
  model.add_array_i32("tokenizer.ggml.token_type", {2, 3, 3, 1, 1});
  model.add_array_of_arrays("nested", {{1}, {2, 3}});
  model.add_tensor("token_embd.weight", {32, 2}, 8, std::vector<uint8_t>(68, 1));
  model.add_tensor("output_norm.weight", {4}, 0, f32_bytes({1, 2, 3, 4}));
  model.add_tensor("blk.0.ffn_down.weight", {3, 2}, 1, std::vector<uint8_t>(12, 2));
  model.add_tensor("blk.0.attn_k.weight", {256}, 12, std::vector<uint8_t>(144, 3));

  GgufBuilder scalars;
  scalars.add_u8("u8", 1);
  scalars.add_i8("i8", -1);
  scalars.add_u16("u16", 2);
  scalars.add_i16("i16", -2);
  scalars.add_u64("u64", 3);
  scalars.add_i64("i64", -3);
  scalars.add_f64("f64", 0.5);
  scalars.add_string("general.name", "seed");

  bool ok = write(dir + "/model_v3.gguf", model.build(3, 32)) &&
            write(dir + "/model_v2_a64.gguf", model.build(2, 64)) &&
            write(dir + "/model_a8.gguf", model.build(3, 8)) &&
            write(dir + "/scalars.gguf", scalars.build()) &&
            write(dir + "/empty.gguf", GgufBuilder().build());
  if (!ok) {
    std::perror(dir.c_str());
    return 1;
  }
  return 0;
}
