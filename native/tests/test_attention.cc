// Attention over the half-precision KV cache against a float64 reference that
// rounds the query and the softmax weights to half where llama.cpp does.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "common/fp16.h"
#include "cpu/attention.h"
#include "cpu/attention_f16.h"

using namespace ghostline;
using namespace ghostline::cpu;

namespace {

double to_half_and_back(double x) { return fp16_to_fp32(fp32_to_fp16(float(x))); }

}  // namespace

TEST("f16 attention: every head count, head size and key count matches a float64 reference") {
  std::mt19937 rng(17);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  double worst = 0;
  for (int64_t hd : {64, 128}) {
    for (int n_heads = 1; n_heads <= kAttendGroupHeads; n_heads++) {
      for (int64_t n_kv : {1, 2, 15, 16, 17, 100, 577}) {
        const int64_t stride = hd * 3;  // rows of a wider cache, as in the backend
        std::vector<uint16_t> k(size_t(n_kv * stride)), v(size_t(n_kv * stride));
        for (auto& x : k) x = fp32_to_fp16(dist(rng));
        for (auto& x : v) x = fp32_to_fp16(dist(rng));
        std::vector<float> q(size_t(n_heads * hd));
        for (auto& x : q) x = 3.0f * dist(rng);  // peaked softmax rows as well as flat ones
        const float scale = 1.0f / std::sqrt(float(hd));
        std::vector<float> scores(size_t(n_heads) * 600), q16(size_t(n_heads * hd)), out(size_t(n_heads * hd));
        attend_heads_f16(q.data(), n_heads, k.data(), v.data(), stride, n_kv, hd, scale, scores.data(), 600,
                         q16.data(), out.data());
        for (int g = 0; g < n_heads; g++) {
          std::vector<double> s(static_cast<size_t>(n_kv));
          double m = -INFINITY;
          for (int64_t j = 0; j < n_kv; j++) {
            double d = 0;
            for (int64_t i = 0; i < hd; i++) d += to_half_and_back(q[g * hd + i]) * fp16_to_fp32(k[j * stride + i]);
            s[j] = d * scale;
            m = std::max(m, s[j]);
          }
          double sum = 0;
          for (auto& x : s) sum += (x = std::exp(x - m));
          for (int64_t i = 0; i < hd; i++) {
            double want = 0;
            for (int64_t j = 0; j < n_kv; j++) want += to_half_and_back(s[j] / sum) * fp16_to_fp32(v[j * stride + i]);
            const double err = std::fabs(out[g * hd + i] - want);
            worst = std::max(worst, err / (1.0 + std::fabs(want)));
            if (!(err <= 2e-3 * (1.0 + std::fabs(want)))) {
              check::fail(__FILE__, __LINE__, "hd " + std::to_string(hd) + " heads " + std::to_string(n_heads) +
                                                  " n_kv " + std::to_string(n_kv) + " head " + std::to_string(g) +
                                                  ": " + std::to_string(out[g * hd + i]) + " vs " + std::to_string(want));
              return;
            }
          }
        }
      }
    }
  }
  std::printf("  %s attention: worst error %.3g\n", attention_f16_isa(), worst);
}

TEST("swiglu_row: silu(a) * b within float rounding of float64, for large magnitudes and a partial last vector") {
  std::mt19937 rng(23);
  std::normal_distribution<float> dist(0.0f, 4.0f);
  for (int64_t n : {1, 15, 16, 33, 5632}) {
    std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
    for (auto& x : a) x = dist(rng);
    for (auto& x : b) x = dist(rng);
    if (n > 4) {
      a[0] = -100.0f;  // exp(100) overflows: silu is -0
      a[1] = 100.0f;
      a[2] = -88.5f;
      a[3] = 0.0f;
    }
    const std::vector<float> a0 = a;
    swiglu_row(a.data(), b.data(), n);
    for (int64_t i = 0; i < n; i++) {
      const double x = a0[size_t(i)];
      const double want = x / (1.0 + std::exp(-x)) * b[size_t(i)];
      const double err = std::fabs(a[size_t(i)] - want);
      if (!(err <= 1e-6 * std::fabs(want) + 1e-30)) {
        check::fail(__FILE__, __LINE__, "n " + std::to_string(n) + " x " + std::to_string(x) + ": " +
                                            std::to_string(a[size_t(i)]) + " vs " + std::to_string(want));
        return;
      }
    }
  }
}
