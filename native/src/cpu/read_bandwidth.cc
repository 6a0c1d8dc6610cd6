// Streaming reads with several independent accumulators so that the loop is
// limited by memory, not by a dependency chain. On x86 a 256-bit version is
// used where the CPU has AVX2: some cores do not reach full bandwidth with
// 128-bit loads alone.
#include "cpu/read_bandwidth.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>

#if defined(GHOSTLINE_X86)
#include <immintrin.h>
#endif

namespace ghostline::cpu {
namespace {

uint64_t read_words(const uint64_t* p, size_t n) {
  uint64_t a = 0, b = 0, c = 0, d = 0, e = 0, f = 0, g = 0, h = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    a ^= p[i]; b ^= p[i + 1]; c ^= p[i + 2]; d ^= p[i + 3];
    e ^= p[i + 4]; f ^= p[i + 5]; g ^= p[i + 6]; h ^= p[i + 7];
  }
  for (; i < n; i++) a ^= p[i];
  return a ^ b ^ c ^ d ^ e ^ f ^ g ^ h;
}

#if defined(GHOSTLINE_X86)
__attribute__((target("avx2"))) uint64_t read_words_avx2(const uint64_t* p, size_t n) {
  __m256i acc[8];
  for (auto& v : acc) v = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int k = 0; k < 8; k++) {
      acc[k] = _mm256_xor_si256(acc[k], _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 4 * k)));
    }
  }
  for (int k = 1; k < 8; k++) acc[0] = _mm256_xor_si256(acc[0], acc[k]);
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), acc[0]);
  return lanes[0] ^ lanes[1] ^ lanes[2] ^ lanes[3] ^ read_words(p + i, n - i);
}
#endif

uint64_t read_range(const uint64_t* p, size_t n) {
#if defined(GHOSTLINE_X86)
  if (__builtin_cpu_supports("avx2")) return read_words_avx2(p, n);
#endif
  return read_words(p, n);
}

}  // namespace

ReadBandwidthProbe::ReadBandwidthProbe(ThreadPool& pool, size_t bytes)
    : pool_(pool), words_(bytes / sizeof(uint64_t) / 32 * 32), sinks_(size_t(pool.size()), 0) {
  buffer_ = LargeBuffer(words_ * sizeof(uint64_t));
  uint64_t* buf = reinterpret_cast<uint64_t*>(buffer_.data());
  // Every page written first, by the threads that will read it, so that no measurement times page faults.
  pool_.parallel_for(int64_t(words_), 4096, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) buf[i] = uint64_t(i) * 0x9e3779b97f4a7c15ull;
  });
}

double ReadBandwidthProbe::measure(int passes) {
  if (words_ == 0) return 0.0;
  const uint64_t* buf = reinterpret_cast<const uint64_t*>(buffer_.data());
  double best = 0.0;
  for (int run = 0; run < passes; run++) {
    const auto start = std::chrono::steady_clock::now();
    pool_.run([&](int i, int n) {
      // Contiguous, 256-byte aligned parts, one per thread.
      const size_t part = (words_ / size_t(n) + 31) / 32 * 32;
      const size_t begin = std::min(words_, part * size_t(i));
      const size_t end = std::min(words_, begin + part);
      sinks_[size_t(i)] ^= read_range(buf + begin, end - begin);
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (s > 0) best = std::max(best, double(words_ * sizeof(uint64_t)) / s);
  }
  volatile uint64_t sink = 0;
  for (uint64_t v : sinks_) sink = sink ^ v;
  (void)sink;
  return best;
}

double measure_read_bandwidth(ThreadPool& pool, size_t bytes) {
  ReadBandwidthProbe probe(pool, bytes);
  return probe.measure(5);
}

}  // namespace ghostline::cpu
