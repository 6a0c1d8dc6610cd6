// The shared orchestration: chunking, KV reuse, slots, cancellation and counters,
// with the CPU backend standing in for any device.
#include <atomic>
#include <cmath>

#include "check.h"
#include "cpu/cpu_backend.h"
#include "llama_builder.h"
#include "runtime/context.h"

using namespace ghostline;
using namespace ghostline::test;

namespace {

struct Fixture {
  std::vector<uint8_t> bytes;
  std::unique_ptr<LlamaModel> model;
  std::unique_ptr<Context> ctx;

  explicit Fixture(ContextParams params, LlamaShape shape = {}, int threads = 2) {
    bytes = build_llama(shape, 7);
    model = LlamaModel::from_gguf(GgufFile::from_memory(bytes.data(), bytes.size(), "ctx.gguf"));
    ctx = std::make_unique<Context>(*model, std::make_unique<CpuBackend>(threads), params);
  }
};

std::vector<int32_t> prompt(int n, int n_vocab) {
  std::vector<int32_t> t;
  for (int i = 0; i < n; i++) t.push_back((i * 37 + 11) % n_vocab);
  return t;
}

double max_abs_diff(const float* a, const float* b, size_t n) {
  double worst = 0;
  for (size_t i = 0; i < n; i++) worst = std::max(worst, double(std::fabs(a[i] - b[i])));
  return worst;
}

}  // namespace

TEST("context: chunked prefill gives the logits of one big chunk") {
  ContextParams one;
  one.n_batch = 64;
  ContextParams small = one;
  small.n_batch = 5;
  Fixture a(one), b(small);
  const auto tokens = prompt(23, 100);
  const auto ra = a.ctx->eval(0, tokens, true, nullptr);
  const auto rb = b.ctx->eval(0, tokens, true, nullptr);
  CHECK_EQ(ra.n_rows, 23);
  CHECK_EQ(rb.n_evaluated, 23);
  const double d = max_abs_diff(ra.logits.data(), rb.logits.data(), ra.logits.size());
  std::printf("  chunked vs whole: max |diff| %.3g\n", d);
  CHECK(d < 1e-4);
}

TEST("context: last-row logits equal the last row of all logits") {
  Fixture f(ContextParams{});
  const auto tokens = prompt(9, 100);
  const auto all = f.ctx->eval(0, tokens, true, nullptr);
  f.ctx->clear(0);
  const auto last = f.ctx->eval(0, tokens, false, nullptr);
  CHECK_EQ(last.n_rows, 1);
  CHECK(max_abs_diff(last.logits.data(), all.logits.data() + 8 * 100, 100) < 1e-5);
}

TEST("context: decoding token by token matches a prefill of the same tokens") {
  Fixture f(ContextParams{});
  const auto tokens = prompt(12, 100);
  const auto whole = f.ctx->eval(0, tokens, true, nullptr);
  f.ctx->clear(0);
  for (size_t i = 0; i < tokens.size(); i++) {
    const auto step = f.ctx->eval(0, {tokens[i]}, false, nullptr);
    CHECK(max_abs_diff(step.logits.data(), whole.logits.data() + i * 100, 100) < 1e-4);
  }
  CHECK_EQ(static_cast<int>(f.ctx->tokens(0).size()), 12);
}

TEST("context: truncating keeps the common prefix valid for reuse") {
  Fixture f(ContextParams{});
  auto a = prompt(10, 100);
  auto b = a;
  b[7] = 3;
  b[8] = 4;
  b[9] = 5;
  f.ctx->eval(0, a, false, nullptr);
  f.ctx->truncate(0, 7);
  const auto reused = f.ctx->eval(0, {b.begin() + 7, b.end()}, false, nullptr);
  CHECK_EQ(reused.n_evaluated, 3);
  f.ctx->clear(0);
  const auto fresh = f.ctx->eval(0, b, false, nullptr);
  CHECK(max_abs_diff(reused.logits.data(), fresh.logits.data(), 100) < 1e-5);
}

TEST("context: slots hold independent sequences") {
  ContextParams p;
  p.n_slots = 2;
  Fixture f(p);
  const auto a = prompt(6, 100);
  const auto b = prompt(4, 50);
  const auto ra1 = f.ctx->eval(0, a, false, nullptr);
  f.ctx->eval(1, b, false, nullptr);
  f.ctx->truncate(0, 5);
  const auto ra2 = f.ctx->eval(0, {a[5]}, false, nullptr);
  CHECK(max_abs_diff(ra1.logits.data(), ra2.logits.data(), 100) < 1e-5);
  CHECK_EQ(static_cast<int>(f.ctx->tokens(1).size()), 4);
}

TEST("context: a cancelled prefill stops and the slot keeps only whole chunks") {
  ContextParams p;
  p.n_batch = 4;
  Fixture f(p);
  std::atomic<bool> cancel{true};
  CHECK_THROWS_WITH(f.ctx->eval(0, prompt(10, 100), false, &cancel), "evaluation cancelled after 0 of 10 tokens");
  CHECK_EQ(static_cast<int>(f.ctx->tokens(0).size()), 0);
  // The cache still works afterwards.
  cancel = false;
  const auto r = f.ctx->eval(0, prompt(10, 100), false, &cancel);
  CHECK_EQ(r.n_evaluated, 10);
  CHECK_EQ(static_cast<int>(f.ctx->tokens(0).size()), 10);
}

TEST("context: rejects ids outside the vocabulary, empty input and overflow, keeping its state") {
  ContextParams p;
  p.n_ctx = 16;
  Fixture f(p);
  f.ctx->eval(0, prompt(4, 100), false, nullptr);
  CHECK_THROWS_WITH(f.ctx->eval(0, {5, 100}, false, nullptr), "token id 100 at index 1 is outside the vocabulary");
  CHECK_THROWS_WITH(f.ctx->eval(0, {-1}, false, nullptr), "token id -1");
  CHECK_THROWS_WITH(f.ctx->eval(0, {}, false, nullptr), "nothing to evaluate");
  CHECK_THROWS_WITH(f.ctx->eval(0, prompt(13, 100), false, nullptr), "exceed the context size 16");
  CHECK_THROWS_WITH(f.ctx->eval(3, {1}, false, nullptr), "slot 3 does not exist");
  CHECK_THROWS_WITH(f.ctx->truncate(0, 9), "cannot truncate slot 0 to 9 tokens: it holds 4");
  CHECK_EQ(static_cast<int>(f.ctx->tokens(0).size()), 4);
}

TEST("context: buffers are allocated once; counters stay flat over many requests") {
  Fixture f(ContextParams{});
  const auto before = f.ctx->backend().counters();
  for (int i = 0; i < 200; i++) {
    f.ctx->clear(0);
    f.ctx->eval(0, prompt(1 + i % 7, 100), false, nullptr);
  }
  const auto after = f.ctx->backend().counters();
  CHECK_EQ(after.allocations, before.allocations);
  CHECK_EQ(after.live_buffers, before.live_buffers);
  CHECK_EQ(after.buffer_bytes, before.buffer_bytes);
  CHECK_EQ(after.requests_begun, before.requests_begun + 200);
  CHECK_EQ(after.requests_ended, after.requests_begun);
}

TEST("context: one thread and several give bit-identical logits, prompt and decode") {
  // Threads split every product's rows differently (and, with pair kernels, pack them differently),
  // but each output is computed the same way whichever thread holds its row.
  LlamaShape shape;
  shape.dim = 96;  // 3 blocks a row: a pad block in the pair layout
  shape.n_ff = 160;
  shape.n_vocab = 131;
  std::vector<std::vector<float>> prompt_logits, decode_logits;
  for (int threads : {1, 2, 3}) {
    Fixture f(ContextParams{}, shape, threads);
    prompt_logits.push_back(f.ctx->eval(0, prompt(8, 131), true, nullptr).logits);
    decode_logits.push_back(f.ctx->eval(0, {5}, false, nullptr).logits);
  }
  for (size_t i = 1; i < prompt_logits.size(); i++) {
    CHECK(prompt_logits[i] == prompt_logits[0]);
    CHECK(decode_logits[i] == decode_logits[0]);
  }
}
