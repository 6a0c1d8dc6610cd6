// Whole-model speed of a backend on a synthetic Llama of TinyLlama-1.1B's shape
// (dim 2048, 22 layers, 32 heads, 4 KV heads, FFN 5632, vocabulary 32000, all
// matrices Q8_0): prefill tokens/s for a prompt, then decode tokens/s for the
// tokens after it, beside the bandwidth ceiling measured on the same device
// (decode must read every weight once per token).
//
//   bench_backend [--backend cuda|cpu|auto] [--prompt 512] [--gen 128] [--layers 22]
//                 [--threads N] [--runs 3] [--kv f16|f32]
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

}  // namespace

int main(int argc, char** argv) {
  std::string backend_name = "auto";
  int n_prompt = 512, n_gen = 128, threads = 0, runs = 3;
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

    BackendChoice choice = choose_backend(backend_name, threads);
    if (!choice.fallback_reason.empty()) std::printf("fallback to cpu: %s\n", choice.fallback_reason.c_str());
    const std::string used = choice.backend->name();
    std::printf("backend: %s on %s\n", used.c_str(), choice.backend->device().c_str());

    ContextParams params;
    params.n_ctx = n_prompt + n_gen + 16;
    params.n_batch = n_prompt;
    params.kv_type = kv;
    const auto t_load = Clock::now();
    Context ctx(*model, std::move(choice.backend), params);
    std::printf("load (plan + allocate + upload): %.2f s\n", seconds_since(t_load));

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
    const auto c0 = ctx.backend().counters();
    std::vector<double> prefill, decode;
    uint64_t decode_launches = 0;  // kernels (or dispatches) run by the last run's decode steps
    for (int r = 0; r < runs + 1; r++) {  // the first run warms up (graphs, caches)
      ctx.clear(0);
      auto t0 = Clock::now();
      auto res = ctx.eval(0, prompt, false, nullptr);
      const double tp = seconds_since(t0);
      int32_t next = static_cast<int32_t>(std::max_element(res.logits.begin(), res.logits.end()) - res.logits.begin());
      const uint64_t l0 = ctx.backend().counters().launches;
      t0 = Clock::now();
      for (int g = 0; g < n_gen; g++) {
        res = ctx.eval(0, {next}, false, nullptr);
        next = static_cast<int32_t>(std::max_element(res.logits.begin(), res.logits.end()) - res.logits.begin());
      }
      const double td = seconds_since(t0);
      decode_launches = ctx.backend().counters().launches - l0;
      if (r > 0) {
        prefill.push_back(n_prompt / tp);
        decode.push_back(n_gen / td);
      }
    }
    const auto c1 = ctx.backend().counters();
    std::printf("weights read per token: %.1f MB; read bandwidth %.0f GB/s -> ceiling %.0f tok/s\n", per_token / 1e6,
                gbs, ceiling);
    std::printf("allocations during the runs: %llu (live buffers %llu -> %llu, bytes %llu -> %llu)\n",
                static_cast<unsigned long long>(c1.allocations - c0.allocations),
                static_cast<unsigned long long>(c0.live_buffers), static_cast<unsigned long long>(c1.live_buffers),
                static_cast<unsigned long long>(c0.buffer_bytes), static_cast<unsigned long long>(c1.buffer_bytes));
    if (decode_launches > 0 && n_gen > 0) {
      std::printf("kernels per decode token: %.1f\n", double(decode_launches) / n_gen);
    }
    std::printf("RESULT backend=%s prefill_tok_s=%.0f decode_tok_s=%.1f ceiling_tok_s=%.0f bandwidth_gb_s=%.0f "
                "decode_fraction_of_ceiling=%.2f prompt=%d gen=%d\n",
                used.c_str(), median(prefill), median(decode), ceiling, gbs,
                ceiling > 0 ? median(decode) / ceiling : 0.0, n_prompt, n_gen);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_backend: %s\n", e.what());
    return 1;
  }
}
