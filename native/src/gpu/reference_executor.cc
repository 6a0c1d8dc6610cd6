#include "gpu/reference_executor.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/error.h"
#include "common/fp16.h"

namespace ghostline::gpu {
namespace {

[[noreturn]] void fail(const std::string& what) { throw Error(ErrorCode::Backend, "reference executor: " + what); }

// Q8_0 of 32 values as the CPU backend makes it: the scale rounds through half.
void quantize_block(const float* x, int8_t* q, float* scale) {
  float amax = 0.0f;
  for (int j = 0; j < GL_QK8_0; j++) amax = std::fmax(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  *scale = fp16_to_fp32(fp32_to_fp16(d));
  for (int j = 0; j < GL_QK8_0; j++) q[j] = static_cast<int8_t>(std::roundf(x[j] * id));
}

// Element c of row r of a matrix in either layout, as float.
struct MatrixView {
  const uint8_t* data;
  int64_t rows, cols;
  uint32_t type, layout;

  float quant_scale(int64_t r, int64_t block) const {
    uint16_t h;
    if (layout == GL_LAYOUT_Q8_SPLIT) {
      std::memcpy(&h, data + GL_Q8_SCALES_AT(rows, cols) + (r * (cols / GL_QK8_0) + block) * 2, 2);
    } else {
      std::memcpy(&h, data + (r * (cols / GL_QK8_0) + block) * sizeof(gl_block_q8_0), 2);
    }
    return fp16_to_fp32(h);
  }
  int8_t quant(int64_t r, int64_t c) const {
    if (layout == GL_LAYOUT_Q8_SPLIT) return static_cast<int8_t>(data[r * cols + c]);
    const auto* b = reinterpret_cast<const gl_block_q8_0*>(data) + r * (cols / GL_QK8_0) + c / GL_QK8_0;
    return b->qs[c % GL_QK8_0];
  }
  float at(int64_t r, int64_t c) const {
    uint16_t h;
    switch (type) {
      case GL_W_Q8_0: return quant_scale(r, c / GL_QK8_0) * quant(r, c);
      case GL_W_F16: std::memcpy(&h, data + (r * cols + c) * 2, 2); return fp16_to_fp32(h);
      case GL_W_BF16: std::memcpy(&h, data + (r * cols + c) * 2, 2); return bf16_to_fp32(h);
      default: {
        float f;
        std::memcpy(&f, data + (r * cols + c) * 4, 4);
        return f;
      }
    }
  }
};

float silu_mul(float a, float b) { return a / (1.0f + std::exp(-a)) * b; }

// Row r of a Q8_0 matrix times Q8_0 activations, summed block by block as the GPUs do.
float q8_row_dot(const MatrixView& w, int64_t r, const int8_t* xq, const float* xs) {
  float sum = 0.0f;
  for (int64_t blk = 0; blk < w.cols / GL_QK8_0; blk++) {
    int32_t isum = 0;
    for (int j = 0; j < GL_QK8_0; j++) isum += int32_t(w.quant(r, blk * GL_QK8_0 + j)) * xq[blk * GL_QK8_0 + j];
    sum += float(isum) * (w.quant_scale(r, blk) * xs[blk]);
  }
  return sum;
}

}  // namespace

void ReferenceExecutor::allocate(const DeviceBufferSpec (&buffers)[GL_BUF_COUNT]) {
  if (stats_.allocations > 0) fail("allocate() called twice");
  for (int i = 0; i < GL_BUF_COUNT; i++) {
    size_[i] = buffers[i].bytes;
    if (buffers[i].host_view) {
      // A no-copy view: reads go straight to the mapping, as Metal's would.
      base_[i] = const_cast<uint8_t*>(static_cast<const uint8_t*>(buffers[i].host_view));
      stats_.live_buffers++;
      stats_.allocations++;
      continue;
    }
    storage_[i].assign(buffers[i].bytes, 0xA5);  // poison: an unwritten read shows up
    base_[i] = storage_[i].data();
    stats_.live_buffers++;
    stats_.allocations++;
    stats_.buffer_bytes += buffers[i].bytes;
  }
}

uint8_t* ReferenceExecutor::at(uint32_t buffer, uint64_t offset, uint64_t bytes) {
  if (buffer >= GL_BUF_COUNT || !base_[buffer]) fail("buffer " + std::to_string(buffer) + " was not allocated");
  if (offset + bytes > size_[buffer]) {
    fail("access of " + std::to_string(bytes) + " bytes at " + std::to_string(offset) + " overruns buffer " +
         std::to_string(buffer) + " of " + std::to_string(size_[buffer]));
  }
  return base_[buffer] + offset;
}

void ReferenceExecutor::upload(uint32_t buffer, uint64_t offset, const void* src, uint64_t bytes) {
  std::memcpy(at(buffer, offset, bytes), src, bytes);
}

void ReferenceExecutor::write(uint32_t buffer, uint64_t offset, const void* src, uint64_t bytes) {
  std::memcpy(at(buffer, offset, bytes), src, bytes);
}

void ReferenceExecutor::read(uint32_t buffer, uint64_t offset, void* dst, uint64_t bytes) {
  std::memcpy(dst, at(buffer, offset, bytes), bytes);
}

void* ReferenceExecutor::bound(const Dispatch& d, uint32_t i) {
  if (i >= d.n_bindings) fail(std::string(kernel_name(d.kernel)) + " has no binding " + std::to_string(i));
  return at(d.bindings[i].buffer, d.bindings[i].offset, 0);
}

void ReferenceExecutor::run(const Dispatch* dispatches, size_t n, bool /*replayable*/) {
  stats_.submits++;
  for (size_t di = 0; di < n; di++) {
    const Dispatch& d = dispatches[di];
    const gl_params& p = d.params;
    stats_.launches++;
    switch (d.kernel) {
      case GL_K_EMBED: {
        const auto* step = static_cast<const int32_t*>(bound(d, 0));
        const MatrixView w{static_cast<const uint8_t*>(bound(d, 1)), p.i[3], p.i[0], uint32_t(p.i[1]), uint32_t(p.i[2])};
        auto* dst = static_cast<float*>(bound(d, 2));
        for (uint32_t t = 0; t < d.grid[0]; t++) {
          const int32_t token = step[GL_STEP_TOKENS + t];
          for (int64_t c = 0; c < w.cols; c++) dst[t * w.cols + c] = w.at(token, c);
        }
        break;
      }
      case GL_K_RMS_NORM: {
        const int64_t n_w = p.i[0];
        const auto* src = static_cast<const float*>(bound(d, 0));
        const auto* norm = static_cast<const float*>(bound(d, 1));
        auto* dst = static_cast<float*>(bound(d, 2));
        auto* q = static_cast<int8_t*>(bound(d, 3));
        auto* s = static_cast<float*>(bound(d, 4));
        for (uint32_t t = 0; t < d.grid[0]; t++) {
          double ss = 0;
          for (int64_t i = 0; i < n_w; i++) ss += double(src[t * n_w + i]) * src[t * n_w + i];
          const float scale = 1.0f / std::sqrt(float(ss / double(n_w)) + p.f[0]);
          for (int64_t i = 0; i < n_w; i++) dst[t * n_w + i] = src[t * n_w + i] * scale * norm[i];
          if (p.i[1]) {
            for (int64_t b = 0; b < n_w / GL_QK8_0; b++) {
              const int64_t e = t * n_w + b * GL_QK8_0;
              quantize_block(dst + e, q + e, s + e / GL_QK8_0);
            }
          }
        }
        break;
      }
      case GL_K_QUANTIZE: {
        const auto* src = static_cast<const float*>(bound(d, 0));
        auto* q = static_cast<int8_t*>(bound(d, 1));
        auto* s = static_cast<float*>(bound(d, 2));
        const int64_t total = int64_t(p.i[1]) * p.i[0] / GL_QK8_0;
        for (uint32_t b = 0; b < d.grid[0]; b++) {
          for (int64_t k = b * 8; k < std::min<int64_t>(total, b * 8 + 8); k++) {
            quantize_block(src + k * GL_QK8_0, q + k * GL_QK8_0, s + k);
          }
        }
        break;
      }
      case GL_K_MATVEC: {
        const int64_t cols = p.i[0];
        const auto* x = static_cast<const float*>(bound(d, 0));
        const auto* xq = static_cast<const int8_t*>(bound(d, 1));
        const auto* xs = static_cast<const float*>(bound(d, 2));
        const int64_t total = int64_t(p.i[1]) + (p.i[4] > 1 ? p.i[2] : 0) + (p.i[4] > 2 ? p.i[3] : 0);
        for (uint32_t b = 0; b < d.grid[0]; b++) {
          for (int64_t row = int64_t(b) * p.rows_per_block; row < std::min<int64_t>(total, int64_t(b + 1) * p.rows_per_block);
               row++) {
            int k = 0;
            int64_t r = row;
            while (r >= p.i[1 + k]) r -= p.i[1 + k++];
            const MatrixView w{static_cast<const uint8_t*>(bound(d, 3 + 2 * k)), p.i[1 + k], cols, uint32_t(p.i[5]),
                               uint32_t(p.i[6])};
            auto* out = static_cast<float*>(bound(d, 4 + 2 * k));
            float sum = 0.0f;
            if (w.type == GL_W_Q8_0) {
              sum = q8_row_dot(w, r, xq, xs);
            } else {
              for (int64_t c = 0; c < cols; c++) sum += w.at(r, c) * x[c];
            }
            out[r] = p.i[7] ? out[r] + sum : sum;
          }
        }
        break;
      }
      case GL_K_MATMUL: {
        const int64_t cols = p.i[0], rows = p.i[1], n_tok = p.i[2], ld = p.i[6];
        const auto* x = static_cast<const float*>(bound(d, 0));
        const MatrixView w{static_cast<const uint8_t*>(bound(d, 1)), rows, cols, uint32_t(p.i[3]), uint32_t(p.i[4])};
        auto* out = static_cast<float*>(bound(d, 2));
        for (uint32_t by = 0; by < d.grid[1]; by++) {
          for (uint32_t bx = 0; bx < d.grid[0]; bx++) {
            for (int64_t t = by * GL_MM_TILE; t < std::min<int64_t>(n_tok, (by + 1) * GL_MM_TILE); t++) {
              for (int64_t r = bx * GL_MM_TILE; r < std::min<int64_t>(rows, (bx + 1) * GL_MM_TILE); r++) {
                float sum = 0.0f;
                for (int64_t c = 0; c < cols; c++) sum += w.at(r, c) * x[t * cols + c];
                out[t * ld + r] = p.i[5] ? out[t * ld + r] + sum : sum;
              }
            }
          }
        }
        break;
      }
      case GL_K_ROPE_STORE: {
        const int64_t n_head = p.i[0], n_kv = p.i[1], hd = p.i[2], half = hd / 2;
        const int64_t q_dim = n_head * hd, kv_dim = n_kv * hd;
        auto* q = static_cast<float*>(bound(d, 0));
        auto* k = static_cast<float*>(bound(d, 1));
        const auto* v = static_cast<const float*>(bound(d, 2));
        const auto* cos_t = static_cast<const float*>(bound(d, 3));
        const auto* sin_t = static_cast<const float*>(bound(d, 4));
        auto* kc = static_cast<uint8_t*>(bound(d, 5));
        auto* vc = static_cast<uint8_t*>(bound(d, 6));
        const auto* step = static_cast<const int32_t*>(bound(d, 7));
        for (uint32_t t = 0; t < d.grid[0]; t++) {
          const int64_t pos = step[GL_STEP_POS0] + t;
          for (uint32_t h = 0; h < d.grid[1]; h++) {
            const bool is_q = h < n_head;
            float* vec = is_q ? q + t * q_dim + h * hd : k + t * kv_dim + (h - n_head) * hd;
            if (p.i[3]) {
              for (int64_t i = 0; i < half; i++) {
                const float c = cos_t[pos * half + i], s = sin_t[pos * half + i];
                const float x0 = vec[2 * i], x1 = vec[2 * i + 1];
                vec[2 * i] = x0 * c - x1 * s;
                vec[2 * i + 1] = x0 * s + x1 * c;
              }
            }
            if (p.i[4] && !is_q) {
              const int64_t e = pos * kv_dim + (h - n_head) * hd;
              const float* vv = v + t * kv_dim + (h - n_head) * hd;
              for (int64_t i = 0; i < hd; i++) {
                if (p.i[5]) {
                  const uint16_t hk = fp32_to_fp16(vec[i]), hv = fp32_to_fp16(vv[i]);
                  std::memcpy(kc + (e + i) * 2, &hk, 2);
                  std::memcpy(vc + (e + i) * 2, &hv, 2);
                } else {
                  std::memcpy(kc + (e + i) * 4, &vec[i], 4);
                  std::memcpy(vc + (e + i) * 4, &vv[i], 4);
                }
              }
            }
          }
        }
        break;
      }
      case GL_K_ATTENTION: {
        const int64_t n_head = p.i[0], n_kv = p.i[1], hd = p.i[2];
        const int64_t q_dim = n_head * hd, kv_dim = n_kv * hd, group = n_head / n_kv;
        const auto* q = static_cast<const float*>(bound(d, 0));
        const auto* kc = static_cast<const uint8_t*>(bound(d, 1));
        const auto* vc = static_cast<const uint8_t*>(bound(d, 2));
        auto* out = static_cast<float*>(bound(d, 3));
        const auto* step = static_cast<const int32_t*>(bound(d, 4));
        auto* oq = static_cast<int8_t*>(bound(d, 5));
        auto* os = static_cast<float*>(bound(d, 6));
        auto cache = [&](const uint8_t* c, int64_t e) {
          if (p.i[3]) {
            uint16_t h;
            std::memcpy(&h, c + e * 2, 2);
            return fp16_to_fp32(h);
          }
          float f;
          std::memcpy(&f, c + e * 4, 4);
          return f;
        };
        std::vector<float> acc(static_cast<size_t>(hd));
        for (uint32_t t = 0; t < d.grid[1]; t++) {
          const int64_t len = step[GL_STEP_POS0] + t + 1;
          for (uint32_t h = 0; h < d.grid[0]; h++) {
            const float* qh = q + t * q_dim + h * hd;
            const int64_t base = (h / group) * hd;
            // Online softmax: one pass over the keys, as the GPU kernels do.
            float m = -INFINITY, l = 0.0f;
            std::fill(acc.begin(), acc.end(), 0.0f);
            for (int64_t j = 0; j < len; j++) {
              float s = 0.0f;
              for (int64_t i = 0; i < hd; i++) s += qh[i] * cache(kc, j * kv_dim + base + i);
              s *= p.f[0];
              const float m_new = std::max(m, s);
              const float corr = std::exp(m - m_new), e = std::exp(s - m_new);
              l = l * corr + e;
              for (int64_t i = 0; i < hd; i++) acc[i] = acc[i] * corr + e * cache(vc, j * kv_dim + base + i);
              m = m_new;
            }
            float* o = out + t * q_dim + h * hd;
            for (int64_t i = 0; i < hd; i++) o[i] = acc[i] / l;
            if (p.i[4]) {
              for (int64_t b = 0; b < hd / GL_QK8_0; b++) {
                const int64_t e = t * q_dim + h * hd + b * GL_QK8_0;
                quantize_block(out + e, oq + e, os + e / GL_QK8_0);
              }
            }
          }
        }
        break;
      }
      case GL_K_SWIGLU: {
        const int64_t width = p.i[0];
        auto* a = static_cast<float*>(bound(d, 0));
        const auto* b = static_cast<const float*>(bound(d, 1));
        auto* q = static_cast<int8_t*>(bound(d, 2));
        auto* s = static_cast<float*>(bound(d, 3));
        for (uint32_t t = 0; t < d.grid[1]; t++) {
          for (uint32_t bx = 0; bx < d.grid[0]; bx++) {
            const int64_t i0 = int64_t(bx) * 256, i1 = std::min<int64_t>(width, i0 + 256);
            for (int64_t i = i0; i < i1; i++) a[t * width + i] = silu_mul(a[t * width + i], b[t * width + i]);
            if (p.i[1]) {
              for (int64_t e = i0; e < i1; e += GL_QK8_0) {
                quantize_block(a + t * width + e, q + t * width + e, s + (t * width + e) / GL_QK8_0);
              }
            }
          }
        }
        break;
      }
      case GL_K_MATVEC_FUSED: {
        if (!optional_kernels_) fail("matvec_fused was planned for an executor that does not run it");
        const int64_t cols = p.i[0];
        if (cols % GL_QK8_0 != 0 || cols > GL_MATVEC_FUSED_MAX_COLS) fail("matvec_fused of " + std::to_string(cols) + " columns");
        const auto* src = static_cast<const float*>(bound(d, 0));
        const auto* aux = static_cast<const float*>(bound(d, 1));
        const int64_t total = int64_t(p.i[1]) + (p.i[4] > 1 ? p.i[2] : 0) + (p.i[4] > 2 ? p.i[3] : 0);
        // The prologue, as each block makes it: the float input, then its Q8_0.
        std::vector<float> x(static_cast<size_t>(cols)), xs(static_cast<size_t>(cols / GL_QK8_0));
        std::vector<int8_t> xq(static_cast<size_t>(cols));
        if (p.i[5] == GL_PROLOGUE_RMS_NORM) {
          double ss = 0;
          for (int64_t i = 0; i < cols; i++) ss += double(src[i]) * src[i];
          const float scale = 1.0f / std::sqrt(float(ss / double(cols)) + p.f[0]);
          for (int64_t i = 0; i < cols; i++) x[i] = src[i] * scale * aux[i];
        } else if (p.i[5] == GL_PROLOGUE_SWIGLU) {
          for (int64_t i = 0; i < cols; i++) x[i] = silu_mul(src[i], aux[i]);
        } else {
          fail("matvec_fused with unknown prologue " + std::to_string(p.i[5]));
        }
        for (int64_t b = 0; b < cols / GL_QK8_0; b++) quantize_block(&x[b * GL_QK8_0], &xq[b * GL_QK8_0], &xs[b]);
        for (uint32_t b = 0; b < d.grid[0]; b++) {
          for (int64_t row = int64_t(b) * p.rows_per_block; row < std::min<int64_t>(total, int64_t(b + 1) * p.rows_per_block);
               row++) {
            int k = 0;
            int64_t r = row;
            while (r >= p.i[1 + k]) r -= p.i[1 + k++];
            const MatrixView w{static_cast<const uint8_t*>(bound(d, 3 + 2 * k)), p.i[1 + k], cols, GL_W_Q8_0,
                               uint32_t(p.i[6])};
            auto* out = static_cast<float*>(bound(d, 4 + 2 * k));
            const float sum = q8_row_dot(w, r, xq.data(), xs.data());
            out[r] = p.i[7] ? out[r] + sum : sum;
          }
        }
        break;
      }
      case GL_K_MATVEC_DECODE: {
        if (!decode_kernel_) fail("matvec_decode was planned for an executor that does not run it");
        const int64_t cols = p.i[0];
        const int n_mat = p.i[4], prologue = p.i[5], epilogue = p.i[8];
        if (cols % GL_QK8_0 != 0 || cols > GL_MATVEC_FUSED_MAX_COLS || p.i[6] != GL_LAYOUT_Q8_SPLIT || n_mat < 1 ||
            n_mat > 3 || p.rows_per_block < 1) {
          fail("matvec_decode of " + std::to_string(cols) + " columns, layout " + std::to_string(p.i[6]));
        }
        // The input as every block makes it.
        std::vector<int8_t> xq(static_cast<size_t>(cols));
        std::vector<float> xs(static_cast<size_t>(cols / GL_QK8_0));
        if (prologue == GL_PROLOGUE_RMS_NORM) {
          const auto* src = static_cast<const float*>(bound(d, 0));
          const auto* norm = static_cast<const float*>(bound(d, 1));
          std::vector<float> x(static_cast<size_t>(cols));
          double ss = 0;
          for (int64_t i = 0; i < cols; i++) ss += double(src[i]) * src[i];
          const float scale = 1.0f / std::sqrt(float(ss / double(cols)) + p.f[0]);
          for (int64_t i = 0; i < cols; i++) x[i] = src[i] * scale * norm[i];
          for (int64_t b = 0; b < cols / GL_QK8_0; b++) quantize_block(&x[b * GL_QK8_0], &xq[b * GL_QK8_0], &xs[b]);
        } else if (prologue == GL_PROLOGUE_Q8) {
          std::memcpy(xq.data(), bound(d, 0), xq.size());
          std::memcpy(xs.data(), bound(d, 1), xs.size() * sizeof(float));
        } else {
          fail("matvec_decode with unknown prologue " + std::to_string(prologue));
        }
        int64_t total = 0;
        for (int k = 0; k < n_mat; k++) total += p.i[1 + k];
        auto matrix = [&](int k) {
          return MatrixView{static_cast<const uint8_t*>(bound(d, 3 + 2 * k)), p.i[1 + k], cols, GL_W_Q8_0, GL_LAYOUT_Q8_SPLIT};
        };
        auto out = [&](int k) { return static_cast<float*>(bound(d, 4 + 2 * k)); };
        // Row `row` of the matrices taken together: its matrix and its row there.
        auto locate = [&](int64_t row, int& k) {
          k = 0;
          while (row >= p.i[1 + k]) row -= p.i[1 + k++];
          return row;
        };
        if (epilogue == GL_EPILOGUE_SWIGLU_Q8) {
          const int64_t rows = p.i[1];
          if (n_mat != 2 || p.i[2] != rows || rows % GL_QK8_0 != 0 || p.rows_per_block % GL_QK8_0 != 0) {
            fail("matvec_decode's SwiGLU epilogue needs two matrices of equal rows in whole Q8_0 blocks");
          }
          auto* hq = static_cast<int8_t*>(bound(d, 10));
          auto* hs = static_cast<float*>(bound(d, 11));
          std::vector<float> h(static_cast<size_t>(p.rows_per_block));
          for (uint32_t b = 0; b < d.grid[0]; b++) {
            const int64_t first = int64_t(b) * p.rows_per_block, end = std::min<int64_t>(rows, first + p.rows_per_block);
            for (int64_t u = first; u < end; u++) {
              h[static_cast<size_t>(u - first)] =
                  silu_mul(q8_row_dot(matrix(0), u, xq.data(), xs.data()), q8_row_dot(matrix(1), u, xq.data(), xs.data()));
            }
            for (int64_t e = first; e < end; e += GL_QK8_0) quantize_block(&h[static_cast<size_t>(e - first)], hq + e, hs + e / GL_QK8_0);
          }
          break;
        }
        if (epilogue != GL_EPILOGUE_STORE && epilogue != GL_EPILOGUE_ROPE_KV) {
          fail("matvec_decode with unknown epilogue " + std::to_string(epilogue));
        }
        const int64_t units = (total + 1) / 2;
        for (uint32_t b = 0; b < d.grid[0]; b++) {
          for (int64_t u = int64_t(b) * p.rows_per_block; u < std::min<int64_t>(units, int64_t(b + 1) * p.rows_per_block); u++) {
            float y[2] = {0.0f, 0.0f};
            int ks[2] = {0, 0};
            int64_t rs[2] = {0, 0};
            for (int j = 0; j < 2 && 2 * u + j < total; j++) {
              rs[j] = locate(2 * u + j, ks[j]);
              y[j] = q8_row_dot(matrix(ks[j]), rs[j], xq.data(), xs.data());
            }
            if (epilogue == GL_EPILOGUE_STORE) {
              for (int j = 0; j < 2 && 2 * u + j < total; j++) {
                float* o = out(ks[j]);
                o[rs[j]] = p.i[7] ? o[rs[j]] + y[j] : y[j];
              }
              continue;
            }
            // RoPE and the KV store: rows 2u and 2u + 1 are one pair of one head.
            const int64_t hd = p.i[9], half = hd / 2, k = ks[0], r = rs[0];
            if (n_mat != 3 || hd < 2 || hd % 2 != 0 || r % 2 != 0 || ks[1] != k) fail("matvec_decode's RoPE epilogue on an odd pair");
            const int64_t pos = static_cast<const int32_t*>(bound(d, 14))[GL_STEP_POS0];
            if (k < 2) {
              const float c = static_cast<const float*>(bound(d, 10))[pos * half + (r % hd) / 2];
              const float s = static_cast<const float*>(bound(d, 11))[pos * half + (r % hd) / 2];
              const float x0 = y[0], x1 = y[1];
              y[0] = x0 * c - x1 * s;
              y[1] = x0 * s + x1 * c;
            }
            out(int(k))[r] = y[0];
            out(int(k))[r + 1] = y[1];
            if (k > 0) {
              auto* cache = static_cast<uint8_t*>(bound(d, k == 1 ? 12 : 13));
              const int64_t e = pos * p.i[2] + r;  // kv_dim: the rows of K
              for (int j = 0; j < 2; j++) {
                if (p.i[10]) {
                  const uint16_t hv = fp32_to_fp16(y[j]);
                  std::memcpy(cache + (e + j) * 2, &hv, 2);
                } else {
                  std::memcpy(cache + (e + j) * 4, &y[j], 4);
                }
              }
            }
          }
        }
        break;
      }
      default:
        fail("unknown kernel " + std::to_string(d.kernel));
    }
  }
}

}  // namespace ghostline::gpu
