// Whole-model speed of a backend on a synthetic Llama of TinyLlama-1.1B's shape
// (dim 2048, 22 layers, 32 heads, 4 KV heads, FFN 5632, vocabulary 32000, all
// matrices Q8_0): prefill tokens/s for a prompt, then decode tokens/s for the
// tokens after it, beside the bandwidth ceiling measured on the same device
// (decode must read every weight once per token).
//
//   bench_backend [--backend cuda|cpu|auto] [--prompt 512] [--gen 128] [--layers 22]
//                 [--threads N] [--runs 3] [--kv f16|f32] [--variants "A=1 B=2;;C=3"]
//
// --variants: backends made under each set of environment settings (';' between
// sets, an empty set for the defaults) share the model and take their runs in
// turn, so that every variant meets the same clocks and the same card; one
// RESULT line each.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "backend/make_backend.h"
#include "common/block_q8_0.h"
#include "common/error.h"
#include "common/fp16.h"
#include "cpu/read_bandwidth.h"
#include "llama_builder.h"
#include "runtime/context.h"
#ifdef GHOSTLINE_WITH_CUDA
#include "cuda/cuda_backend.h"
#endif

using namespace ghostline;
using Clock = std::chrono::steady_clock;

namespace {


// Random Q8_0 blocks with scales that keep activations in a sane range; fast
// enough (xorshift, no float quantization) for a 1.1 GB model.
std::vector<uint8_t> random_q8(int64_t rows, int64_t cols, uint64_t& state) {
  const int64_t n_blocks = rows * cols / GL_QK8_0;
  std::vector<uint8_t> out(static_cast<size_t>(n_blocks) * sizeof(gl_block_q8_0));
  auto* blocks = reinterpret_cast<gl_block_q8_0*>(out.data());
  const uint16_t d = fp32_to_fp16(1.7f / 127.0f / std::sqrt(float(cols)));
  for (int64_t b = 0; b < n_blocks; b++) {
    blocks[b].d = d;
    for (int j = 0; j < GL_QK8_0; j += 8) {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      for (int k = 0; k < 8; k++) blocks[b].qs[j + k] = static_cast<int8_t>(int((state >> (8 * k)) & 0xff) % 255 - 127);
    }
  }
  return out;
}

// TinyLlama-1.1B's shape with random weights.
test::LlamaShape tinyllama_shape() {
  test::LlamaShape s;
  s.dim = 2048;
  s.n_layer = 22;
  s.n_head = 32;
  s.n_head_kv = 4;
  s.n_ff = 5632;
  s.n_vocab = 32000;
  s.n_ctx = 2048;
  auto state = std::make_shared<uint64_t>(0x9E3779B97F4A7C15ull);
  s.matrix_bytes = [state](int64_t cols, int64_t rows) { return random_q8(rows, cols, *state); };
  return s;
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t end = s.find(sep, start);
    out.push_back(s.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) return out;
    start = end + 1;
  }
}

// Sets NAME=VALUE words in the environment for as long as it lives, then puts back what was there.
class ScopedEnv {
 public:
  explicit ScopedEnv(const std::string& settings) {
    for (const std::string& word : split(settings, ' ')) {
      const size_t eq = word.find('=');
      if (word.empty() || eq == std::string::npos) continue;
      const std::string name = word.substr(0, eq);
      const char* old = std::getenv(name.c_str());
      saved_.push_back({name, old != nullptr, old ? old : ""});
      setenv(name.c_str(), word.substr(eq + 1).c_str(), 1);
    }
  }
  ~ScopedEnv() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
      if (it->had) {
        setenv(it->name.c_str(), it->value.c_str(), 1);
      } else {
        unsetenv(it->name.c_str());
      }
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  struct Saved {
    std::string name;
    bool had;
    std::string value;
  };
  std::vector<Saved> saved_;
};

struct Variant {
  std::string settings;
  std::unique_ptr<Context> ctx;
  std::vector<double> prefill, decode;
  uint64_t decode_launches = 0;  // kernels (or dispatches) run by the last run's decode steps
  uint64_t tokens = 0;  // FNV-1a of the last run's greedy tokens: equal where variants compute the same logits
};

}  // namespace

int main(int argc, char** argv) {
  std::string backend_name = "auto";
  int n_prompt = 512, n_gen = 128, threads = 0, runs = 3;
  std::string variants = "";
  test::LlamaShape shape = tinyllama_shape();
  TensorType kv = TensorType::F16;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--backend") backend_name = v;
    else if (a == "--prompt") n_prompt = std::atoi(v.c_str());
    else if (a == "--gen") n_gen = std::atoi(v.c_str());
    else if (a == "--layers") shape.n_layer = std::atoi(v.c_str());
    else if (a == "--threads") threads = std::atoi(v.c_str());
    else if (a == "--runs") runs = std::atoi(v.c_str());
    else if (a == "--kv") kv = v == "f32" ? TensorType::F32 : TensorType::F16;
    else if (a == "--variants") variants = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  try {
    const auto t_build = Clock::now();
    const std::vector<uint8_t> bytes = test::build_llama(shape, 1);
    auto model = LlamaModel::from_gguf(GgufFile::from_memory(bytes.data(), bytes.size(), "tinyllama-synthetic.gguf"));
    std::printf("model: TinyLlama-shaped Q8_0, %lld layers, %.3f GiB file, built in %.1f s\n",
                static_cast<long long>(shape.n_layer), double(bytes.size()) / (1u << 30), seconds_since(t_build));

    ContextParams params;
    params.n_ctx = n_prompt + n_gen + 16;
    params.n_batch = n_prompt;
    params.kv_type = kv;
    std::vector<Variant> set;
    std::string used;
    for (const std::string& settings : split(variants, ';')) {
      ScopedEnv env(settings);
      BackendChoice choice = choose_backend(backend_name, threads);
      if (!choice.fallback_reason.empty()) std::printf("fallback to cpu: %s\n", choice.fallback_reason.c_str());
      used = choice.backend->name();
      if (set.empty()) std::printf("backend: %s on %s\n", used.c_str(), choice.backend->device().c_str());
      const auto t_load = Clock::now();
      Variant v;
      v.settings = settings;
      v.ctx = std::make_unique<Context>(*model, std::move(choice.backend), params);
      std::printf("load (plan + allocate + upload)%s%s: %.2f s\n", settings.empty() ? "" : ", ", settings.c_str(),
                  seconds_since(t_load));
      set.push_back(std::move(v));
    }

    double gbs = 0;
#ifdef GHOSTLINE_WITH_CUDA
    if (used == "cuda") gbs = cuda_read_bandwidth_gbs(uint64_t(2) << 30, 20);
#endif
    if (used == "cpu") {
      cpu::ThreadPool pool(threads > 0 ? threads : cpu::physical_core_count());
      gbs = cpu::measure_read_bandwidth(pool, size_t(1) << 30) / 1e9;
    }
    const double per_token = double(model->weight_bytes_per_token());
    const double ceiling = gbs * 1e9 / per_token;

    std::vector<int32_t> prompt(static_cast<size_t>(n_prompt));
    for (int i = 0; i < n_prompt; i++) prompt[static_cast<size_t>(i)] = (i * 7919 + 13) % int(shape.n_vocab);
    std::vector<BackendCounters> c0;
    for (const Variant& v : set) c0.push_back(v.ctx->backend().counters());
    for (int r = 0; r < runs + 1; r++) {  // the first run warms up (graphs, caches)
      for (Variant& v : set) {
        Context& ctx = *v.ctx;
        ctx.clear(0);
        auto t0 = Clock::now();
        auto res = ctx.eval(0, prompt, false, nullptr);
        const double tp = seconds_since(t0);
        int32_t next = static_cast<int32_t>(std::max_element(res.logits.begin(), res.logits.end()) - res.logits.begin());
        const uint64_t l0 = ctx.backend().counters().launches;
        v.tokens = 14695981039346656037ull;
        t0 = Clock::now();
        for (int g = 0; g < n_gen; g++) {
          res = ctx.eval(0, {next}, false, nullptr);
          next = static_cast<int32_t>(std::max_element(res.logits.begin(), res.logits.end()) - res.logits.begin());
          v.tokens = (v.tokens ^ static_cast<uint32_t>(next)) * 1099511628211ull;
        }
        const double td = seconds_since(t0);
        v.decode_launches = ctx.backend().counters().launches - l0;
        if (r > 0) {
          v.prefill.push_back(n_prompt / tp);
          v.decode.push_back(n_gen / td);
        }
      }
    }
    std::printf("weights read per token: %.1f MB; read bandwidth %.0f GB/s -> ceiling %.0f tok/s\n", per_token / 1e6,
                gbs, ceiling);
    for (size_t i = 0; i < set.size(); i++) {
      const Variant& v = set[i];
      const auto c1 = v.ctx->backend().counters();
      const char* tag = v.settings.empty() ? "defaults" : v.settings.c_str();
      std::printf("allocations during the runs (%s): %llu (live buffers %llu -> %llu, bytes %llu -> %llu)\n", tag,
                  static_cast<unsigned long long>(c1.allocations - c0[i].allocations),
                  static_cast<unsigned long long>(c0[i].live_buffers), static_cast<unsigned long long>(c1.live_buffers),
                  static_cast<unsigned long long>(c0[i].buffer_bytes), static_cast<unsigned long long>(c1.buffer_bytes));
      if (v.decode_launches > 0 && n_gen > 0) {
        std::printf("kernels per decode token (%s): %.1f\n", tag, double(v.decode_launches) / n_gen);
      }
      std::printf("RESULT backend=%s prefill_tok_s=%.0f decode_tok_s=%.1f ceiling_tok_s=%.0f bandwidth_gb_s=%.0f "
                  "decode_fraction_of_ceiling=%.2f prompt=%d gen=%d tokens=%016llx variant=\"%s\"\n",
                  used.c_str(), median(v.prefill), median(v.decode), ceiling, gbs,
                  ceiling > 0 ? median(v.decode) / ceiling : 0.0, n_prompt, n_gen,
                  static_cast<unsigned long long>(v.tokens), tag);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_backend: %s\n", e.what());
    return 1;
  }
}
