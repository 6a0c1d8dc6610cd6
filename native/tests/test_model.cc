// Loading Llama models: hyper-parameters, weight binding and every way a file can be wrong.
#include "check.h"
#include "llama_builder.h"
#include "model/llama_model.h"

using namespace ghostline;
using namespace ghostline::test;

namespace {

std::vector<uint8_t> g_bytes;  // keeps the buffer alive for the model that views it

std::unique_ptr<LlamaModel> load(const LlamaShape& shape) {
  g_bytes = build_llama(shape);
  return LlamaModel::from_gguf(GgufFile::from_memory(g_bytes.data(), g_bytes.size(), "test.gguf"));
}

}  // namespace

TEST("model: reads llama hyper-parameters and binds every weight") {
  LlamaShape s;
  s.n_layer = 3;
  auto m = load(s);
  const auto& hp = m->hparams();
  CHECK_EQ(hp.dim, 64);
  CHECK_EQ(hp.n_layer, 3);
  CHECK_EQ(hp.n_head, 4);
  CHECK_EQ(hp.n_head_kv, 2);
  CHECK_EQ(hp.head_dim, 16);
  CHECK_EQ(hp.n_vocab, 100);
  CHECK(!hp.tied_output);
  CHECK_EQ(static_cast<int>(m->layers.size()), 3);
  CHECK_EQ(m->layers[2].wk.rows, 32);
  CHECK_EQ(m->layers[2].w_down.cols, 96);
  CHECK(m->output.data != m->token_embd.data);
}

TEST("model: without output.weight the output is tied to token_embd") {
  LlamaShape s;
  s.tied = true;
  auto m = load(s);
  CHECK(m->hparams().tied_output);
  CHECK(m->output.data == m->token_embd.data);
}

TEST("model: rejects another architecture by name") {
  LlamaShape s;
  s.architecture = "gpt2";
  CHECK_THROWS_WITH(load(s), "test.gguf: architecture \"gpt2\" is not supported");
}

TEST("model: names a missing tensor") {
  LlamaShape s;
  s.omit_tensor = "blk.1.ffn_up.weight";
  CHECK_THROWS_WITH(load(s), "tensor \"blk.1.ffn_up.weight\" is missing");
  s.omit_tensor = "output_norm.weight";
  CHECK_THROWS_WITH(load(s), "tensor \"output_norm.weight\" is missing");
}

TEST("model: names a tensor whose shape does not match the hyper-parameters") {
  LlamaShape s;
  s.misshapen_tensor = "blk.0.attn_k.weight";
  CHECK_THROWS_WITH(load(s), "tensor \"blk.0.attn_k.weight\" has shape [64, 33], expected [64, 32]");
}

TEST("model: names a tensor of a type it does not run") {
  LlamaShape s;
  s.odd_type_tensor = "blk.0.attn_q.weight";
  s.odd_type_tensor_type = 2;  // q4_0
  CHECK_THROWS_WITH(load(s), "tensor \"blk.0.attn_q.weight\" has type q4_0, which Ghostline does not run");
}

TEST("model: loads the shared stories260K files") {
  for (const char* name : {"/models/stories260K-f32.gguf", "/models/stories260K-q8_0.gguf"}) {
    auto m = LlamaModel::load(std::string(GHOSTLINE_TESTDATA) + name);
    CHECK_EQ(m->hparams().dim, 64);
    CHECK_EQ(m->hparams().n_layer, 5);
    CHECK_EQ(m->hparams().n_head_kv, 4);
    CHECK_EQ(m->hparams().head_dim, 8);
    CHECK_EQ(m->hparams().n_vocab, 512);
  }
}
