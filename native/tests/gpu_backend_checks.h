// Checks that every GPU backend passes, whatever its device: logits against
// llama.cpp's reference on the shared stories260K files, against the CPU
// backend on synthetic models of many shapes, and the request soak with
// cancellations. Each backend's test file adds what only it can count.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "check.h"
#include "common/error.h"
#include "cpu/cpu_backend.h"
#include "llama_builder.h"
#include "runtime/context.h"

namespace ghostline::test {

using BackendFactory = std::function<std::unique_ptr<Backend>()>;

// The folder holding models/: `env_var` when set, else the repository's shared test data.
inline std::string testdata_dir(const char* env_var) {
  const char* env = std::getenv(env_var);
  return env ? env : GHOSTLINE_TESTDATA;
}

struct RowStats {
  double median = 0, worst = 0, argmax_agree = 0;
};

// Per-row relative error ||a - ref|| / ||ref|| and argmax agreement.
inline RowStats row_stats(const std::vector<float>& a, const std::vector<float>& ref, int64_t width) {
  std::vector<double> errs;
  int agree = 0;
  const size_t rows = ref.size() / static_cast<size_t>(width);
  for (size_t r = 0; r < rows; r++) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < width; i++) {
      const double x = a[r * width + i], y = ref[r * width + i];
      num += (x - y) * (x - y);
      den += y * y;
    }
    const double e = std::sqrt(num / std::max(den, 1e-30));
    errs.push_back(std::isnan(e) ? 1e9 : e);
    const float* ar = a.data() + r * width;
    const float* rr = ref.data() + r * width;
    agree += (std::max_element(ar, ar + width) - ar) == (std::max_element(rr, rr + width) - rr);
  }
  RowStats s;
  std::sort(errs.begin(), errs.end());
  s.median = errs[errs.size() / 2];
  s.worst = errs.back();
  s.argmax_agree = double(agree) / double(rows);
  return s;
}

// The numbers of the JSON array after `key`, searched from `from`, flattened.
inline std::vector<double> json_numbers(const std::string& text, size_t from, const std::string& key) {
  if (from == std::string::npos) return {};
  size_t at = text.find("\"" + key + "\"", from);
  if (at == std::string::npos) return {};
  at = text.find('[', at);
  if (at == std::string::npos) return {};
  std::vector<double> out;
  int depth = 0;
  for (const char* p = text.c_str() + at; *p;) {
    if (*p == '[') {
      depth++;
      p++;
    } else if (*p == ']') {
      if (--depth == 0) break;
      p++;
    } else if (*p == ',' || std::isspace(static_cast<unsigned char>(*p))) {
      p++;
    } else {
      char* end = nullptr;
      out.push_back(std::strtod(p, &end));
      if (end == p) break;
      p = end;
    }
  }
  return out;
}

// Token ids spread over the vocabulary; `salt` gives each request its own.
inline std::vector<int32_t> ids(int n, int64_t n_vocab, int salt = 0) {
  std::vector<int32_t> t;
  for (int i = 0; i < n; i++) t.push_back(static_cast<int32_t>((i * 7919 + 13 + salt * 104729) % n_vocab));
  return t;
}

// Prefill (all rows) and decode from an empty slot, the GPU backend against the CPU.
struct Compared {
  RowStats prefill, decode;
};
inline Compared compare_with_cpu(const LlamaModel& model, std::unique_ptr<Backend> gpu_backend,
                                 const ContextParams& params, int n_prompt, int n_decode) {
  const int64_t v = model.hparams().n_vocab;
  Context gpu(model, std::move(gpu_backend), params);
  Context cpu(model, std::make_unique<CpuBackend>(4), params);
  const auto tokens = ids(n_prompt, v);
  Compared c;
  c.prefill = row_stats(gpu.eval(0, tokens, true, nullptr).logits, cpu.eval(0, tokens, true, nullptr).logits, v);
  gpu.clear(0);
  cpu.clear(0);
  std::vector<float> g, cp;
  for (int i = 0; i < n_decode; i++) {
    const auto a = gpu.eval(0, {tokens[i]}, false, nullptr).logits;
    const auto b = cpu.eval(0, {tokens[i]}, false, nullptr).logits;
    g.insert(g.end(), a.begin(), a.end());
    cp.insert(cp.end(), b.begin(), b.end());
  }
  c.decode = row_stats(g, cp, v);
  return c;
}

// What a backend adds to the stories260K comparison.
struct StoriesOptions {
  // The GPU backend for one model file (it may size itself from the model).
  std::function<std::unique_ptr<Backend>(const LlamaModel&)> backend;
  // Runs once the GPU context holds the model; its text follows the token count in the printed line.
  std::function<std::string()> after_load = [] { return std::string(); };
  // Without the reference JSON: a printed skip, or a failure.
  bool skip_without_testdata = false;
  // Whether the printed line also gives the CPU backend's own error against llama.cpp.
  bool show_cpu_vs_reference = false;
};

// stories260K logits, prefill and token-by-token decode, against llama.cpp's
// reference and the CPU backend within ../shared/testdata's tolerances.
inline void check_stories260k(const std::string& testdata, const StoriesOptions& opt) {
  const std::string json_path = testdata + "/models/stories260K.reference.json";
  std::ifstream json_file(json_path);
  if (!json_file.good()) {
    if (opt.skip_without_testdata) {
      std::printf("  skipped: %s is missing (no shared test data here); synthetic models only\n", json_path.c_str());
    } else {
      check::fail(__FILE__, __LINE__, "missing " + json_path);
    }
    return;
  }
  std::stringstream ss;
  ss << json_file.rdbuf();
  const std::string json = ss.str();
  struct File {
    const char* name;
    TensorType kv;
    double median_tol, worst_tol, argmax_tol;
  };
  // ../shared/testdata/README.md: f32 median <= 0.005, worst <= 0.03, argmax >= 97%;
  // q8_0 median <= 0.06, worst unbounded, argmax >= 90%.
  for (const File f : {File{"stories260K-f32.gguf", TensorType::F32, 0.005, 0.03, 0.97},
                       File{"stories260K-q8_0.gguf", TensorType::F16, 0.06, 1e9, 0.90}}) {
    auto model = LlamaModel::load(testdata + "/models/" + f.name);
    for (const char* seq : {"story64", "story200"}) {
      const size_t seq_at = json.find(std::string("\"") + seq + "\"");
      CHECK(seq_at != std::string::npos);
      if (seq_at == std::string::npos) continue;
      std::vector<int32_t> tokens;
      for (double t : json_numbers(json, seq_at, "tokens")) tokens.push_back(static_cast<int32_t>(t));
      std::vector<float> ref;
      for (double v : json_numbers(json, json.find(std::string("\"") + f.name + "\"", seq_at), "logits")) {
        ref.push_back(static_cast<float>(v));
      }
      CHECK(!tokens.empty() && ref.size() == tokens.size() * 512);
      if (tokens.empty() || ref.size() != tokens.size() * 512) continue;

      ContextParams params;
      params.n_ctx = 256;
      params.n_batch = 64;
      params.kv_type = f.kv;
      Context gpu(*model, opt.backend(*model), params);
      Context cpu(*model, std::make_unique<CpuBackend>(4), params);
      const std::string loaded = opt.after_load();
      const auto g = gpu.eval(0, tokens, true, nullptr).logits;
      const auto c = cpu.eval(0, tokens, true, nullptr).logits;
      const RowStats vs_ref = row_stats(g, ref, 512), vs_cpu = row_stats(g, c, 512);
      char cpu_vs_ref[64] = "";
      if (opt.show_cpu_vs_reference) {
        std::snprintf(cpu_vs_ref, sizeof cpu_vs_ref, " (cpu vs llama.cpp %.4f)", row_stats(c, ref, 512).median);
      }
      // Decode token by token from an empty slot: the matrix-vector path.
      gpu.clear(0);
      std::vector<float> steps;
      for (int32_t t : tokens) {
        const auto r = gpu.eval(0, {t}, false, nullptr).logits;
        steps.insert(steps.end(), r.begin(), r.end());
      }
      const RowStats dec_ref = row_stats(steps, ref, 512);
      std::printf("  %s %s (%zu tokens%s): prefill vs llama.cpp median %.4f worst %.4f argmax %.1f%%; vs cpu median "
                  "%.4f%s; decode vs llama.cpp median %.4f worst %.4f argmax %.1f%%\n",
                  f.name, seq, tokens.size(), loaded.c_str(), vs_ref.median, vs_ref.worst, 100 * vs_ref.argmax_agree,
                  vs_cpu.median, cpu_vs_ref, dec_ref.median, dec_ref.worst, 100 * dec_ref.argmax_agree);
      CHECK(vs_ref.median <= f.median_tol);
      CHECK(vs_ref.worst <= f.worst_tol);
      CHECK(vs_ref.argmax_agree >= f.argmax_tol);
      CHECK(dec_ref.median <= f.median_tol);
      CHECK(dec_ref.worst <= f.worst_tol);
      CHECK(dec_ref.argmax_agree >= f.argmax_tol);
      CHECK(vs_cpu.median <= f.median_tol);
    }
  }
}

// One synthetic model shape for check_synthetic_shapes.
struct ShapeCase {
  const char* what;
  int64_t dim, n_head, n_head_kv;
  bool tied;
  TensorType type, kv;
};

// The shapes every GPU backend runs: head sizes, GQA ratios, tied output, each matrix type.
inline std::vector<ShapeCase> standard_shape_cases() {
  return {
      {"q8_0 head 64 gqa 1", 512, 8, 8, false, TensorType::Q8_0, TensorType::F32},
      {"q8_0 head 64 gqa 4 tied", 512, 8, 2, true, TensorType::Q8_0, TensorType::F16},
      {"q8_0 head 128 gqa 8", 1024, 8, 1, false, TensorType::Q8_0, TensorType::F32},
      {"q8_0 head 128 gqa 4 f16 kv", 1024, 8, 2, true, TensorType::Q8_0, TensorType::F16},
      {"f16 head 64 gqa 4", 256, 4, 1, false, TensorType::F16, TensorType::F32},
      {"f32 head 128 gqa 1 tied", 256, 2, 2, true, TensorType::F32, TensorType::F32},
      {"bf16 head 64 gqa 8", 512, 8, 1, false, TensorType::BF16, TensorType::F16},
  };
}

// Each shape's model, held in ordinary memory (not page-aligned), prefilled and
// decoded on the GPU backend and on the CPU backend.
inline void check_synthetic_shapes(const BackendFactory& make_backend, const std::vector<ShapeCase>& cases) {
  for (const ShapeCase& c : cases) {
    LlamaShape shape;
    shape.dim = c.dim;
    shape.n_head = c.n_head;
    shape.n_head_kv = c.n_head_kv;
    shape.n_ff = c.type == TensorType::Q8_0 ? 2 * c.dim + 64 : 2 * c.dim + 40;  // float types: rows not a multiple of 32
    shape.n_vocab = 1000;
    shape.n_layer = 3;
    shape.n_ctx = 256;
    shape.tied = c.tied;
    shape.matrix_type = c.type;
    const auto bytes = build_llama(shape, 11);
    auto model = LlamaModel::from_gguf(GgufFile::from_memory(bytes.data(), bytes.size(), "shape.gguf"));
    ContextParams params;
    params.n_ctx = 256;
    params.n_batch = 48;
    params.kv_type = c.kv;
    const Compared r = compare_with_cpu(*model, make_backend(), params, 100, 24);
    // As on the host reference: Q8_0 prefill multiplies unquantized activations
    // (the file's Q8_0 tolerance); decode quantizes them as the CPU does.
    const bool q8 = c.type == TensorType::Q8_0;
    const double pre_tol = q8 ? 0.06 : 0.01;
    // A SIMD sum on the CPU that rounds differently can flip one activation quant
    // (about 1% in the logits, and it stays in the KV cache): Q8_0 decode gets 3%.
    const double dec_tol = c.kv == TensorType::F16 || q8 ? 0.03 : 0.01;
    std::printf("  %-28s prefill median %.2e worst %.2e argmax %.0f%% | decode median %.2e worst %.2e\n", c.what,
                r.prefill.median, r.prefill.worst, 100 * r.prefill.argmax_agree, r.decode.median, r.decode.worst);
    CHECK(r.prefill.median <= pre_tol);
    CHECK(r.prefill.worst <= 3 * pre_tol);
    CHECK(r.decode.worst <= dec_tol);
  }
}

// Two slots of a 4-layer model taking requests of varied lengths, every fourth
// cancelled mid-prefill from another thread; the backend's test reads its own
// counters around run().
class Soak {
 public:
  explicit Soak(std::unique_ptr<Backend> backend)
      : bytes_(build_llama(soak_shape(), 21)),
        model_(LlamaModel::from_gguf(GgufFile::from_memory(bytes_.data(), bytes_.size(), "soak.gguf"))),
        params_(soak_params()),
        ctx_(*model_, std::move(backend), params_) {}

  Context& ctx() { return ctx_; }
  int completed() const { return completed_; }
  int cancelled() const { return cancelled_; }

  // Requests 0..n-1, counted afresh; gives the seconds they took.
  double run(int n) {
    completed_ = cancelled_ = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < n; r++) request(r);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  // The slots still compute what the CPU computes.
  void check_slots_match_cpu() {
    Context cpu(*model_, std::make_unique<CpuBackend>(4), params_);
    for (int s = 0; s < 2; s++) {
      const std::vector<int32_t> toks = ctx_.tokens(s);  // a copy: truncate() below shortens the slot
      if (toks.empty()) continue;
      const auto c = cpu.eval(0, toks, false, nullptr).logits;
      cpu.clear(0);
      ctx_.truncate(s, static_cast<int64_t>(toks.size()) - 1);
      const auto g = ctx_.eval(s, {toks.back()}, false, nullptr).logits;
      const RowStats st = row_stats(g, c, 1000);
      std::printf("  slot %d after the soak: rel. error vs cpu %.3g\n", s, st.worst);
      CHECK(st.worst <= 0.1);
    }
  }

 private:
  static LlamaShape soak_shape() {
    LlamaShape shape;
    shape.dim = 512;
    shape.n_head = 8;
    shape.n_head_kv = 2;
    shape.n_ff = 1024;
    shape.n_vocab = 1000;
    shape.n_layer = 4;
    shape.n_ctx = 512;
    return shape;
  }
  static ContextParams soak_params() {
    ContextParams params;
    params.n_ctx = 512;
    params.n_batch = 32;
    params.n_slots = 2;
    return params;
  }

  void request(int r) {
    const int slot = r % 2;
    if (ctx_.tokens(slot).size() > 400) ctx_.clear(slot);
    const size_t before = ctx_.tokens(slot).size();
    cancel_ = false;
    std::thread tripper;
    if (r % 4 == 1) {
      // Cancels mid-prefill: after some chunks or layers, at a time that varies.
      tripper = std::thread([this, r] {
        std::this_thread::sleep_for(std::chrono::microseconds(50 + (r * 37) % 400));
        cancel_ = true;
      });
    }
    bool in_prefill = true;
    try {
      const int n = r % 4 == 1 ? 96 : 1 + (r * 13) % 20;
      ctx_.eval(slot, ids(n, 1000, r), r % 10 == 0, &cancel_);
      in_prefill = false;
      for (int k = 0; k < 3; k++) ctx_.eval(slot, {static_cast<int32_t>((r + k) % 1000)}, false, &cancel_);
      completed_++;
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::Cancelled);
      cancelled_++;
      // A cancelled prefill keeps its whole chunks of 32 and nothing of the chunk it stopped in.
      const size_t after = ctx_.tokens(slot).size();
      if (in_prefill) CHECK(after >= before && (after - before) % 32 == 0);
    }
    if (tripper.joinable()) tripper.join();
  }

  std::vector<uint8_t> bytes_;
  std::unique_ptr<LlamaModel> model_;
  ContextParams params_;
  Context ctx_;
  std::atomic<bool> cancel_{false};
  int completed_ = 0, cancelled_ = 0;
};

}  // namespace ghostline::test
