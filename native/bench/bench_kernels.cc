// Decode and prefill speed of the Q8_0 matrix products on TinyLlama-1.1B's
// shapes, beside the machine's measured read bandwidth.
//
// Decode reads every weight once per token, so its limit is memory bandwidth:
// the weights of 22 layers (about 1.1 GB, far beyond any L3) are cycled the way
// a forward pass does, and the GB/s of weights read is compared with what a
// plain streaming read achieves on the same threads. Prefill (512 tokens) is
// compute-bound and reported in GFLOP/s.
//
// Tables with products on the pair layout (q8_0_pair_layout.h) are timed
// twice: on the file's layout and on matrices packed as the CPU backend packs
// them at load ("avx512vnni pairs").
//
//   bench_kernels [--threads N] [--tables avx512vnni,generic] [--passes N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "common/fp16.h"
#include "common/large_buffer.h"
#include "cpu/kernels.h"
#include "cpu/q8_0_pair_layout.h"
#include "cpu/read_bandwidth.h"
#include "cpu/thread_pool.h"

using namespace ghostline;
using namespace ghostline::cpu;

namespace {

struct Matrix {
  const char* name;
  int64_t rows, cols;
  std::vector<gl_block_q8_0> blocks;
  LargeBuffer packed;  // the pair layout, when a table wants it
};

// A table's Q8_0 products on one layout.
struct Product {
  const KernelTable* k;
  bool pairs;
  std::string name;
};

constexpr int kLayers = 22;
constexpr int64_t kTileGrain = 16;  // rows per unit of work: whole kernel tiles

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void fill_random(ThreadPool& pool, std::vector<gl_block_q8_0>& blocks, uint64_t seed) {
  pool.parallel_for(int64_t(blocks.size()), 1024, [&](int64_t b, int64_t e) {
    uint64_t s = seed ^ (uint64_t(b) * 0x9e3779b97f4a7c15ull) ^ 0x2545f4914f6cdd1dull;
    for (int64_t i = b; i < e; i++) {
      gl_block_q8_0& blk = blocks[size_t(i)];
      for (int j = 0; j < GL_QK8_0; j += 8) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        std::memcpy(blk.qs + j, &s, 8);
      }
      blk.d = fp32_to_fp16(1e-3f + float(s & 1023) * 1e-5f);
    }
  });
}

std::vector<gl_block_q8_0> random_activations(int64_t n_tok, int64_t cols, const KernelTable& k) {
  std::mt19937 rng(uint32_t(cols + n_tok));
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(size_t(n_tok * cols));
  for (auto& v : x) v = dist(rng);
  std::vector<gl_block_q8_0> q(size_t(n_tok * cols / GL_QK8_0));
  k.quantize_q8_0(x.data(), q.data(), n_tok * cols);
  return q;
}

void matmul(ThreadPool& pool, const Product& v, const Matrix& m, const gl_block_q8_0* x, int64_t n_tok, float* y) {
  // As the CPU backend does: the activations prepared once per product, then the rows split between threads.
  static LargeBuffer prepared(pair_activation_bytes(512, 5632));
  if (v.pairs) v.k->prepare_q8_0_pairs(x, n_tok, m.cols, prepared.data());
  pool.parallel_for(m.rows, kTileGrain, [&](int64_t r0, int64_t r1) {
    if (v.pairs) {
      v.k->matmul_q8_0_pairs(m.packed.data(), m.cols, r0, r1, prepared.data(), n_tok, y, m.rows);
    } else {
      v.k->matmul_q8_0(m.blocks.data(), m.cols, r0, r1, x, n_tok, y, m.rows);
    }
  });
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t comma = s.find(',', start);
    const size_t end = comma == std::string::npos ? s.size() : comma;
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> thread_counts;
  std::vector<std::string> wanted;
  int passes = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--threads")) thread_counts.push_back(std::atoi(argv[i + 1]));
    else if (!std::strcmp(argv[i], "--tables")) wanted = split(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--passes")) passes = std::max(1, std::atoi(argv[i + 1]));
    else {
      std::fprintf(stderr, "bench_kernels: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (thread_counts.empty()) {
    thread_counts.push_back(1);
    if (physical_core_count() > 1) thread_counts.push_back(physical_core_count());
  }
  const KernelTable* all[16];
  const int n_all = runnable_kernel_tables(all, 16);
  std::vector<Product> products;
  for (int i = n_all - 1; i >= 0; i--) {  // best first
    if (wanted.empty() ? all[i] != &generic_kernels() || n_all == 1
                       : std::find(wanted.begin(), wanted.end(), all[i]->name) != wanted.end()) {
      if (all[i]->matmul_q8_0_pairs != nullptr) products.push_back({all[i], true, std::string(all[i]->name) + " pairs"});
      products.push_back({all[i], false, all[i]->name});
    }
  }
  const bool any_pairs = std::any_of(products.begin(), products.end(), [](const Product& v) { return v.pairs; });

  ThreadPool fill_pool(physical_core_count());
  // One layer: attention q, k, v, o, then the feed-forward gate, up, down.
  const Matrix layer_shapes[] = {{"attn_q", 2048, 2048, {}}, {"attn_k", 256, 2048, {}}, {"attn_v", 256, 2048, {}},
                                 {"attn_o", 2048, 2048, {}}, {"ffn_gate", 5632, 2048, {}}, {"ffn_up", 5632, 2048, {}},
                                 {"ffn_down", 2048, 5632, {}}};
  std::vector<Matrix> weights;
  for (int l = 0; l < kLayers; l++) {
    for (const Matrix& s : layer_shapes) weights.push_back({s.name, s.rows, s.cols, {}});
  }
  weights.push_back({"output", 32000, 2048, {}});
  size_t total_bytes = 0;
  double params = 0;
  for (size_t i = 0; i < weights.size(); i++) {
    Matrix& m = weights[i];
    m.blocks.resize(size_t(m.rows * m.cols / GL_QK8_0));
    fill_random(fill_pool, m.blocks, i + 1);
    if (any_pairs) {
      m.packed = LargeBuffer(size_t(m.rows * pair_layout(m.cols).row_bytes));
      fill_pool.parallel_for(m.rows, 64, [&](int64_t r0, int64_t r1) {
        pack_pair_rows(m.blocks.data(), m.cols, r0, r1, m.packed.data());
      });
    }
    total_bytes += m.blocks.size() * sizeof(gl_block_q8_0);
    params += double(m.rows) * double(m.cols);
  }
  const double flop_per_token = 2.0 * params;
  std::printf("weights: %zu matrices, %.2f GB of Q8_0 (%.2fB parameters, %.2f GFLOP per token)\n", weights.size(),
              total_bytes / 1e9, params / 1e9, flop_per_token / 1e9);

  const KernelTable& ref = generic_kernels();
  const auto x2048 = random_activations(1, 2048, ref), x5632 = random_activations(1, 5632, ref);
  std::vector<float> y(32000);

  for (int threads : thread_counts) {
    ThreadPool pool(threads);
    const double bandwidth = measure_read_bandwidth(pool, size_t(1) << 30);
    std::printf("\n%d thread%s: read bandwidth %.1f GB/s (1 GiB buffer, best of 5)\n", threads,
                threads == 1 ? "" : "s", bandwidth / 1e9);
    for (const Product& v : products) {
      const KernelTable* k = v.k;
      // Decode: whole passes over all weights; best pass counts.
      const int n_pass = k == &generic_kernels() ? 1 : passes;
      double best = 1e30;
      std::map<std::string, double> shape_time;
      for (int p = 0; p < n_pass; p++) {
        std::map<std::string, double> this_pass;
        const auto start = Clock::now();
        for (const Matrix& m : weights) {
          const auto t0 = Clock::now();
          matmul(pool, v, m, m.cols == 2048 ? x2048.data() : x5632.data(), 1, y.data());
          this_pass[m.name] += seconds_since(t0);
        }
        const double s = seconds_since(start);
        if (s < best) {
          best = s;
          shape_time = this_pass;
        }
      }
      // The same kernel on a matrix that stays in L2: its compute ceiling.
      {
        const Matrix& m = weights[1];  // attn_k, 256 x 2048
        const int reps = k == &generic_kernels() ? 20 : 400;
        const auto start = Clock::now();
        for (int r = 0; r < reps; r++) matmul(pool, v, m, x2048.data(), 1, y.data());
        const double s = seconds_since(start);
        std::printf("  %-16s decode in cache (256x2048, %.0f KB): %.1f GB/s\n", v.name.c_str(),
                    m.blocks.size() * sizeof(gl_block_q8_0) / 1024.0,
                    reps * double(m.blocks.size() * sizeof(gl_block_q8_0)) / s / 1e9);
      }
      std::printf("  %-16s decode: %.1f GB/s of weights = %.0f%% of read bandwidth, %.1f tokens/s\n", v.name.c_str(),
                  total_bytes / best / 1e9, 100.0 * total_bytes / best / bandwidth, 1.0 / best);
      std::printf("                   by matrix (GB/s):");
      for (const Matrix& s : layer_shapes) {
        const double bytes = kLayers * double(s.rows * s.cols / GL_QK8_0 * sizeof(gl_block_q8_0));
        std::printf(" %s %.1f", s.name, bytes / shape_time[s.name] / 1e9);
      }
      std::printf(" output %.1f\n",
                  double(weights.back().blocks.size() * sizeof(gl_block_q8_0)) / shape_time["output"] / 1e9);

      // Prefill: one layer's matrices against 512 tokens (generic: 32 tokens).
      const int64_t n_tok = k == &generic_kernels() ? 32 : 512;
      const auto p2048 = random_activations(n_tok, 2048, ref), p5632 = random_activations(n_tok, 5632, ref);
      std::vector<float> py(size_t(n_tok * 5632));
      double best_prefill = 1e30, layer_flop = 0;
      for (int l = 0; l < 7; l++) layer_flop += 2.0 * n_tok * weights[l].rows * weights[l].cols;
      for (int p = 0; p < 2; p++) {
        const auto start = Clock::now();
        for (int l = 0; l < 7; l++) {
          const Matrix& m = weights[l];
          matmul(pool, v, m, m.cols == 2048 ? p2048.data() : p5632.data(), n_tok, py.data());
        }
        best_prefill = std::min(best_prefill, seconds_since(start));
      }
      const double gflops = layer_flop / best_prefill / 1e9;
      std::printf("  %-16s prefill %lld tokens: %.1f GFLOP/s = %.0f tokens/s for this model (decode %.1f)\n",
                  v.name.c_str(), (long long)n_tok, gflops, gflops * 1e9 / flop_per_token, 1.0 / best);
    }
  }
  return 0;
}
