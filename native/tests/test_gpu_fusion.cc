// The fused one-token product (GL_K_MATVEC_FUSED): where an executor runs it,
// the planner folds each RMSNorm and SwiGLU of a decode step into the product
// after it, and the reference executor must then give the same logits as the
// unfused plan, bit for bit; where an executor does not, it is never planned.
#include <algorithm>
#include <cmath>

#include "check.h"
#include "cpu/cpu_backend.h"
#include "gpu/gpu_backend.h"
#include "gpu/reference_executor.h"
#include "llama_builder.h"
#include "runtime/context.h"

using namespace ghostline;
using namespace ghostline::test;

namespace {

struct Gpu {
  std::unique_ptr<Context> ctx;
  gpu::GpuBackend* backend = nullptr;
};

Gpu reference_gpu(const LlamaModel& model, const ContextParams& params, gpu::WeightPlacement placement, bool fused) {
  auto b = std::make_unique<gpu::GpuBackend>(std::make_unique<gpu::ReferenceExecutor>(placement, fused));
  Gpu g;
  g.backend = b.get();
  g.ctx = std::make_unique<Context>(model, std::move(b), params);
  return g;
}

std::vector<int32_t> some_tokens(int n, int64_t n_vocab, int salt) {
  std::vector<int32_t> t;
  for (int i = 0; i < n; i++) t.push_back(static_cast<int32_t>((i * 29 + 3 + salt * 7) % n_vocab));
  return t;
}

size_t count_kernel(const gpu::DispatchList& list, uint32_t kernel) {
  return static_cast<size_t>(std::count_if(list.dispatches.begin(), list.dispatches.end(),
                                           [&](const gpu::Dispatch& d) { return d.kernel == kernel; }));
}

double worst_rel_error(const std::vector<float>& a, const std::vector<float>& b, int64_t width) {
  double worst = 0;
  for (size_t r = 0; r * width < b.size(); r++) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < width; i++) {
      const double x = a[r * width + i], y = b[r * width + i];
      num += (x - y) * (x - y);
      den += y * y;
    }
    const double e = std::sqrt(num / std::max(den, 1e-30));
    worst = std::isnan(e) ? 1e9 : std::max(worst, e);
  }
  return worst;
}

}  // namespace

TEST("gpu fusion: a decode step folds every norm and SwiGLU into the product after it") {
  LlamaShape shape;  // 2 layers
  shape.dim = 128;   // heads of 32: attention quantizes its own output for wo
  const auto bytes = build_llama(shape, 7);
  auto model = LlamaModel::from_gguf(GgufFile::from_memory(bytes.data(), bytes.size(), "fusion.gguf"));
  ContextParams params;
  params.n_ctx = 64;
  params.n_batch = 8;
  Gpu g = reference_gpu(*model, params, gpu::WeightPlacement::CopySplitQ8, true);
  g.ctx->eval(0, some_tokens(5, 100, 1), false, nullptr);
  // A prefill chunk keeps its norms and SwiGLU; only the last row's logits product fuses.
  const auto& prefill = g.backend->last_dispatches();
  CHECK_EQ(count_kernel(prefill, GL_K_RMS_NORM), size_t(2 * 2));
  CHECK_EQ(count_kernel(prefill, GL_K_SWIGLU), size_t(2));
  CHECK_EQ(count_kernel(prefill, GL_K_MATVEC_FUSED), size_t(1));
  g.ctx->eval(0, {7}, false, nullptr);
  const auto first = g.backend->last_dispatches().dispatches;
  g.ctx->eval(0, {9}, false, nullptr);
  const auto& step = g.backend->last_dispatches();
  CHECK(step.replayable);
  CHECK(gpu::same_dispatches(first, step.dispatches.data(), step.dispatches.size()));
  // Per layer: norm+qkv, rope+store, attention, wo, norm+gate/up, swiglu+down; then embed and norm+logits.
  CHECK_EQ(step.dispatches.size(), size_t(1 + 2 * 6 + 1));
  CHECK_EQ(count_kernel(step, GL_K_MATVEC_FUSED), size_t(2 * 3 + 1));
  CHECK_EQ(count_kernel(step, GL_K_RMS_NORM), size_t(0));
  CHECK_EQ(count_kernel(step, GL_K_SWIGLU), size_t(0));
  CHECK_EQ(count_kernel(step, GL_K_QUANTIZE), size_t(0));
}

TEST("gpu fusion: an executor without the fused kernel is never handed one") {
  LlamaShape shape;
  const auto bytes = build_llama(shape, 7);
  auto model = LlamaModel::from_gguf(GgufFile::from_memory(bytes.data(), bytes.size(), "plain.gguf"));
  ContextParams params;
  params.n_ctx = 64;
  params.n_batch = 8;
  Gpu g = reference_gpu(*model, params, gpu::WeightPlacement::MapFile, false);
  g.ctx->eval(0, some_tokens(5, 100, 2), false, nullptr);
  CHECK_EQ(count_kernel(g.backend->last_dispatches(), GL_K_MATVEC_FUSED), size_t(0));
  g.ctx->eval(0, {4}, false, nullptr);
  CHECK_EQ(count_kernel(g.backend->last_dispatches(), GL_K_MATVEC_FUSED), size_t(0));
  CHECK_EQ(count_kernel(g.backend->last_dispatches(), GL_K_RMS_NORM), size_t(2 * 2 + 1));
}

TEST("gpu fusion: fused steps give the unfused plan's logits exactly, and the CPU's within tolerance") {
  struct Case {
    const char* what;
    LlamaShape shape;
  };
  std::vector<Case> cases;
  LlamaShape base;
  cases.push_back({"q8_0 gqa 2", base});
  LlamaShape tied = base;
  tied.n_head_kv = 4;
  tied.tied = true;
  cases.push_back({"q8_0 tied", tied});
  LlamaShape wide = base;
  wide.dim = 1024;
  wide.n_head = 8;
  wide.n_head_kv = 1;
  wide.n_ff = 2112;
  wide.n_vocab = 300;
  cases.push_back({"q8_0 head 128", wide});
  LlamaShape f16 = base;
  f16.matrix_type = TensorType::F16;
  cases.push_back({"f16 (not fused)", f16});
  for (auto placement : {gpu::WeightPlacement::CopySplitQ8, gpu::WeightPlacement::MapFile}) {
    for (const auto& c : cases) {
      for (auto kv : {TensorType::F32, TensorType::F16}) {
        const auto bytes = build_llama(c.shape, 13);
        auto model = LlamaModel::from_gguf(GgufFile::from_memory(bytes.data(), bytes.size(), "fusion.gguf"));
        ContextParams params;
        params.n_ctx = 64;
        params.n_batch = 16;
        params.kv_type = kv;
        Gpu fused = reference_gpu(*model, params, placement, true);
        Gpu plain = reference_gpu(*model, params, placement, false);
        Context cpu(*model, std::make_unique<CpuBackend>(1), params);
        const int64_t v = c.shape.n_vocab;
        const auto tokens = some_tokens(19, v, 3);
        float max_diff = 0;
        auto diff = [&](const std::vector<float>& a, const std::vector<float>& b) {
          CHECK_EQ(a.size(), b.size());
          for (size_t i = 0; i < std::min(a.size(), b.size()); i++) {
            max_diff = std::isnan(a[i]) ? INFINITY : std::max(max_diff, std::fabs(a[i] - b[i]));
          }
        };
        const auto fp = fused.ctx->eval(0, tokens, false, nullptr).logits;
        diff(fp, plain.ctx->eval(0, tokens, false, nullptr).logits);
        cpu.eval(0, tokens, false, nullptr);
        double decode_error = 0;
        size_t fused_dispatches = 0;
        for (int i = 0; i < 6; i++) {
          const std::vector<int32_t> one = {static_cast<int32_t>((i * 11 + 2) % v)};
          const auto f = fused.ctx->eval(0, one, false, nullptr).logits;
          fused_dispatches += count_kernel(fused.backend->last_dispatches(), GL_K_MATVEC_FUSED);
          diff(f, plain.ctx->eval(0, one, false, nullptr).logits);
          decode_error = std::max(decode_error, worst_rel_error(f, cpu.eval(0, one, false, nullptr).logits, v));
        }
        const bool q8 = c.shape.matrix_type == TensorType::Q8_0;
        std::printf("  %-16s %-6s kv %s: fused vs unfused max |diff| %g, decode vs CPU %.3g\n", c.what,
                    placement == gpu::WeightPlacement::MapFile ? "mapped" : "copied",
                    kv == TensorType::F16 ? "f16" : "f32", double(max_diff), decode_error);
        CHECK(max_diff == 0.0f);
        CHECK(q8 ? fused_dispatches == size_t(6 * (2 * 3 + 1)) : fused_dispatches == 0);
        CHECK(decode_error <= (kv == TensorType::F16 || q8 ? 3e-2 : 5e-3));
      }
    }
  }
}
