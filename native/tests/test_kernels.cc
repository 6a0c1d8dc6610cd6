// Every kernel table this CPU runs against the generic one, on random data of
// awkward shapes; the thread pool's contracts; the table selection override.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <cstdlib>
#include <cstdio>
#include <functional>
#include <random>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "check.h"
#include "common/fp16.h"
#include "cpu/kernels.h"
#include "cpu/q8_0_pair_layout.h"
#include "cpu/thread_pool.h"

using namespace ghostline;
using namespace ghostline::cpu;

namespace {

std::vector<const KernelTable*> runnable_tables() {
  const KernelTable* tables[16];
  const int n = runnable_kernel_tables(tables, 16);
  return std::vector<const KernelTable*>(tables, tables + n);
}

std::vector<float> random_floats(std::mt19937& rng, size_t n, float scale) {
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// Weights as a file holds them: any int8 quant (-128 included) and a positive
// half scale of varying size.
std::vector<gl_block_q8_0> random_q8_rows(std::mt19937& rng, int64_t rows, int64_t cols) {
  std::uniform_int_distribution<int> q(-128, 127);
  std::uniform_real_distribution<float> d(1e-4f, 2e-2f);
  std::vector<gl_block_q8_0> w(rows * cols / GL_QK8_0);
  for (auto& b : w) {
    b.d = fp32_to_fp16(d(rng));
    for (auto& v : b.qs) v = int8_t(q(rng));
  }
  return w;
}

// Sum of the absolute values of the terms of one Q8_0 dot product: any float
// reordering of the sum is judged against this, not against a result that may
// cancel to near zero.
double q8_magnitude(const gl_block_q8_0* w, const gl_block_q8_0* x, int64_t nb) {
  double m = 0;
  for (int64_t b = 0; b < nb; b++) {
    int64_t s = 0;
    for (int j = 0; j < GL_QK8_0; j++) s += std::abs(int64_t(w[b].qs[j]) * x[b].qs[j]);
    m += double(s) * std::fabs(double(fp16_to_fp32(w[b].d)) * fp16_to_fp32(x[b].d));
  }
  return m;
}

constexpr float kUnwritten = -12345.0f;  // marks outputs a kernel must leave alone

// The pair layout of a matrix, packed as the CPU backend packs it at load.
std::vector<uint8_t> packed_pairs(const std::vector<gl_block_q8_0>& w, int64_t rows, int64_t cols, uint8_t** aligned) {
  std::vector<uint8_t> buf(size_t(rows * pair_layout(cols).row_bytes) + 64);
  *aligned = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(buf.data()) + 63) & ~uintptr_t(63));
  pack_pair_rows(w.data(), cols, 0, rows, *aligned);
  return buf;
}

// A table's Q8_0 product as the backend calls it: on the file's layout, or on
// the pair layout where the table has products for it.
struct Q8Product {
  std::string name;
  std::function<void(const std::vector<gl_block_q8_0>& w, int64_t rows, int64_t cols, int64_t r0, int64_t r1,
                     const gl_block_q8_0* x, int64_t n_tok, float* y, int64_t ldy)>
      run;
};

std::vector<Q8Product> q8_products(bool with_generic) {
  std::vector<Q8Product> out;
  for (const KernelTable* table : runnable_tables()) {
    if (table != &generic_kernels() || with_generic) {
      out.push_back({table->name, [table](const std::vector<gl_block_q8_0>& w, int64_t, int64_t cols, int64_t r0,
                                          int64_t r1, const gl_block_q8_0* x, int64_t n_tok, float* y, int64_t ldy) {
                       table->matmul_q8_0(w.data(), cols, r0, r1, x, n_tok, y, ldy);
                     }});
    }
    if (table->matmul_q8_0_pairs != nullptr) {
      out.push_back({std::string(table->name) + " pairs",
                     [table](const std::vector<gl_block_q8_0>& w, int64_t rows, int64_t cols, int64_t r0, int64_t r1,
                             const gl_block_q8_0* x, int64_t n_tok, float* y, int64_t ldy) {
                       uint8_t* packed = nullptr;
                       const auto keep = packed_pairs(w, rows, cols, &packed);
                       std::vector<uint8_t> prepared_buf(pair_activation_bytes(n_tok, cols) + 64);
                       void* prepared = reinterpret_cast<void*>(
                           (reinterpret_cast<uintptr_t>(prepared_buf.data()) + 63) & ~uintptr_t(63));
                       table->prepare_q8_0_pairs(x, n_tok, cols, prepared);
                       table->matmul_q8_0_pairs(packed, cols, r0, r1, prepared, n_tok, y, ldy);
                     }});
    }
  }
  return out;
}

}  // namespace

TEST("cpu kernels: the generic table is always runnable and listed first") {
  auto tables = runnable_tables();
  CHECK(!tables.empty());
  CHECK(tables[0] == &generic_kernels());
  CHECK(std::string(generic_kernels().name) == "generic");
#if defined(GHOSTLINE_X86)
  CHECK(avx2_kernels() != nullptr);
  CHECK(avx512vnni_kernels() != nullptr);
  CHECK(neon_kernels() == nullptr);
#endif
  std::printf("  runnable:");
  for (auto* t : tables) std::printf(" %s", t->name);
  std::printf("; selected: %s\n", select_kernels().name);
}

TEST("cpu kernels: quantize_q8_0 of every table is bit-exact with the reference, ties included") {
  std::mt19937 rng(7);
  std::vector<float> x;
  for (float scale : {1e-7f, 1e-3f, 1.0f, 300.0f}) {
    auto part = random_floats(rng, 32 * 64, scale);
    x.insert(x.end(), part.begin(), part.end());
  }
  // A block whose largest magnitude is 127 has d = 1 exactly, so x[j] = j - 15.5
  // are exact ties: roundf sends them away from zero, ties-to-even would not.
  for (int j = 0; j < 32; j++) x.push_back(j == 0 ? 127.0f : float(j) - 15.5f);
  x.insert(x.end(), 32, 0.0f);  // d = 0: all quants 0
  const int64_t n = int64_t(x.size());
  std::vector<gl_block_q8_0> ref(n / 32);
  generic_kernels().quantize_q8_0(x.data(), ref.data(), n);
  const gl_block_q8_0& ties = ref[ref.size() - 2];
  CHECK_EQ(fp16_to_fp32(ties.d), 1.0f);
  CHECK_EQ(int(ties.qs[16]), 1);    // 0.5
  CHECK_EQ(int(ties.qs[15]), -1);   // -0.5
  CHECK_EQ(int(ties.qs[18]), 3);    // 2.5
  CHECK_EQ(int(ties.qs[13]), -3);   // -2.5
  for (auto* table : runnable_tables()) {
    std::vector<gl_block_q8_0> got(n / 32);
    table->quantize_q8_0(x.data(), got.data(), n);
    int64_t differing = 0;
    for (size_t b = 0; b < ref.size(); b++) {
      if (std::memcmp(&ref[b], &got[b], sizeof(gl_block_q8_0)) != 0) differing++;
    }
    std::printf("  %-10s quantize_q8_0: %lld of %zu blocks differ\n", table->name, (long long)differing, ref.size());
    CHECK_EQ(differing, int64_t(0));
  }
}

TEST("cpu kernels: Q8_0 matmul of every table matches generic for odd shapes, token counts and row ranges") {
  std::mt19937 rng(42);
  struct Shape {
    int64_t rows, cols;
  };
  const Shape shapes[] = {{1, 32}, {7, 64}, {13, 96}, {37, 160}, {67, 2048}, {19, 4096}, {6, 1024}, {5, 5632}, {3, 480}};
  const int64_t tokens[] = {1, 2, 3, 7, 16, 33};
  for (const Q8Product& product : q8_products(false)) {
    double worst = 0;
    for (const Shape& s : shapes) {
      const int64_t nb = s.cols / 32;
      auto w = random_q8_rows(rng, s.rows, s.cols);
      for (int64_t n_tok : tokens) {
        auto xf = random_floats(rng, size_t(n_tok * s.cols), 1.0f);
        std::vector<gl_block_q8_0> x(n_tok * nb);
        generic_kernels().quantize_q8_0(xf.data(), x.data(), n_tok * s.cols);
        // The whole matrix, and a range that starts and ends inside it.
        const int64_t ranges[][2] = {{0, s.rows}, {s.rows / 3, s.rows - s.rows / 4}};
        for (auto& range : ranges) {
          const int64_t r0 = range[0], r1 = range[1];
          const int64_t ldy = s.rows + 3;
          std::vector<float> want(n_tok * ldy, kUnwritten), got(n_tok * ldy, kUnwritten);
          generic_kernels().matmul_q8_0(w.data(), s.cols, r0, r1, x.data(), n_tok, want.data(), ldy);
          product.run(w, s.rows, s.cols, r0, r1, x.data(), n_tok, got.data(), ldy);
          for (int64_t t = 0; t < n_tok; t++) {
            for (int64_t r = 0; r < ldy; r++) {
              const float g = got[t * ldy + r], e = want[t * ldy + r];
              if (r < r0 || r >= r1) {
                if (g != kUnwritten) check::fail(__FILE__, __LINE__, product.name + " wrote outside its rows");
                continue;
              }
              const double m = q8_magnitude(w.data() + r * nb, x.data() + t * nb, nb) + 1e-30;
              const double rel = std::fabs(double(g) - e) / m;
              worst = std::max(worst, rel);
              if (!(rel <= 1e-5)) {
                check::fail(__FILE__, __LINE__, product.name + " rows " + std::to_string(s.rows) + " cols " +
                                                    std::to_string(s.cols) + " n_tok " + std::to_string(n_tok) +
                                                    ": " + std::to_string(g) + " vs " + std::to_string(e));
              }
            }
          }
        }
      }
    }
    std::printf("  %-16s matmul_q8_0 OK, worst error %.3g of the sum of |terms|\n", product.name.c_str(), worst);
  }
}

TEST("cpu kernels: every table computes a token's outputs bit for bit the same alone as in a batch") {
  // Decode (one token) and prefill (tiles of tokens) must sum in the same order, so a prompt gives the
  // same logits in one call, in chunks or token by token, and a cached prefix the same as a fresh one.
  std::mt19937 rng(11);
  for (const Q8Product& product : q8_products(true)) {
    for (int64_t cols : {64, 96, 256, 2048, 5632}) {
      const int64_t rows = 37, n_tok = 11, nb = cols / GL_QK8_0;
      const auto w = random_q8_rows(rng, rows, cols);
      const auto xf = random_floats(rng, static_cast<size_t>(n_tok * cols), 1.0f);
      std::vector<gl_block_q8_0> x(static_cast<size_t>(n_tok * nb));
      generic_kernels().quantize_q8_0(xf.data(), x.data(), n_tok * cols);
      std::vector<float> batch(static_cast<size_t>(n_tok * rows)), one(static_cast<size_t>(rows));
      product.run(w, rows, cols, 0, rows, x.data(), n_tok, batch.data(), rows);
      for (int64_t t = 0; t < n_tok; t++) {
        product.run(w, rows, cols, 0, rows, x.data() + t * nb, 1, one.data(), rows);
        if (std::memcmp(one.data(), batch.data() + t * rows, sizeof(float) * static_cast<size_t>(rows)) != 0) {
          check::fail(__FILE__, __LINE__, product.name + ": token " + std::to_string(t) + " of cols " +
                                              std::to_string(cols) + " differs between decode and prefill");
          break;
        }
      }
    }
  }
}

TEST("pair layout: one 64-byte aligned record per row, scales first, the blocks of a pair interleaved by dword and offset by 128") {
  // 2048 columns: 64 blocks, 128 bytes of scales, 32 pairs: the file's 2176 bytes a row.
  const PairLayout wide = pair_layout(2048);
  CHECK(wide.nb == 64 && wide.np == 32 && wide.scale_bytes == 128 && wide.row_bytes == 2176);
  // 5632 columns: 176 scales (352 bytes) padded to 384.
  CHECK(pair_layout(5632).row_bytes == 384 + 88 * 64);
  // An odd block count gets a pad block.
  const PairLayout odd = pair_layout(96);
  CHECK(odd.nb == 3 && odd.np == 2 && odd.scale_bytes == 64 && odd.row_bytes == 64 + 128);

  std::mt19937 rng(5);
  const int64_t rows = 3;
  const auto w = random_q8_rows(rng, rows, 96);
  std::vector<uint8_t> dst(size_t(rows * odd.row_bytes), 0xAB);
  pack_pair_rows(w.data(), 96, 1, 3, dst.data());  // rows 1 and 2 only
  CHECK(dst[0] == 0xAB && dst[size_t(odd.row_bytes) - 1] == 0xAB);  // row 0 untouched
  for (int64_t r = 1; r < rows; r++) {
    const uint8_t* rec = dst.data() + r * odd.row_bytes;
    const gl_block_q8_0* row = w.data() + r * 3;
    uint16_t scale[3];
    std::memcpy(scale, rec, sizeof scale);
    CHECK(scale[0] == row[0].d && scale[1] == row[1].d && scale[2] == row[2].d);
    for (int64_t i = 6; i < odd.scale_bytes; i++) CHECK(rec[i] == 0);  // padding: zero scales
    for (int64_t b = 0; b < 4; b++) {
      for (int j = 0; j < 32; j++) {
        // Quant j of block b sits in dword j / 4 of its block, which is dword 2 * (j / 4) + b % 2 of pair b / 2,
        // stored as q + 128 (the pad block's zeros as 128).
        const uint8_t got = rec[odd.scale_bytes + (b / 2) * 64 + (2 * (j / 4) + b % 2) * 4 + j % 4];
        const uint8_t want = uint8_t((b < 3 ? uint8_t(row[b].qs[j]) : 0) ^ 0x80);
        if (got != want) check::fail(__FILE__, __LINE__, "row " + std::to_string(r) + " block " + std::to_string(b) + " quant " + std::to_string(j));
      }
    }
  }
}

TEST("cpu kernels: f16, bf16 and f32 matmuls of every table match generic, odd column counts included") {
  std::mt19937 rng(3);
  const int64_t cols_list[] = {1, 7, 8, 33, 172, 2048};
  const int64_t rows = 13;
  for (auto* table : runnable_tables()) {
    if (table == &generic_kernels()) continue;
    double worst[3] = {0, 0, 0};
    for (int64_t cols : cols_list) {
      auto wf = random_floats(rng, size_t(rows * cols), 0.05f);
      std::vector<uint16_t> wh(wf.size()), wb(wf.size());
      for (size_t i = 0; i < wf.size(); i++) {
        wh[i] = fp32_to_fp16(wf[i]);
        uint32_t bits;
        std::memcpy(&bits, &wf[i], 4);
        wb[i] = uint16_t(bits >> 16);
      }
      for (int64_t n_tok : {int64_t(1), int64_t(3), int64_t(7)}) {
        auto x = random_floats(rng, size_t(n_tok * cols), 1.0f);
        const int64_t r0 = 2, r1 = rows - 1, ldy = rows;
        for (int kind = 0; kind < 3; kind++) {
          std::vector<float> want(n_tok * ldy, kUnwritten), got(n_tok * ldy, kUnwritten);
          auto run = [&](const KernelTable& k, float* y) {
            if (kind == 0) k.matmul_f16(wh.data(), cols, r0, r1, x.data(), n_tok, y, ldy);
            if (kind == 1) k.matmul_bf16(wb.data(), cols, r0, r1, x.data(), n_tok, y, ldy);
            if (kind == 2) k.matmul_f32(wf.data(), cols, r0, r1, x.data(), n_tok, y, ldy);
          };
          run(generic_kernels(), want.data());
          run(*table, got.data());
          for (int64_t t = 0; t < n_tok; t++) {
            for (int64_t r = 0; r < rows; r++) {
              const float g = got[t * ldy + r], e = want[t * ldy + r];
              if (r < r0 || r >= r1) {
                CHECK(g == kUnwritten);
                continue;
              }
              double m = 1e-30;
              for (int64_t c = 0; c < cols; c++) m += std::fabs(double(wf[r * cols + c]) * x[t * cols + c]);
              const double rel = std::fabs(double(g) - e) / m;
              worst[kind] = std::max(worst[kind], rel);
              if (!(rel <= 1e-5)) {
                check::fail(__FILE__, __LINE__, std::string(table->name) + " kind " + std::to_string(kind) + " cols " +
                                                    std::to_string(cols) + ": " + std::to_string(g) + " vs " +
                                                    std::to_string(e));
              }
            }
          }
        }
      }
    }
    std::printf("  %-10s f16 %.3g, bf16 %.3g, f32 %.3g worst error of the sum of |terms|\n", table->name, worst[0],
                worst[1], worst[2]);
  }
}

TEST("cpu kernels: GHOSTLINE_CPU_KERNELS forces a runnable table and falls back to generic with a reason") {
  for (auto* table : runnable_tables()) {
    std::string note;
    CHECK(&choose_kernels(table->name, &note) == table);
    CHECK(note.empty());
  }
  std::string note;
  CHECK(&choose_kernels("sse9", &note) == &generic_kernels());
  CHECK(note.find("sse9") != std::string::npos);
  note.clear();
#if defined(GHOSTLINE_X86)
  CHECK(&choose_kernels("neon", &note) == &generic_kernels());
  CHECK(note.find("neon") != std::string::npos);
#endif
  // Unforced: the best runnable table, listed right after generic.
  auto tables = runnable_tables();
  CHECK(&choose_kernels(nullptr, nullptr) == tables[tables.size() > 1 ? 1 : 0]);
}

TEST("thread pool: parallel_for covers every index exactly once in contiguous grain-aligned ranges, the ones split() names") {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    CHECK_EQ(pool.size(), threads);
    for (int64_t n : {int64_t(0), int64_t(1), int64_t(7), int64_t(64), int64_t(1000), int64_t(4097)}) {
      for (int64_t grain : {int64_t(1), int64_t(4), int64_t(16), int64_t(100)}) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        std::mutex m;
        std::vector<std::pair<int64_t, int64_t>> ranges;
        pool.parallel_for(n, grain, [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; i++) hits[size_t(i)]++;
          std::lock_guard<std::mutex> lock(m);
          ranges.push_back({b, e});
        });
        for (int64_t i = 0; i < n; i++) {
          if (hits[size_t(i)] != 1) {
            check::fail(__FILE__, __LINE__, "index " + std::to_string(i) + " of " + std::to_string(n) + " ran " +
                                                std::to_string(hits[size_t(i)].load()) + " times");
            break;
          }
        }
        CHECK(int(ranges.size()) <= threads);
        for (auto& r : ranges) {
          CHECK(r.first < r.second);
          CHECK(r.first % grain == 0);
          CHECK(r.second % grain == 0 || r.second == n);
        }
        // ThreadPool::split names the same ranges (the CPU backend lays weights out by it).
        std::vector<std::pair<int64_t, int64_t>> named;
        for (int i = 0; i < threads; i++) {
          int64_t b = 0, e = 0;
          ThreadPool::split(n, grain, threads, i, &b, &e);
          if (b < e) named.push_back({b, e});
        }
        std::sort(ranges.begin(), ranges.end());
        CHECK(named == ranges);
      }
    }
  }
}

TEST("thread pool: run calls fn once on every thread index") {
  for (int threads : {1, 2, 4}) {
    ThreadPool pool(threads);
    std::vector<std::atomic<int>> calls(threads);
    std::atomic<int> bad_count{0};
    pool.run([&](int i, int n) {
      if (n != threads) bad_count++;
      calls[i]++;
    });
    CHECK_EQ(bad_count.load(), 0);
    for (int i = 0; i < threads; i++) CHECK_EQ(calls[i].load(), 1);
  }
}

TEST("thread pool: many consecutive jobs each run completely before the next starts") {
  for (int threads : {2, 3}) {
  ThreadPool pool(threads);
  const auto start = std::chrono::steady_clock::now();
  std::vector<int64_t> data(300, 0);
  for (int job = 0; job < 20000; job++) {
    pool.parallel_for(int64_t(data.size()), 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; i++) data[i]++;
    });
    if (job % 5000 == 4999) {
      // A gap long enough for the workers to fall asleep, then more jobs.
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  std::printf("  %d threads: %.2f us per job (3 sleeps of 5 ms included)\n", threads, us / 20000);
  for (int64_t v : data) CHECK_EQ(v, int64_t(20000));
  }
}

TEST("thread pool: an exception thrown on a worker reaches the caller and the pool keeps working") {
  ThreadPool pool(2);
  bool caught = false;
  try {
    pool.run([](int i, int) {
      if (i == 1) throw std::runtime_error("worker failed");
    });
  } catch (const std::runtime_error& e) {
    caught = std::string(e.what()) == "worker failed";
  }
  CHECK(caught);
  std::atomic<int> calls{0};
  pool.run([&](int, int) { calls++; });
  CHECK_EQ(calls.load(), 2);
}

TEST("thread pool: physical_core_count is between 1 and the logical CPU count") {
  const int n = physical_core_count();
  CHECK(n >= 1);
  const unsigned logical = std::thread::hardware_concurrency();
  if (logical > 0) CHECK(n <= int(logical));
  std::printf("  physical cores: %d (logical %u)\n", n, logical);
}
