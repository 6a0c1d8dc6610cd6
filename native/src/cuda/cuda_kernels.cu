// CUDA kernels for the GPU dispatch plan. Each kernel computes what the
// reference executor's block of the same id computes (gpu/reference_executor.cc
// is the semantic reference, and the CPU backend behind it).
#include <cuda_fp16.h>
#include <mma.h>

#include <algorithm>

#include "cuda/cuda_kernels.h"

namespace ghostline::cuda {
namespace {

struct Args {
  uint8_t* b[GL_MAX_BINDINGS];
  gl_params p;
  int32_t prefetch_weights;  // LaunchOptions::prefetch_weights
  int32_t bulk_stages;       // GL_K_MATVEC_DECODE: steps in each warp's ring (0: streamed through registers)
  int32_t kv_ahead;          // LaunchOptions::kv_ahead
  int32_t bulk_l2;           // LaunchOptions::bulk_l2_steps
};

// Programmatic dependent launch: a kernel lets the next one start its blocks
// at once (allow_next), and waits for the previous one to finish and flush
// (wait_prior) before it reads activations or writes anything. Every kernel
// waits, so "finished" is transitive along the stream. Without the launch
// attribute both are no-ops.
__device__ __forceinline__ void allow_next() { asm volatile("griddepcontrol.launch_dependents;" ::: "memory"); }
__device__ __forceinline__ void wait_prior() { asm volatile("griddepcontrol.wait;" ::: "memory"); }
__device__ __forceinline__ void pdl_begin() {
  allow_next();
  wait_prior();
}

// Starts `bytes` at `p` on their way to L2, a 128-byte line per lane per step.
// Only for weights: they are never written, so this may run before wait_prior.
__device__ __forceinline__ void prefetch_l2(const void* p, int64_t bytes, int lane) {
  const char* c = static_cast<const char*>(p);
  for (int64_t o = int64_t(lane) * 128; o < bytes; o += 32 * 128) asm volatile("prefetch.global.L2 [%0];" ::"l"(c + o));
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// One Q8_0 block of 32 values, one per lane, quantized as the CPU does: the
// scale d = max|x| / 127 is stored through half, q = round(x / d).
// Block-wide sum of doubles through `partial` (one slot per warp); every
// thread gets the total.
__device__ __forceinline__ double block_sum(double v, double* partial) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = blockDim.x >> 5;
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  if (warp == 0) {
    double r = lane < n_warps ? partial[lane] : 0.0;
    for (int o = 16; o > 0; o >>= 1) r += __shfl_xor_sync(0xffffffffu, r, o);
    if (lane == 0) partial[0] = r;
  }
  __syncthreads();
  return partial[0];
}

__device__ __forceinline__ void quantize_warp(float x, int8_t* q, float* scale, int lane) {
  const float amax = warp_max(fabsf(x));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  q[lane] = static_cast<int8_t>(roundf(x * id));
  if (lane == 0) *scale = __half2float(__float2half_rn(d));
}

__device__ __forceinline__ float half_bits(const uint8_t* p) { return __half2float(*reinterpret_cast<const __half*>(p)); }
__device__ __forceinline__ float bf16_bits(const uint8_t* p) {
  return __uint_as_float(static_cast<unsigned>(*reinterpret_cast<const uint16_t*>(p)) << 16);
}

// Element (r, c) of a matrix of any type and layout.
__device__ __forceinline__ float weight_at(const uint8_t* w, int type, int layout, int64_t rows, int64_t cols,
                                           int64_t r, int64_t c) {
  switch (type) {
    case GL_W_Q8_0:
      if (layout == GL_LAYOUT_Q8_SPLIT) {
        const float d = half_bits(w + GL_Q8_SCALES_AT(rows, cols) + (r * (cols / GL_QK8_0) + c / GL_QK8_0) * 2);
        return d * static_cast<int8_t>(w[r * cols + c]);
      } else {
        const uint8_t* blk = w + (r * (cols / GL_QK8_0) + c / GL_QK8_0) * sizeof(gl_block_q8_0);
        return half_bits(blk) * static_cast<int8_t>(blk[2 + c % GL_QK8_0]);
      }
    case GL_W_F16: return half_bits(w + (r * cols + c) * 2);
    case GL_W_BF16: return bf16_bits(w + (r * cols + c) * 2);
    default: return reinterpret_cast<const float*>(w)[r * cols + c];
  }
}

__global__ void embed_kernel(Args a) {
  pdl_begin();
  const int t = blockIdx.x;
  const int32_t token = reinterpret_cast<const int32_t*>(a.b[0])[GL_STEP_TOKENS + t];
  const int64_t cols = a.p.i[0];
  float* dst = reinterpret_cast<float*>(a.b[2]) + t * cols;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    dst[c] = weight_at(a.b[1], a.p.i[1], a.p.i[2], a.p.i[3], cols, token, c);
  }
}

__global__ void rms_norm_kernel(Args a) {
  constexpr int kMaxPer = 16;  // values per thread kept in registers (width <= 16 * blockDim)
  __shared__ double partial[32];
  pdl_begin();
  const int t = blockIdx.x, n = a.p.i[0], nt = blockDim.x;
  const float* src = reinterpret_cast<const float*>(a.b[0]) + static_cast<int64_t>(t) * n;
  const float* w = reinterpret_cast<const float*>(a.b[1]);
  float* dst = reinterpret_cast<float*>(a.b[2]) + static_cast<int64_t>(t) * n;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = nt >> 5;
  // Thread i holds values i, i + nt, ...: for each k a warp holds one whole
  // 32-wide block, so it quantizes from registers without reading dst back.
  const bool in_registers = n % nt == 0 && n / nt <= kMaxPer && nt % 32 == 0;
  const int per = in_registers ? n / nt : 0;
  float v[kMaxPer];
  double ss = 0;
  if (in_registers) {
#pragma unroll
    for (int k = 0; k < kMaxPer; k++) {
      if (k < per) {
        v[k] = src[threadIdx.x + k * nt];
        ss += double(v[k]) * v[k];
      }
    }
  } else {
    for (int i = threadIdx.x; i < n; i += nt) ss += double(src[i]) * src[i];
  }
  const float scale = 1.0f / sqrtf(float(block_sum(ss, partial) / double(n)) + a.p.f[0]);
  int8_t* q = reinterpret_cast<int8_t*>(a.b[3]) + static_cast<int64_t>(t) * n;
  float* qs = reinterpret_cast<float*>(a.b[4]) + static_cast<int64_t>(t) * (n / GL_QK8_0);
  if (in_registers) {
#pragma unroll
    for (int k = 0; k < kMaxPer; k++) {
      if (k < per) {
        const int i = threadIdx.x + k * nt;
        const float y = v[k] * scale * w[i];
        dst[i] = y;
        if (a.p.i[1]) quantize_warp(y, q + (i - lane), qs + (i - lane) / GL_QK8_0, lane);
      }
    }
    return;
  }
  for (int i = threadIdx.x; i < n; i += nt) dst[i] = src[i] * scale * w[i];
  if (a.p.i[1]) {
    __syncthreads();  // dst rows written by this block are visible to it now
    for (int blk = warp; blk < n / GL_QK8_0; blk += n_warps) {
      quantize_warp(dst[blk * GL_QK8_0 + lane], q + blk * GL_QK8_0, qs + blk, lane);
    }
  }
}

__global__ void quantize_kernel(Args a) {
  pdl_begin();
  const int lane = threadIdx.x & 31;
  const int64_t k = static_cast<int64_t>(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5);
  const int64_t total = static_cast<int64_t>(a.p.i[1]) * a.p.i[0] / GL_QK8_0;
  if (k >= total) return;
  const float* src = reinterpret_cast<const float*>(a.b[0]);
  quantize_warp(src[k * GL_QK8_0 + lane], reinterpret_cast<int8_t*>(a.b[1]) + k * GL_QK8_0,
                reinterpret_cast<float*>(a.b[2]) + k, lane);
}

// Which matrix of a matvec dispatch row `row` falls in, and its row there.
// Constant indices only: a run-time index into the parameters would move them
// to local memory.
__device__ __forceinline__ int matrix_of(const gl_params& p, int64_t& row) {
  if (p.i[4] > 1 && row >= p.i[1]) {
    row -= p.i[1];
    if (p.i[4] > 2 && row >= p.i[2]) {
      row -= p.i[2];
      return 2;
    }
    return 1;
  }
  return 0;
}
__device__ __forceinline__ const uint8_t* matrix_ptr(const Args& a, int k) { return k == 0 ? a.b[3] : k == 1 ? a.b[5] : a.b[7]; }
__device__ __forceinline__ float* out_ptr(const Args& a, int k) {
  return reinterpret_cast<float*>(k == 0 ? a.b[4] : k == 1 ? a.b[6] : a.b[8]);
}
__device__ __forceinline__ int64_t rows_of(const gl_params& p, int k) { return k == 0 ? p.i[1] : k == 1 ? p.i[2] : p.i[3]; }

// Row `row` of a Q8_0 matrix in split planes times the quantized input, on one
// warp: 16 bytes per lane per step, four steps' loads (scales too) issued before
// any arithmetic, so one memory latency per four steps. The input's quants and
// scales are in global memory, or (SHARED_X) in the block's shared memory.
template <bool SHARED_X>
__device__ __forceinline__ float q8_row_dot(const uint8_t* w, int64_t rows, int64_t cols, int64_t row, const int8_t* xq,
                                            const float* xs, int lane) {
  const int64_t nb = cols / GL_QK8_0;
  const int8_t* wq = reinterpret_cast<const int8_t*>(w) + row * cols;
  const __half* ws = reinterpret_cast<const __half*>(w + GL_Q8_SCALES_AT(rows, cols)) + row * nb;
  constexpr int kUnroll = 4;
  float sum = 0.0f;
  for (int64_t base = static_cast<int64_t>(lane) * 16; base < cols; base += 512 * kUnroll) {
    int4 wv[kUnroll], xv[kUnroll];
    float scale[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; u++) {
      const int64_t c = base + u * 512;
      if (c < cols) {
        const int64_t blk = c / GL_QK8_0;
        wv[u] = __ldcs(reinterpret_cast<const int4*>(wq + c));
        if constexpr (SHARED_X) {
          xv[u] = *reinterpret_cast<const int4*>(xq + c);
          scale[u] = __half2float(ws[blk]) * xs[blk];
        } else {
          xv[u] = __ldg(reinterpret_cast<const int4*>(xq + c));
          scale[u] = __half2float(ws[blk]) * __ldg(xs + blk);
        }
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; u++) {
      const int64_t c = base + u * 512;
      if (c < cols) {
        int isum = __dp4a(wv[u].x, xv[u].x, 0);
        isum = __dp4a(wv[u].y, xv[u].y, isum);
        isum = __dp4a(wv[u].z, xv[u].z, isum);
        isum = __dp4a(wv[u].w, xv[u].w, isum);
        sum += float(isum) * scale[u];
      }
    }
  }
  return warp_sum(sum);
}

// Row `row` (counted over the dispatch's matrices) on its way to L2.
__device__ __forceinline__ void prefetch_q8_row(const Args& a, int64_t row, int lane) {
  const int k = matrix_of(a.p, row);
  const int64_t cols = a.p.i[0], rows = rows_of(a.p, k);
  const uint8_t* w = matrix_ptr(a, k);
  prefetch_l2(w + row * cols, cols, lane);
  prefetch_l2(w + GL_Q8_SCALES_AT(rows, cols) + row * (cols / GL_QK8_0) * 2, cols / GL_QK8_0 * 2, lane);
}

// Q8_0 (split planes) times the quantized input: one warp per row.
__global__ void matvec_q8_kernel(Args a) {
  allow_next();
  const int lane = threadIdx.x & 31;
  int64_t row = static_cast<int64_t>(blockIdx.x) * a.p.rows_per_block + (threadIdx.x >> 5);
  const int64_t total = int64_t(a.p.i[1]) + (a.p.i[4] > 1 ? a.p.i[2] : 0) + (a.p.i[4] > 2 ? a.p.i[3] : 0);
  if (row < total) prefetch_q8_row(a, row, lane);
  wait_prior();
  if (row >= total) return;
  const int k = matrix_of(a.p, row);
  const float sum = q8_row_dot<false>(matrix_ptr(a, k), rows_of(a.p, k), a.p.i[0], row,
                                      reinterpret_cast<const int8_t*>(a.b[1]), reinterpret_cast<const float*>(a.b[2]), lane);
  if (lane == 0) {
    float* out = out_ptr(a, k);
    out[row] = a.p.i[7] ? out[row] + sum : sum;
  }
}

// GL_K_MATVEC_FUSED: each block makes the Q8_0 input in shared memory from the
// op before (RMSNorm or SwiGLU, computed exactly as their own kernels do), then
// its warps take the block's rows in turn. The first rows' weights start
// towards L2 before the previous kernel has finished.
template <int PROLOGUE>
__global__ void __launch_bounds__(1024) matvec_fused_kernel(Args a) {
  extern __shared__ int4 fused_smem[];
  __shared__ double partial[32];
  allow_next();
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = blockDim.x >> 5, nt = blockDim.x;
  const int64_t cols = a.p.i[0];
  const int64_t total = int64_t(a.p.i[1]) + (a.p.i[4] > 1 ? a.p.i[2] : 0) + (a.p.i[4] > 2 ? a.p.i[3] : 0);
  const int64_t first = static_cast<int64_t>(blockIdx.x) * a.p.rows_per_block;
  const int64_t end = first + a.p.rows_per_block < total ? first + a.p.rows_per_block : total;
  if (first + warp < end) prefetch_q8_row(a, first + warp, lane);
  int8_t* xq = reinterpret_cast<int8_t*>(fused_smem);
  float* xs = reinterpret_cast<float*>(reinterpret_cast<uint8_t*>(fused_smem) + cols);
  const float* src = reinterpret_cast<const float*>(a.b[0]);
  const float* aux = reinterpret_cast<const float*>(a.b[1]);
  wait_prior();
  // cols and nt are multiples of 32: each warp's 32 values of a step are one Q8_0
  // block. Loads go kSteps at a time, all before their first use: one L2
  // latency per kSteps * nt values rather than one per nt.
  constexpr int kSteps = 8;
  float scale = 1.0f;
  if constexpr (PROLOGUE == GL_PROLOGUE_RMS_NORM) {
    double ss = 0;
    for (int64_t i0 = threadIdx.x; i0 < cols; i0 += int64_t(kSteps) * nt) {
      float v[kSteps];
#pragma unroll
      for (int u = 0; u < kSteps; u++) {
        const int64_t i = i0 + int64_t(u) * nt;
        v[u] = i < cols ? src[i] : 0.0f;
      }
#pragma unroll
      for (int u = 0; u < kSteps; u++) ss += double(v[u]) * v[u];
    }
    scale = 1.0f / sqrtf(float(block_sum(ss, partial) / double(cols)) + a.p.f[0]);
  }
  for (int64_t i0 = threadIdx.x; i0 < cols; i0 += int64_t(kSteps) * nt) {
    float v[kSteps], w[kSteps];
#pragma unroll
    for (int u = 0; u < kSteps; u++) {
      const int64_t i = i0 + int64_t(u) * nt;
      v[u] = i < cols ? src[i] : 0.0f;
      w[u] = i < cols ? aux[i] : 0.0f;
    }
#pragma unroll
    for (int u = 0; u < kSteps; u++) {
      const int64_t i = i0 + int64_t(u) * nt;
      if (i < cols) {
        const float x = v[u];
        const float y = PROLOGUE == GL_PROLOGUE_RMS_NORM ? x * scale * w[u] : x / (1.0f + expf(-x)) * w[u];
        quantize_warp(y, xq + (i - lane), xs + (i - lane) / GL_QK8_0, lane);
      }
    }
  }
  __syncthreads();
  for (int64_t r = first + warp; r < end; r += n_warps) {
    if (r + n_warps < end) prefetch_q8_row(a, r + n_warps, lane);
    int64_t row = r;
    const int k = matrix_of(a.p, row);
    const float sum = q8_row_dot<true>(matrix_ptr(a, k), rows_of(a.p, k), cols, row, xq, xs, lane);
    if (lane == 0) {
      float* out = out_ptr(a, k);
      out[row] = a.p.i[7] ? out[row] + sum : sum;
    }
  }
}

// Any other type or layout, with float input: one warp per row.
__global__ void matvec_float_kernel(Args a) {
  pdl_begin();
  const int lane = threadIdx.x & 31;
  int64_t row = static_cast<int64_t>(blockIdx.x) * a.p.rows_per_block + (threadIdx.x >> 5);
  const int64_t total = int64_t(a.p.i[1]) + (a.p.i[4] > 1 ? a.p.i[2] : 0) + (a.p.i[4] > 2 ? a.p.i[3] : 0);
  if (row >= total) return;
  const int k = matrix_of(a.p, row);
  const int64_t cols = a.p.i[0], rows = rows_of(a.p, k);
  const float* x = reinterpret_cast<const float*>(a.b[0]);
  const uint8_t* w = matrix_ptr(a, k);
  float sum = 0.0f;
  for (int64_t c = lane; c < cols; c += 32) sum += weight_at(w, a.p.i[5], a.p.i[6], rows, cols, row, c) * x[c];
  sum = warp_sum(sum);
  if (lane == 0) {
    float* out = out_ptr(a, k);
    out[row] = a.p.i[7] ? out[row] + sum : sum;
  }
}

// Prefill product on the tensor cores: a 64-row x 64-token tile per block, four
// warps of 32 x 32, K in steps of 32 (one Q8_0 block). Weights are dequantized
// and activations rounded to half in shared memory; sums are float.
__global__ void __launch_bounds__(GL_MM_THREADS) matmul_q8_wmma_kernel(Args a) {
  using namespace nvcuda;
  constexpr int T = GL_MM_TILE, K = 32, LD = K + 8, LDC = T + 4;
  __shared__ __align__(32) __half xs[T * LD];
  __shared__ __align__(32) __half ws[T * LD];
  __shared__ __align__(32) float cs[T * LDC];
  pdl_begin();
  const int64_t cols = a.p.i[0], rows = a.p.i[1], n_tok = a.p.i[2], ld = a.p.i[6];
  const int64_t nb = cols / GL_QK8_0;
  const int64_t r0 = static_cast<int64_t>(blockIdx.x) * T, t0 = static_cast<int64_t>(blockIdx.y) * T;
  const float* x = reinterpret_cast<const float*>(a.b[0]);
  const uint8_t* w = a.b[1];
  const __half* wscale = reinterpret_cast<const __half*>(w + GL_Q8_SCALES_AT(rows, cols));
  const int tid = threadIdx.x, warp = tid >> 5;
  const int wr = warp & 1, wt = warp >> 1;  // the warp's 32 rows and 32 tokens
  const int lr = tid >> 1, part = tid & 1;  // loader: one row (token) half per thread

  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
#pragma unroll
  for (int i = 0; i < 2; i++)
#pragma unroll
    for (int j = 0; j < 2; j++) wmma::fill_fragment(acc[i][j], 0.0f);

  for (int64_t k0 = 0; k0 < cols; k0 += K) {
    {
      __half* dst = ws + lr * LD + part * 16;
      const int64_t r = r0 + lr;
      if (r < rows) {
        const int4 q4 = __ldcs(reinterpret_cast<const int4*>(w + r * cols + k0 + part * 16));
        const __half d = wscale[r * nb + k0 / GL_QK8_0];
        const int8_t* q = reinterpret_cast<const int8_t*>(&q4);
#pragma unroll
        for (int j = 0; j < 16; j++) dst[j] = __hmul(__int2half_rn(q[j]), d);
      } else {
#pragma unroll
        for (int j = 0; j < 16; j++) dst[j] = __float2half(0.0f);
      }
    }
    {
      __half* dst = xs + lr * LD + part * 16;
      const int64_t t = t0 + lr;
      if (t < n_tok) {
        const float4* src = reinterpret_cast<const float4*>(x + t * cols + k0 + part * 16);
#pragma unroll
        for (int j = 0; j < 4; j++) {
          const float4 v = src[j];
          dst[4 * j + 0] = __float2half_rn(v.x);
          dst[4 * j + 1] = __float2half_rn(v.y);
          dst[4 * j + 2] = __float2half_rn(v.z);
          dst[4 * j + 3] = __float2half_rn(v.w);
        }
      } else {
#pragma unroll
        for (int j = 0; j < 16; j++) dst[j] = __float2half(0.0f);
      }
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < K; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa[2];
      wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> fb[2];
#pragma unroll
      for (int i = 0; i < 2; i++) wmma::load_matrix_sync(fa[i], xs + (wt * 32 + i * 16) * LD + kk, LD);
#pragma unroll
      for (int j = 0; j < 2; j++) wmma::load_matrix_sync(fb[j], ws + (wr * 32 + j * 16) * LD + kk, LD);
#pragma unroll
      for (int i = 0; i < 2; i++)
#pragma unroll
        for (int j = 0; j < 2; j++) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 2; i++)
#pragma unroll
    for (int j = 0; j < 2; j++) {
      wmma::store_matrix_sync(cs + (wt * 32 + i * 16) * LDC + wr * 32 + j * 16, acc[i][j], LDC, wmma::mem_row_major);
    }
  __syncthreads();
  float* out = reinterpret_cast<float*>(a.b[2]);
  for (int idx = tid; idx < T * T; idx += blockDim.x) {
    const int tt = idx / T, rr = idx % T;
    const int64_t t = t0 + tt, r = r0 + rr;
    if (t < n_tok && r < rows) {
      const float v = cs[tt * LDC + rr];
      out[t * ld + r] = a.p.i[5] ? out[t * ld + r] + v : v;
    }
  }
}

// Prefill product for any type, layout and width: float tiles, each thread
// 4 rows x 8 tokens of the block's 64 x 64.
__global__ void __launch_bounds__(GL_MM_THREADS) matmul_float_kernel(Args a) {
  constexpr int T = GL_MM_TILE, K = 32;
  __shared__ float xs[T][K + 1];
  __shared__ float wsm[T][K + 1];
  pdl_begin();
  const int64_t cols = a.p.i[0], rows = a.p.i[1], n_tok = a.p.i[2], ld = a.p.i[6];
  const int64_t r0 = static_cast<int64_t>(blockIdx.x) * T, t0 = static_cast<int64_t>(blockIdx.y) * T;
  const float* x = reinterpret_cast<const float*>(a.b[0]);
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  float acc[4][8] = {};
  for (int64_t k0 = 0; k0 < cols; k0 += K) {
    for (int idx = tid; idx < T * K; idx += blockDim.x) {
      const int i = idx / K, kk = idx % K;
      const int64_t c = k0 + kk;
      wsm[i][kk] = (r0 + i < rows && c < cols) ? weight_at(a.b[1], a.p.i[3], a.p.i[4], rows, cols, r0 + i, c) : 0.0f;
      xs[i][kk] = (t0 + i < n_tok && c < cols) ? x[(t0 + i) * cols + c] : 0.0f;
    }
    __syncthreads();
    for (int kk = 0; kk < K; kk++) {
      float wv[4], xv[8];
#pragma unroll
      for (int i = 0; i < 4; i++) wv[i] = wsm[tx + 16 * i][kk];
#pragma unroll
      for (int j = 0; j < 8; j++) xv[j] = xs[ty + 8 * j][kk];
#pragma unroll
      for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 8; j++) acc[i][j] += wv[i] * xv[j];
    }
    __syncthreads();
  }
  float* out = reinterpret_cast<float*>(a.b[2]);
#pragma unroll
  for (int i = 0; i < 4; i++)
#pragma unroll
    for (int j = 0; j < 8; j++) {
      const int64_t r = r0 + tx + 16 * i, t = t0 + ty + 8 * j;
      if (r < rows && t < n_tok) out[t * ld + r] = a.p.i[5] ? out[t * ld + r] + acc[i][j] : acc[i][j];
    }
}

__device__ __forceinline__ float cache_at(const uint8_t* c, int64_t e, bool half) {
  return half ? __half2float(reinterpret_cast<const __half*>(c)[e]) : reinterpret_cast<const float*>(c)[e];
}
__device__ __forceinline__ void cache_put(uint8_t* c, int64_t e, float v, bool half) {
  if (half) {
    reinterpret_cast<__half*>(c)[e] = __float2half_rn(v);
  } else {
    reinterpret_cast<float*>(c)[e] = v;
  }
}

__global__ void rope_store_kernel(Args a) {
  pdl_begin();
  const int t = blockIdx.x, h = blockIdx.y;
  const int n_head = a.p.i[0], n_kv = a.p.i[1], hd = a.p.i[2], half = hd / 2;
  const int64_t q_dim = int64_t(n_head) * hd, kv_dim = int64_t(n_kv) * hd;
  const int64_t pos = reinterpret_cast<const int32_t*>(a.b[7])[GL_STEP_POS0] + t;
  const bool is_q = h < n_head;
  float* vec = is_q ? reinterpret_cast<float*>(a.b[0]) + t * q_dim + int64_t(h) * hd
                    : reinterpret_cast<float*>(a.b[1]) + t * kv_dim + int64_t(h - n_head) * hd;
  const float* cos_t = reinterpret_cast<const float*>(a.b[3]) + pos * half;
  const float* sin_t = reinterpret_cast<const float*>(a.b[4]) + pos * half;
  const bool store = a.p.i[4] && !is_q, kv_half = a.p.i[5];
  const float* v = reinterpret_cast<const float*>(a.b[2]) + t * kv_dim + int64_t(h - n_head) * hd;
  const int64_t e = pos * kv_dim + int64_t(h - n_head) * hd;
  for (int i = threadIdx.x; i < half; i += blockDim.x) {
    float x0 = vec[2 * i], x1 = vec[2 * i + 1];
    if (a.p.i[3]) {
      const float c = cos_t[i], s = sin_t[i];
      const float y0 = x0 * c - x1 * s, y1 = x0 * s + x1 * c;
      x0 = y0;
      x1 = y1;
      vec[2 * i] = x0;
      vec[2 * i + 1] = x1;
    }
    if (store) {
      cache_put(a.b[5], e + 2 * i, x0, kv_half);
      cache_put(a.b[5], e + 2 * i + 1, x1, kv_half);
      cache_put(a.b[6], e + 2 * i, v[2 * i], kv_half);
      cache_put(a.b[6], e + 2 * i + 1, v[2 * i + 1], kv_half);
    }
  }
}

// ---- GL_K_MATVEC_DECODE ----

// Two rows' share of one lane in 2,048 columns of split-plane Q8_0 weights:
// 16 bytes and one scale per row per 512 columns.
constexpr int kDecodeChunk = 512 * 4;
struct RowPairChunk {
  int4 w[2][4];
  float s[2][4];
};

// Where a row's quants and scales start.
struct RowRef {
  const int8_t* q;
  const __half* s;
};

__device__ __forceinline__ RowRef row_ref(const Args& a, int k, int64_t row) {
  const int64_t cols = a.p.i[0];
  const uint8_t* w = matrix_ptr(a, k);
  return {reinterpret_cast<const int8_t*>(w) + row * cols,
          reinterpret_cast<const __half*>(w + GL_Q8_SCALES_AT(rows_of(a.p, k), cols)) + row * (cols / GL_QK8_0)};
}

// The two rows of unit u: row u of matrices 0 and 1 for the SwiGLU epilogue, else rows
// 2u and 2u + 1 of the matrices taken together (the first again where there is no second).
template <int EPILOGUE>
__device__ __forceinline__ void unit_rows(const Args& a, int64_t u, int64_t total, RowRef& r0, RowRef& r1) {
  if constexpr (EPILOGUE == GL_EPILOGUE_SWIGLU_Q8) {
    r0 = row_ref(a, 0, u);
    r1 = row_ref(a, 1, u);
  } else {
    int64_t row = 2 * u;
    const int k0 = matrix_of(a.p, row);
    r0 = row_ref(a, k0, row);
    row = 2 * u + 1;
    if (row < total) {
      const int k1 = matrix_of(a.p, row);
      r1 = row_ref(a, k1, row);
    } else {
      r1 = r0;
    }
  }
}

__device__ __forceinline__ void load_pair_chunk(RowPairChunk& c, const RowRef& r0, const RowRef& r1, int64_t cols,
                                                int64_t c0, int lane) {
#pragma unroll
  for (int u = 0; u < 4; u++) {
    const int64_t col = c0 + lane * 16 + u * 512;
    if (col < cols) {
      c.w[0][u] = __ldcs(reinterpret_cast<const int4*>(r0.q + col));
      c.w[1][u] = __ldcs(reinterpret_cast<const int4*>(r1.q + col));
      c.s[0][u] = __half2float(r0.s[col / GL_QK8_0]);
      c.s[1][u] = __half2float(r1.s[col / GL_QK8_0]);
    }
  }
}

// Adds the chunk's products with the quantized input (shared memory) to s0 and
// s1, in the order q8_row_dot adds them.
__device__ __forceinline__ void dot_pair_chunk(const RowPairChunk& c, const int8_t* xq, const float* xs, int64_t cols,
                                               int64_t c0, int lane, float& s0, float& s1) {
#pragma unroll
  for (int u = 0; u < 4; u++) {
    const int64_t col = c0 + lane * 16 + u * 512;
    if (col < cols) {
      const int4 x = *reinterpret_cast<const int4*>(xq + col);
      const float xsc = xs[col / GL_QK8_0];
      int i0 = __dp4a(c.w[0][u].x, x.x, 0);
      i0 = __dp4a(c.w[0][u].y, x.y, i0);
      i0 = __dp4a(c.w[0][u].z, x.z, i0);
      i0 = __dp4a(c.w[0][u].w, x.w, i0);
      int i1 = __dp4a(c.w[1][u].x, x.x, 0);
      i1 = __dp4a(c.w[1][u].y, x.y, i1);
      i1 = __dp4a(c.w[1][u].z, x.z, i1);
      i1 = __dp4a(c.w[1][u].w, x.w, i1);
      s0 += float(i0) * (c.s[0][u] * xsc);
      s1 += float(i1) * (c.s[1][u] * xsc);
    }
  }
}

// N values of a row of cols (v[k] at index threadIdx.x + k * blockDim.x, where
// valid) to Q8_0 in shared memory, as quantize_warp would: each warp's 32 values
// of one k are one block. The N warp-wide maxima are interleaved.
template <int N>
__device__ __forceinline__ void quantize_values(const float (&v)[N], int64_t cols, int8_t* xq, float* xs) {
  const int lane = threadIdx.x & 31;
  float amax[N];
#pragma unroll
  for (int k = 0; k < N; k++) amax[k] = fabsf(v[k]);
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
#pragma unroll
    for (int k = 0; k < N; k++) amax[k] = fmaxf(amax[k], __shfl_xor_sync(0xffffffffu, amax[k], o));
  }
#pragma unroll
  for (int k = 0; k < N; k++) {
    const int64_t i = threadIdx.x + int64_t(k) * blockDim.x;
    if (i < cols) {
      const float d = amax[k] / 127.0f;
      const float id = d != 0.0f ? 1.0f / d : 0.0f;
      xq[i] = static_cast<int8_t>(roundf(v[k] * id));
      if (lane == 0) xs[i / GL_QK8_0] = __half2float(__float2half_rn(d));
    }
  }
}

// The RMSNorm prologue: x = src / rms(src) * norm, quantized into xq/xs. `wn` holds
// the norm weights of this thread's values, loaded before the previous kernel ended.
template <int N>
__device__ __forceinline__ void norm_prologue(const Args& a, const float (&wn)[N], int8_t* xq, float* xs, double* partial) {
  const int64_t cols = a.p.i[0];
  const int nt = blockDim.x;
  const float* src = reinterpret_cast<const float*>(a.b[0]);
  if (cols <= int64_t(N) * nt) {
    // Every value in registers: one load of the row, one block-wide sum.
    float v[N];
    double ss = 0;
#pragma unroll
    for (int k = 0; k < N; k++) {
      const int64_t i = threadIdx.x + int64_t(k) * nt;
      v[k] = i < cols ? __ldcg(src + i) : 0.0f;
    }
#pragma unroll
    for (int k = 0; k < N; k++) ss += double(v[k]) * v[k];
    const float scale = 1.0f / sqrtf(float(block_sum(ss, partial) / double(cols)) + a.p.f[0]);
#pragma unroll
    for (int k = 0; k < N; k++) v[k] = v[k] * scale * wn[k];
    quantize_values<N>(v, cols, xq, xs);
    return;
  }
  // Wider rows: the sum first, then the row again, N values a thread at a time.
  const float* w = reinterpret_cast<const float*>(a.b[1]);
  double ss = 0;
  for (int64_t i0 = threadIdx.x; i0 < cols; i0 += int64_t(N) * nt) {
    float v[N];
#pragma unroll
    for (int k = 0; k < N; k++) {
      const int64_t i = i0 + int64_t(k) * nt;
      v[k] = i < cols ? __ldcg(src + i) : 0.0f;
    }
#pragma unroll
    for (int k = 0; k < N; k++) ss += double(v[k]) * v[k];
  }
  const float scale = 1.0f / sqrtf(float(block_sum(ss, partial) / double(cols)) + a.p.f[0]);
  for (int64_t i0 = threadIdx.x; i0 < cols; i0 += int64_t(N) * nt) {
    float v[N];
#pragma unroll
    for (int k = 0; k < N; k++) {
      const int64_t i = i0 + int64_t(k) * nt;
      v[k] = i < cols ? __ldcg(src + i) * scale * w[i] : 0.0f;
    }
    // quantize_values indexes from threadIdx.x: shift the planes to this batch.
    const int64_t off = i0 - threadIdx.x;
    quantize_values<N>(v, cols - off, xq + off, xs + off / GL_QK8_0);
  }
}

// ---- Bulk copies: the one-dimensional form of the tensor memory accelerator ----
// A copy moves bytes from global into shared memory without passing through
// registers, and completes on an mbarrier: a warp can keep several steps of
// weights in flight at the cost of shared memory only.

__device__ __forceinline__ uint32_t smem_u32(const void* p) { return static_cast<uint32_t>(__cvta_generic_to_shared(p)); }
__device__ __forceinline__ void mbar_init(uint32_t bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(bar), "r"(count) : "memory");
}
// Makes the barriers' initialization visible to the copy engine.
__device__ __forceinline__ void mbar_init_fence() { asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory"); }
__device__ __forceinline__ void mbar_expect_tx(uint32_t bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(bar), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) {
  uint32_t done = 0;
  do {
    asm volatile(
        "{\n\t.reg .pred p;\n\tmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n\tselp.b32 %0, 1, 0, p;\n}"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
  } while (!done);
}
// `bytes` (a multiple of 16; both addresses 16-byte aligned) into this block's shared memory.
__device__ __forceinline__ void bulk_copy(uint32_t dst, const void* src, uint32_t bytes, uint32_t bar) {
  asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::"r"(dst),
               "l"(src), "r"(bytes), "r"(bar)
               : "memory");
}
__device__ __forceinline__ void bulk_prefetch_l2(const void* src, uint32_t bytes) {
  asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(src), "r"(bytes) : "memory");
}

// One step of a warp's ring in shared memory: a unit's two rows in a 2,048-column
// chunk (quants), then each row's scales for it, copied from the 16-byte boundary at
// or before them (a row's scales start on one only where cols is a multiple of 256).
constexpr int kScaleSpan = kDecodeChunk / GL_QK8_0 * 2 + 16;
constexpr int kSlotBytes = 2 * kDecodeChunk + 2 * kScaleSpan;
static_assert(kSlotBytes % 16 == 0, "slots keep 16-byte alignment");

// Where the ring starts in the kernel's dynamic shared memory: after the quantized
// input and, for the SwiGLU epilogue, the block's h values.
__host__ __device__ constexpr size_t decode_ring_offset(int64_t cols, int64_t swiglu_units) {
  return (static_cast<size_t>(cols + cols / GL_QK8_0 * 4 + swiglu_units * 4) + 15) / 16 * 16;
}

// A row's scales for the chunk at c0 of width cw, as one bulk copy: the bytes from the
// 16-byte boundary at or before them to the one at or after their end. Both lie within
// the matrix's scale plane rounded to 256 bytes, which the weights buffer holds.
struct ScalePiece {
  const uint8_t* src;
  uint32_t bytes;
};
__device__ __forceinline__ ScalePiece scale_piece(const RowRef& r, int64_t c0, int64_t cw) {
  const uintptr_t s = reinterpret_cast<uintptr_t>(r.s + c0 / GL_QK8_0);
  const uintptr_t a0 = s & ~uintptr_t(15), a1 = (s + static_cast<uintptr_t>(cw / GL_QK8_0 * 2) + 15) & ~uintptr_t(15);
  return {reinterpret_cast<const uint8_t*>(a0), static_cast<uint32_t>(a1 - a0)};
}
__device__ __forceinline__ uint32_t scale_skip(const RowRef& r, int64_t c0) {
  return static_cast<uint32_t>(reinterpret_cast<uintptr_t>(r.s + c0 / GL_QK8_0) & 15);
}

// dot_pair_chunk over a step in shared memory: the same products, added in the same order.
__device__ __forceinline__ void dot_pair_slot(const uint8_t* slot, uint32_t skip0, uint32_t skip1, const int8_t* xq,
                                              const float* xs, int64_t cols, int64_t c0, int lane, float& s0,
                                              float& s1) {
  const __half* sc0 = reinterpret_cast<const __half*>(slot + 2 * kDecodeChunk + skip0);
  const __half* sc1 = reinterpret_cast<const __half*>(slot + 2 * kDecodeChunk + kScaleSpan + skip1);
#pragma unroll
  for (int u = 0; u < 4; u++) {
    const int off = lane * 16 + u * 512;
    const int64_t col = c0 + off;
    if (col < cols) {
      const int4 w0 = *reinterpret_cast<const int4*>(slot + off);
      const int4 w1 = *reinterpret_cast<const int4*>(slot + kDecodeChunk + off);
      const int4 x = *reinterpret_cast<const int4*>(xq + col);
      const float xsc = xs[col / GL_QK8_0];
      int i0 = __dp4a(w0.x, x.x, 0);
      i0 = __dp4a(w0.y, x.y, i0);
      i0 = __dp4a(w0.z, x.z, i0);
      i0 = __dp4a(w0.w, x.w, i0);
      int i1 = __dp4a(w1.x, x.x, 0);
      i1 = __dp4a(w1.y, x.y, i1);
      i1 = __dp4a(w1.z, x.z, i1);
      i1 = __dp4a(w1.w, x.w, i1);
      s0 += float(i0) * (__half2float(sc0[off / GL_QK8_0]) * xsc);
      s1 += float(i1) * (__half2float(sc1[off / GL_QK8_0]) * xsc);
    }
  }
}

// GL_K_MATVEC_DECODE. Before the previous kernel has finished, each warp starts its
// first weights on their way, and the norm weights and the RoPE rotation are read.
// Then the input is made in shared memory, and the warp streams its units chunk by
// chunk. Two ways to stream (LaunchOptions::bulk_stages):
// - registers: the first chunk is loaded before the wait (the rest of those rows and
//   the warp's next units start towards L2); the next chunk's loads are in flight
//   while the current one is summed;
// - BULK: a ring of `stages` steps per warp in shared memory, filled by bulk copies,
//   all of it issued before the wait; each consumed step's slot is refilled with the
//   step `stages` ahead.
//
// MODE: 0 registers; 1 bulk with registers capped at 64 (two 512-thread blocks, or
// four of 256, fit an SM's registers); 2 bulk with the compiler's choice up to 128
// (about 90-100: the default, measured faster than 1 with attention's carveout).
template <int PROLOGUE, int EPILOGUE, int MODE>
__global__ void __launch_bounds__(512, MODE == 1 ? 2 : 1) matvec_decode_kernel(Args a) {
  constexpr bool BULK = MODE != 0;
  extern __shared__ int4 decode_smem[];
  __shared__ double partial[32];
  constexpr int kNorm = 8;  // values per thread the norm keeps in registers
  allow_next();
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = blockDim.x >> 5;
  const int64_t cols = a.p.i[0];
  const int64_t total = int64_t(a.p.i[1]) + (a.p.i[4] > 1 ? a.p.i[2] : 0) + (a.p.i[4] > 2 ? a.p.i[3] : 0);
  const int64_t units = EPILOGUE == GL_EPILOGUE_SWIGLU_Q8 ? int64_t(a.p.i[1]) : (total + 1) / 2;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * a.p.rows_per_block;
  const int64_t end = first + a.p.rows_per_block < units ? first + a.p.rows_per_block : units;
  const int64_t n_chunks = (cols + kDecodeChunk - 1) / kDecodeChunk;
  const int64_t my_units = first + warp < end ? (end - first - warp + n_warps - 1) / n_warps : 0;
  const int64_t steps = my_units * n_chunks;
  int8_t* xq = reinterpret_cast<int8_t*>(decode_smem);
  float* xs = reinterpret_cast<float*>(reinterpret_cast<uint8_t*>(decode_smem) + cols);
  float* hsm = xs + cols / GL_QK8_0;  // h of the block's units (SwiGLU epilogue)

  // The warp's steps: units first + warp + j * n_warps, each chunk by chunk.
  struct Step {
    int64_t u;
    int chunk;
  };
  auto advance = [&](Step& st) {
    if (++st.chunk == n_chunks) {
      st.chunk = 0;
      st.u += n_warps;
    }
  };
  Step st_cur = {first + warp, 0};

  // Registers: two steps' weights are in registers (or on their way) while one is
  // summed, and the rows of the warp's next units are on their way to L2.
  const int ahead = a.prefetch_weights ? 3 : 2;  // units this far ahead of the one loaded
  auto prefetch_unit = [&](int64_t u) {
    RowRef r0, r1;
    unit_rows<EPILOGUE>(a, u, total, r0, r1);
    prefetch_l2(r0.q, cols, lane);
    prefetch_l2(r1.q, cols, lane);
    prefetch_l2(r0.s, cols / GL_QK8_0 * 2, lane);
    prefetch_l2(r1.s, cols / GL_QK8_0 * 2, lane);
  };
  auto load_step = [&](RowPairChunk& c, const Step& st) {
    RowRef r0, r1;
    unit_rows<EPILOGUE>(a, st.u, total, r0, r1);
    load_pair_chunk(c, r0, r1, cols, int64_t(st.chunk) * kDecodeChunk, lane);
    if (st.chunk == 0) {
      if (n_chunks > 1) {
        prefetch_l2(r0.q + kDecodeChunk, cols - kDecodeChunk, lane);
        prefetch_l2(r1.q + kDecodeChunk, cols - kDecodeChunk, lane);
      }
      if (st.u + ahead * n_warps < end) prefetch_unit(st.u + ahead * n_warps);
    }
  };
  Step st_next = st_cur;
  advance(st_next);
  RowPairChunk cur, next;

  // Bulk: the warp's ring of slots, each with its barrier, after the input in shared memory.
  const int stages = BULK ? a.bulk_stages : 0;
  uint8_t* ring = nullptr;
  uint64_t* bars = nullptr;
  Step st_issue = st_cur;  // the next step to copy in
  Step st_l2 = st_cur;  // the next step to start towards L2, bulk_l2 steps past the ring
  auto prefetch_step = [&](const Step& st) {
    RowRef r0, r1;
    unit_rows<EPILOGUE>(a, st.u, total, r0, r1);
    const int64_t c0 = int64_t(st.chunk) * kDecodeChunk;
    const int64_t cw = cols - c0 < kDecodeChunk ? cols - c0 : kDecodeChunk;
    prefetch_l2(r0.q + c0, cw, lane);
    prefetch_l2(r1.q + c0, cw, lane);
    prefetch_l2(r0.s + c0 / GL_QK8_0, cw / GL_QK8_0 * 2, lane);
    prefetch_l2(r1.s + c0 / GL_QK8_0, cw / GL_QK8_0 * 2, lane);
  };
  auto issue = [&](const Step& st, int slot) {  // one lane: the step's bytes into the slot
    RowRef r0, r1;
    unit_rows<EPILOGUE>(a, st.u, total, r0, r1);
    const int64_t c0 = int64_t(st.chunk) * kDecodeChunk;
    const int64_t cw = cols - c0 < kDecodeChunk ? cols - c0 : kDecodeChunk;
    const ScalePiece p0 = scale_piece(r0, c0, cw), p1 = scale_piece(r1, c0, cw);
    const uint32_t dst = smem_u32(ring + slot * kSlotBytes), bar = smem_u32(bars + slot);
    mbar_expect_tx(bar, static_cast<uint32_t>(2 * cw) + p0.bytes + p1.bytes);
    bulk_copy(dst, r0.q + c0, static_cast<uint32_t>(cw), bar);
    bulk_copy(dst + kDecodeChunk, r1.q + c0, static_cast<uint32_t>(cw), bar);
    bulk_copy(dst + 2 * kDecodeChunk, p0.src, p0.bytes, bar);
    bulk_copy(dst + 2 * kDecodeChunk + kScaleSpan, p1.src, p1.bytes, bar);
  };
  if constexpr (BULK) {
    uint8_t* base = reinterpret_cast<uint8_t*>(decode_smem) +
                    decode_ring_offset(cols, EPILOGUE == GL_EPILOGUE_SWIGLU_Q8 ? a.p.rows_per_block : 0);
    ring = base + static_cast<size_t>(warp) * stages * kSlotBytes;
    bars = reinterpret_cast<uint64_t*>(base + static_cast<size_t>(n_warps) * stages * kSlotBytes) + warp * stages;
    if (lane == 0 && steps > 0) {
      for (int s = 0; s < stages; s++) mbar_init(smem_u32(bars + s), 1);
      mbar_init_fence();
    }
    __syncwarp();
    for (int s = 0; s < stages && s < steps; s++) {
      if (lane == 0) issue(st_issue, s);
      advance(st_issue);
    }
    // The steps after the ring's first fill start towards L2 (the warp's lanes share them).
    st_l2 = st_issue;
    for (int s = stages; s < stages + a.bulk_l2 && s < steps; s++) {
      prefetch_step(st_l2);
      advance(st_l2);
    }
  } else {
    if (steps > 0) load_step(cur, st_cur);
    if (a.prefetch_weights) {
      // The units between too: up to `ahead` units of the warp's share stream from
      // memory while the kernel before is still running.
      for (int j = 1; j < ahead && first + warp + j * n_warps < end; j++) prefetch_unit(first + warp + j * n_warps);
    }
  }
  float wn[kNorm];
  if constexpr (PROLOGUE == GL_PROLOGUE_RMS_NORM) {
    const float* w = reinterpret_cast<const float*>(a.b[1]);
#pragma unroll
    for (int k = 0; k < kNorm; k++) {
      const int64_t i = threadIdx.x + int64_t(k) * blockDim.x;
      wn[k] = i < cols ? w[i] : 0.0f;
    }
  }
  // The first unit's rotation (the tables and the step record are written before the step starts).
  const int64_t pos = EPILOGUE == GL_EPILOGUE_ROPE_KV ? reinterpret_cast<const int32_t*>(a.b[14])[GL_STEP_POS0] : 0;
  auto rotation = [&](int64_t row, float& c, float& sn) {  // row within Q or K
    const int hd = a.p.i[9];
    const int64_t e = pos * (hd / 2) + (static_cast<int>(row) % hd) / 2;
    c = reinterpret_cast<const float*>(a.b[10])[e];
    sn = reinterpret_cast<const float*>(a.b[11])[e];
  };
  if (EPILOGUE == GL_EPILOGUE_ROPE_KV && a.kv_ahead) {
    // The cache rows before this position, which attention reads next: written by
    // earlier steps, so they may start towards L2 now. 4 KB a thread, over the grid.
    const int64_t bytes = (pos * a.p.i[2] * (a.p.i[10] ? 2 : 4)) & ~int64_t(15);
    const int64_t n_threads = int64_t(gridDim.x) * blockDim.x;
    for (int c = 0; c < 2; c++) {
      const uint8_t* cache = c == 0 ? a.b[12] : a.b[13];
      if (reinterpret_cast<uintptr_t>(cache) & 15) continue;
      for (int64_t o = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) * 4096; o < bytes; o += n_threads * 4096) {
        bulk_prefetch_l2(cache + o, static_cast<uint32_t>(bytes - o < 4096 ? bytes - o : 4096));
      }
    }
  }
  float c_first = 1.0f, sn_first = 0.0f;
  if (EPILOGUE == GL_EPILOGUE_ROPE_KV && lane == 0 && steps > 0) {
    int64_t row = 2 * (first + warp);
    if (matrix_of(a.p, row) < 2) rotation(row, c_first, sn_first);
  }
  wait_prior();
  // What the first unit adds to, on its way while the input is made.
  float prev_first[2] = {0.0f, 0.0f};
  if (EPILOGUE == GL_EPILOGUE_STORE && a.p.i[7] && lane == 0 && steps > 0) {
    for (int j = 0; j < 2; j++) {
      int64_t row = 2 * (first + warp) + j;
      if (row < total) {
        const int k = matrix_of(a.p, row);
        prev_first[j] = __ldcg(out_ptr(a, k) + row);
      }
    }
  }

  if constexpr (PROLOGUE == GL_PROLOGUE_RMS_NORM) {
    norm_prologue<kNorm>(a, wn, xq, xs, partial);
  } else {
    // The input was quantized by the kernel before: copy it in.
    const int4* q = reinterpret_cast<const int4*>(a.b[0]);
    for (int64_t i = threadIdx.x; i < cols / 16; i += blockDim.x) decode_smem[i] = __ldcg(q + i);
    const float* s = reinterpret_cast<const float*>(a.b[1]);
    for (int64_t i = threadIdx.x; i < cols / GL_QK8_0; i += blockDim.x) xs[i] = __ldcg(s + i);
  }
  __syncthreads();

  // Unit u's two sums (one per lane so far) to its outputs.
  auto finish_unit = [&](int64_t u, float s0, float s1) {
    const float y0 = warp_sum(s0), y1 = warp_sum(s1);
    if (lane != 0) return;
    if constexpr (EPILOGUE == GL_EPILOGUE_SWIGLU_Q8) {
      hsm[u - first] = y0 / (1.0f + expf(-y0)) * y1;
    } else if constexpr (EPILOGUE == GL_EPILOGUE_ROPE_KV) {
      int64_t row = 2 * u;
      const int k = matrix_of(a.p, row);
      float z0 = y0, z1 = y1;
      if (k < 2) {
        float c = c_first, sn = sn_first;
        if (u != first + warp) rotation(row, c, sn);
        z0 = y0 * c - y1 * sn;
        z1 = y0 * sn + y1 * c;
      }
      float* out = out_ptr(a, k);
      out[row] = z0;
      out[row + 1] = z1;
      if (k > 0) {
        uint8_t* cache = k == 1 ? a.b[12] : a.b[13];
        const int64_t e = pos * a.p.i[2] + row;  // kv_dim: the rows of K
        cache_put(cache, e, z0, a.p.i[10]);
        cache_put(cache, e + 1, z1, a.p.i[10]);
      }
    } else {
      const bool is_first = u == first + warp;
      for (int j = 0; j < 2; j++) {
        int64_t row = 2 * u + j;
        if (row < total) {
          const int k = matrix_of(a.p, row);
          float* out = out_ptr(a, k);
          const float y = j == 0 ? y0 : y1;
          out[row] = a.p.i[7] ? (is_first ? prev_first[j] : out[row]) + y : y;
        }
      }
    }
  };

  float s0 = 0.0f, s1 = 0.0f;
  if constexpr (BULK) {
    int slot = 0;
    uint32_t parity = 0;
    for (int64_t step = 0; step < steps; step++) {
      RowRef r0, r1;
      unit_rows<EPILOGUE>(a, st_cur.u, total, r0, r1);
      const int64_t c0 = int64_t(st_cur.chunk) * kDecodeChunk;
      mbar_wait(smem_u32(bars + slot), parity);
      dot_pair_slot(ring + slot * kSlotBytes, scale_skip(r0, c0), scale_skip(r1, c0), xq, xs, cols, c0, lane, s0, s1);
      __syncwarp();  // every lane has read the slot before it is refilled
      if (step + stages < steps) {
        if (lane == 0) issue(st_issue, slot);
        advance(st_issue);
      }
      if (step + stages + a.bulk_l2 < steps) {
        prefetch_step(st_l2);
        advance(st_l2);
      }
      if (st_cur.chunk == n_chunks - 1) {
        finish_unit(st_cur.u, s0, s1);
        s0 = s1 = 0.0f;
      }
      advance(st_cur);
      if (++slot == stages) {
        slot = 0;
        parity ^= 1u;
      }
    }
  } else {
    for (int64_t step = 0; step < steps; step++) {
      const int64_t u = st_cur.u;
      const int chunk = st_cur.chunk;
      if (step + 1 < steps) load_step(next, st_next);
      dot_pair_chunk(cur, xq, xs, cols, int64_t(chunk) * kDecodeChunk, lane, s0, s1);
      if (chunk == n_chunks - 1) {
        finish_unit(u, s0, s1);
        s0 = s1 = 0.0f;
      }
      cur = next;
      st_cur = st_next;
      advance(st_next);
    }
  }

  if constexpr (EPILOGUE == GL_EPILOGUE_SWIGLU_Q8) {
    __syncthreads();
    for (int64_t blk = warp; blk < (end - first) / GL_QK8_0; blk += n_warps) {
      quantize_warp(hsm[blk * GL_QK8_0 + lane], reinterpret_cast<int8_t*>(a.b[10]) + first + blk * GL_QK8_0,
                    reinterpret_cast<float*>(a.b[11]) + first / GL_QK8_0 + blk, lane);
    }
  }
}

// q . k for one cached key row starting at element e: 16-byte loads when the
// head is a multiple of 8 wide (rows then start 16-byte aligned).
__device__ __forceinline__ float key_dot(const float* q, const uint8_t* kc, int64_t e, int hd, bool half) {
  float dot = 0.0f;
  if (hd % 8 == 0) {
    if (half) {
      const int4* k = reinterpret_cast<const int4*>(reinterpret_cast<const __half*>(kc) + e);
#pragma unroll 8
      for (int i = 0; i < hd / 8; i++) {
        const int4 v = __ldg(k + i);
        const __half2* h = reinterpret_cast<const __half2*>(&v);
#pragma unroll
        for (int u = 0; u < 4; u++) {
          const float2 f = __half22float2(h[u]);
          dot += q[8 * i + 2 * u] * f.x + q[8 * i + 2 * u + 1] * f.y;
        }
      }
    } else {
      const float4* k = reinterpret_cast<const float4*>(reinterpret_cast<const float*>(kc) + e);
#pragma unroll 8
      for (int i = 0; i < hd / 4; i++) {
        const float4 v = __ldg(k + i);
        dot += q[4 * i] * v.x + q[4 * i + 1] * v.y + q[4 * i + 2] * v.z + q[4 * i + 3] * v.w;
      }
    }
    return dot;
  }
  for (int i = 0; i < hd; i++) dot += q[i] * cache_at(kc, e + i, half);
  return dot;
}

// Block-wide reduction through `tmp` (one float per warp).
template <bool Max>
__device__ __forceinline__ float block_reduce(float v, float* tmp) {
  v = Max ? warp_max(v) : warp_sum(v);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = blockDim.x >> 5;
  __syncthreads();  // earlier readers of tmp are done
  if (lane == 0) tmp[warp] = v;
  __syncthreads();
  float r = lane < n_warps ? tmp[lane] : (Max ? -INFINITY : 0.0f);
  return Max ? warp_max(r) : warp_sum(r);
}

// DPL consecutive values of a cached row, as floats, in one load where aligned.
template <int DPL, bool HALF>
__device__ __forceinline__ void load_row_part(const uint8_t* c, int64_t e, float* out) {
  if constexpr (HALF) {
    const __half* h = reinterpret_cast<const __half*>(c) + e;
    if constexpr (DPL == 1) {
      out[0] = __half2float(*h);
    } else if constexpr (DPL == 2) {
      const float2 f = __half22float2(*reinterpret_cast<const __half2*>(h));
      out[0] = f.x;
      out[1] = f.y;
    } else if constexpr (DPL == 4) {
      const uint2 v = *reinterpret_cast<const uint2*>(h);
      const __half2* h2 = reinterpret_cast<const __half2*>(&v);
#pragma unroll
      for (int u = 0; u < 2; u++) {
        const float2 f = __half22float2(h2[u]);
        out[2 * u] = f.x;
        out[2 * u + 1] = f.y;
      }
    } else {
      const int4 v = *reinterpret_cast<const int4*>(h);
      const __half2* h2 = reinterpret_cast<const __half2*>(&v);
#pragma unroll
      for (int u = 0; u < 4; u++) {
        const float2 f = __half22float2(h2[u]);
        out[2 * u] = f.x;
        out[2 * u + 1] = f.y;
      }
    }
  } else {
    const float* f = reinterpret_cast<const float*>(c) + e;
    if constexpr (DPL == 1) {
      out[0] = *f;
    } else if constexpr (DPL == 2) {
      const float2 v = *reinterpret_cast<const float2*>(f);
      out[0] = v.x;
      out[1] = v.y;
    } else {
#pragma unroll
      for (int u = 0; u < DPL / 4; u++) {
        const float4 v = reinterpret_cast<const float4*>(f)[u];
        out[4 * u] = v.x;
        out[4 * u + 1] = v.y;
        out[4 * u + 2] = v.z;
        out[4 * u + 3] = v.w;
      }
    }
  }
}

// Online softmax of one head's query `q` (in shared memory) over the cached keys
// [kb, ke), on a block of any multiple of 32 threads. Keys go in tiles of
// blockDim: one key per thread for the scores, then each warp takes every
// n_warps-th key of the tile for the weighted sum of values, its lanes across
// the head's dimensions (DPL each), several keys' loads in flight at once.
// Leaves each warp's weighted sums in o[warp * hd + dim] and returns the running
// maximum m and sum l of the weights (m = -inf, l = 0 for no keys). p holds
// blockDim floats, red 64.
template <int DPL, bool HALF>
__device__ __forceinline__ void attend_keys(const float* q, const uint8_t* kc, const uint8_t* vc, int64_t kv_dim,
                                            int64_t base, int hd, float scale, int64_t kb, int64_t ke, float* p,
                                            float* red, float* o, float& m_out, float& l_out) {
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, n_warps = blockDim.x >> 5, nt = blockDim.x;
  const bool active = lane * DPL < hd;
  const int64_t dim0 = int64_t(lane) * DPL;
  float acc[DPL];
#pragma unroll
  for (int u = 0; u < DPL; u++) acc[u] = 0.0f;
  float m = -INFINITY, l = 0.0f;
  for (int64_t j0 = kb; j0 < ke; j0 += nt) {
    const int64_t j = j0 + tid;
    const float s = j < ke ? key_dot(q, kc, j * kv_dim + base, hd, HALF) * scale : -INFINITY;
    const float m_new = fmaxf(m, block_reduce<true>(s, red));
    const float corr = expf(m - m_new);  // 0 on the first tile (m = -inf)
    const float e = j < ke ? expf(s - m_new) : 0.0f;
    p[tid] = e;
    l = l * corr + block_reduce<false>(e, red + 32);  // its barriers publish p
    m = m_new;
#pragma unroll
    for (int u = 0; u < DPL; u++) acc[u] *= corr;
    const int n_here = static_cast<int>(ke - j0 < nt ? ke - j0 : nt);
    if (active) {
      constexpr int kKeys = DPL >= 8 ? 4 : 8;  // keys in flight per warp
      for (int jj = warp; jj < n_here; jj += kKeys * n_warps) {
        float v[kKeys][DPL], w[kKeys];
#pragma unroll
        for (int k = 0; k < kKeys; k++) {
          const int key = jj + k * n_warps;
          w[k] = key < n_here ? p[key] : 0.0f;
          if (key < n_here) {
            load_row_part<DPL, HALF>(vc, (j0 + key) * kv_dim + base + dim0, v[k]);
          } else {
#pragma unroll
            for (int u = 0; u < DPL; u++) v[k][u] = 0.0f;
          }
        }
#pragma unroll
        for (int k = 0; k < kKeys; k++)
#pragma unroll
          for (int u = 0; u < DPL; u++) acc[u] += w[k] * v[k][u];
      }
    }
    __syncthreads();  // p is rewritten by the next tile
  }
  if (active) {
#pragma unroll
    for (int u = 0; u < DPL; u++) o[warp * hd + dim0 + u] = acc[u];
  }
  m_out = m;
  l_out = l;
}

// The head's output in `y` (shared memory, hd floats, written by this block's
// threads before the call) to Q8_0 at row t, head h of the quant and scale planes.
__device__ __forceinline__ void quantize_head(const Args& a, const float* y, int64_t t, int h) {
  __syncthreads();
  const int hd = a.p.i[2], lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = blockDim.x >> 5;
  const int64_t e0 = t * int64_t(a.p.i[0]) * hd + int64_t(h) * hd;
  for (int blk = warp; blk < hd / GL_QK8_0; blk += n_warps) {
    quantize_warp(y[blk * GL_QK8_0 + lane], reinterpret_cast<int8_t*>(a.b[5]) + e0 + blk * GL_QK8_0,
                  reinterpret_cast<float*>(a.b[6]) + (e0 / GL_QK8_0) + blk, lane);
  }
}

// One (head, row) per block of any multiple of 32 threads up to 1024, over all
// the row's keys; the warps' partial sums are added at the end. CARVEOUT: the same
// kernel, asking for the multiprocessor's whole shared memory (as the bulk decode
// products do), so that decode steps need not reconfigure an SM between kernels.
template <int DPL, bool HALF, bool CARVEOUT>
__global__ void __launch_bounds__(1024) attention_kernel(Args a) {
  __shared__ float q[256];
  __shared__ float p[1024];
  __shared__ float red[64];
  __shared__ float o[32 * 256];
  pdl_begin();
  const int h = blockIdx.x, t = blockIdx.y;
  const int n_head = a.p.i[0], n_kv = a.p.i[1], hd = a.p.i[2];
  const int64_t q_dim = int64_t(n_head) * hd, kv_dim = int64_t(n_kv) * hd;
  const int64_t len = reinterpret_cast<const int32_t*>(a.b[4])[GL_STEP_POS0] + t + 1;
  const int64_t base = int64_t(h / (n_head / n_kv)) * hd;
  const float* qh = reinterpret_cast<const float*>(a.b[0]) + t * q_dim + int64_t(h) * hd;
  const int tid = threadIdx.x, n_warps = blockDim.x >> 5, nt = blockDim.x;
  for (int i = tid; i < hd; i += nt) q[i] = qh[i];
  __syncthreads();
  float m, l;
  attend_keys<DPL, HALF>(q, a.b[1], a.b[2], kv_dim, base, hd, a.p.f[0], 0, len, p, red, o, m, l);
  __syncthreads();
  float* out = reinterpret_cast<float*>(a.b[3]) + t * q_dim + int64_t(h) * hd;
  for (int d = tid; d < hd; d += nt) {
    float v = 0.0f;
    for (int w = 0; w < n_warps; w++) v += o[w * hd + d];
    q[d] = v / l;  // q is free now: the head's output, for quantizing
    out[d] = v / l;
  }
  if (a.p.i[4]) quantize_head(a, q, t, h);
}

// Launches `kernel`, with programmatic stream serialization where `pdl` is set.
cudaError_t go(void (*kernel)(Args), dim3 grid, dim3 block, size_t smem, cudaStream_t stream, bool pdl, const Args& a) {
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config = {};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = smem;
  config.stream = stream;
  config.attrs = attr;
  config.numAttrs = pdl ? 1 : 0;
  return cudaLaunchKernelEx(&config, kernel, a);
}

template <int DPL>
cudaError_t launch_attention(const Args& a, dim3 grid, dim3 block, cudaStream_t stream, bool pdl, bool carveout) {
  auto* k = carveout ? (a.p.i[3] ? attention_kernel<DPL, true, true> : attention_kernel<DPL, false, true>)
                     : (a.p.i[3] ? attention_kernel<DPL, true, false> : attention_kernel<DPL, false, false>);
  return go(k, grid, block, 0, stream, pdl, a);
}

template <int PROLOGUE, int EPILOGUE>
void (*decode_kernel(int mode))(Args) {
  return mode == 0   ? matvec_decode_kernel<PROLOGUE, EPILOGUE, 0>
         : mode == 1 ? matvec_decode_kernel<PROLOGUE, EPILOGUE, 1>
                     : matvec_decode_kernel<PROLOGUE, EPILOGUE, 2>;
}

__global__ void swiglu_kernel(Args a) {
  pdl_begin();
  const int64_t width = a.p.i[0], t = blockIdx.y;
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  float* hb = reinterpret_cast<float*>(a.b[0]) + t * width;
  const float* hb2 = reinterpret_cast<const float*>(a.b[1]) + t * width;
  float v = 0.0f;
  if (i < width) {
    const float x = hb[i];
    v = x / (1.0f + expf(-x)) * hb2[i];
    hb[i] = v;
  }
  // width is a multiple of 32 when quantizing: a warp is one whole block or wholly outside.
  if (a.p.i[1] && (i - (threadIdx.x & 31)) < width) {
    const int64_t e = t * width + i - (threadIdx.x & 31);
    quantize_warp(v, reinterpret_cast<int8_t*>(a.b[2]) + e, reinterpret_cast<float*>(a.b[3]) + e / GL_QK8_0,
                  threadIdx.x & 31);
  }
}

__global__ void read_kernel(const int4* data, uint64_t n, unsigned* sink) {
  unsigned x = 0;
  for (uint64_t i = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<uint64_t>(gridDim.x) * blockDim.x) {
    const int4 v = __ldcs(data + i);
    x ^= static_cast<unsigned>(v.x ^ v.y ^ v.z ^ v.w);
  }
  x = __reduce_xor_sync(0xffffffffu, x);
  if ((threadIdx.x & 31) == 0 && x == 0x12345678u) sink[blockIdx.x] = x;  // keeps the loads alive
}

// Dynamic shared memory a bulk decode block may take, what a multiprocessor holds,
// and the multiprocessors (set by prepare_kernels).
size_t decode_smem_limit = 48 * 1024;
size_t decode_smem_per_sm = 100 * 1024;
int64_t decode_sms = 1;

}  // namespace

cudaError_t prepare_kernels(int device) {
  int optin = 0, per_sm = 0, sms = 0;
  cudaError_t e = cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
  if (e == cudaSuccess) e = cudaDeviceGetAttribute(&per_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, device);
  if (e == cudaSuccess) e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
  if (e != cudaSuccess) return e;
  // Room for the kernel's static shared memory (the norm's partial sums).
  const int limit = optin - 1024;
  void (*const bulk[])(Args) = {
      matvec_decode_kernel<GL_PROLOGUE_RMS_NORM, GL_EPILOGUE_STORE, 1>,
      matvec_decode_kernel<GL_PROLOGUE_RMS_NORM, GL_EPILOGUE_ROPE_KV, 1>,
      matvec_decode_kernel<GL_PROLOGUE_RMS_NORM, GL_EPILOGUE_SWIGLU_Q8, 1>,
      matvec_decode_kernel<GL_PROLOGUE_Q8, GL_EPILOGUE_STORE, 1>,
      matvec_decode_kernel<GL_PROLOGUE_RMS_NORM, GL_EPILOGUE_STORE, 2>,
      matvec_decode_kernel<GL_PROLOGUE_RMS_NORM, GL_EPILOGUE_ROPE_KV, 2>,
      matvec_decode_kernel<GL_PROLOGUE_RMS_NORM, GL_EPILOGUE_SWIGLU_Q8, 2>,
      matvec_decode_kernel<GL_PROLOGUE_Q8, GL_EPILOGUE_STORE, 2>,
  };
  void (*const carved[])(Args) = {
      attention_kernel<1, false, true>, attention_kernel<1, true, true>, attention_kernel<2, false, true>,
      attention_kernel<2, true, true>,  attention_kernel<4, false, true>, attention_kernel<4, true, true>,
      attention_kernel<8, false, true>, attention_kernel<8, true, true>,
  };
  for (auto* k : carved) {
    e = cudaFuncSetAttribute(k, cudaFuncAttributePreferredSharedMemoryCarveout, cudaSharedmemCarveoutMaxShared);
    if (e != cudaSuccess) return e;
  }
  for (auto* k : bulk) {
    e = cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, limit);
    // All of the multiprocessor's shared memory, so that two blocks with their rings fit.
    if (e == cudaSuccess) {
      e = cudaFuncSetAttribute(k, cudaFuncAttributePreferredSharedMemoryCarveout, cudaSharedmemCarveoutMaxShared);
    }
    if (e != cudaSuccess) return e;
  }
  decode_smem_limit = static_cast<size_t>(limit);
  decode_smem_per_sm = static_cast<size_t>(per_sm);
  decode_sms = sms > 0 ? sms : 1;
  return cudaSuccess;
}

cudaError_t launch(const gpu::Dispatch& d, uint8_t* const* bases, cudaStream_t stream, const LaunchOptions& options) {
  const bool pdl = options.pdl;
  Args a;
  for (uint32_t i = 0; i < GL_MAX_BINDINGS; i++) {
    a.b[i] = i < d.n_bindings ? bases[d.bindings[i].buffer] + d.bindings[i].offset : nullptr;
  }
  a.p = d.params;
  a.prefetch_weights = options.prefetch_weights ? 1 : 0;
  a.bulk_stages = 0;
  a.kv_ahead = options.kv_ahead ? 1 : 0;
  a.bulk_l2 = options.bulk_l2_steps;
  const dim3 grid(d.grid[0], d.grid[1], d.grid[2]), block(d.block[0], d.block[1], d.block[2]);
  cudaError_t e = cudaSuccess;
  switch (d.kernel) {
    case GL_K_EMBED: e = go(embed_kernel, grid, block, 0, stream, pdl, a); break;
    case GL_K_RMS_NORM: e = go(rms_norm_kernel, grid, block, 0, stream, pdl, a); break;
    case GL_K_QUANTIZE: e = go(quantize_kernel, grid, block, 0, stream, pdl, a); break;
    case GL_K_MATVEC:
      if (a.p.i[5] == GL_W_Q8_0) {
        if (a.p.i[6] != GL_LAYOUT_Q8_SPLIT) return cudaErrorInvalidValue;
        e = go(matvec_q8_kernel, grid, block, 0, stream, pdl, a);
      } else {
        e = go(matvec_float_kernel, grid, block, 0, stream, pdl, a);
      }
      break;
    case GL_K_MATVEC_FUSED: {
      const int64_t cols = a.p.i[0];
      if (a.p.i[6] != GL_LAYOUT_Q8_SPLIT || cols % GL_QK8_0 != 0 || cols > GL_MATVEC_FUSED_MAX_COLS ||
          d.block[0] % 32 != 0 || d.block[0] > 1024 || a.p.rows_per_block < 1) {
        return cudaErrorInvalidValue;
      }
      const size_t smem = static_cast<size_t>(cols + cols / GL_QK8_0 * 4);
      if (a.p.i[5] == GL_PROLOGUE_RMS_NORM) {
        e = go(matvec_fused_kernel<GL_PROLOGUE_RMS_NORM>, grid, block, smem, stream, pdl, a);
      } else if (a.p.i[5] == GL_PROLOGUE_SWIGLU) {
        e = go(matvec_fused_kernel<GL_PROLOGUE_SWIGLU>, grid, block, smem, stream, pdl, a);
      } else {
        return cudaErrorInvalidValue;
      }
      break;
    }
    case GL_K_MATMUL:
      if (a.p.i[3] == GL_W_Q8_0 && a.p.i[4] == GL_LAYOUT_Q8_SPLIT && a.p.i[0] % 32 == 0) {
        e = go(matmul_q8_wmma_kernel, grid, block, 0, stream, pdl, a);
      } else {
        e = go(matmul_float_kernel, grid, block, 0, stream, pdl, a);
      }
      break;
    case GL_K_ROPE_STORE: e = go(rope_store_kernel, grid, block, 0, stream, pdl, a); break;
    case GL_K_ATTENTION: {
      // Heads of 1..32 (one dimension per lane) or 64, 128, 256 (2, 4, 8 per lane).
      const int hd = a.p.i[2];
      if (d.block[0] % 32 != 0 || d.block[0] > 1024) return cudaErrorInvalidValue;
      // One row: a decode step, between bulk products. Prefill keeps the default split
      // (measured 1% faster there).
      const bool carveout = options.shared_carveout && d.grid[1] == 1;
      if (hd <= 32) {
        e = launch_attention<1>(a, grid, block, stream, pdl, carveout);
      } else if (hd == 64) {
        e = launch_attention<2>(a, grid, block, stream, pdl, carveout);
      } else if (hd == 128) {
        e = launch_attention<4>(a, grid, block, stream, pdl, carveout);
      } else if (hd == 256) {
        e = launch_attention<8>(a, grid, block, stream, pdl, carveout);
      } else {
        return cudaErrorInvalidValue;
      }
      break;
    }
    case GL_K_SWIGLU: e = go(swiglu_kernel, grid, block, 0, stream, pdl, a); break;
    case GL_K_MATVEC_DECODE: {
      const int64_t cols = a.p.i[0];
      const int prologue = a.p.i[5], epilogue = a.p.i[8];
      const int64_t swiglu_units = epilogue == GL_EPILOGUE_SWIGLU_Q8 ? a.p.rows_per_block : 0;
      size_t smem = static_cast<size_t>(cols + cols / GL_QK8_0 * 4 + swiglu_units * 4);
      if (a.p.i[6] != GL_LAYOUT_Q8_SPLIT || cols % GL_QK8_0 != 0 || cols > GL_MATVEC_FUSED_MAX_COLS ||
          d.block[0] % 32 != 0 || d.block[0] > 512 || a.p.rows_per_block < 1 || a.p.i[4] < 1 || a.p.i[4] > 3 ||
          smem > 48 * 1024) {
        return cudaErrorInvalidValue;
      }
      // Bulk: no more stages than a warp has steps, nor than lets the grid's blocks share
      // the multiprocessors' shared memory in one wave (one stage at least).
      const int64_t warps = d.block[0] / 32;
      const int64_t steps = (a.p.rows_per_block + warps - 1) / warps * ((cols + kDecodeChunk - 1) / kDecodeChunk);
      int64_t stages = steps >= options.bulk_min_steps ? std::min<int64_t>(options.bulk_stages, steps) : 0;
      const size_t ring_at = decode_ring_offset(cols, swiglu_units);
      const int64_t per_sm = (int64_t(d.grid[0]) + decode_sms - 1) / decode_sms;
      const size_t budget = std::min(decode_smem_limit, decode_smem_per_sm / static_cast<size_t>(per_sm) - 2048);
      auto bulk_bytes = [&](int64_t n) { return ring_at + static_cast<size_t>(warps * n) * (kSlotBytes + 8); };
      while (stages > 1 && bulk_bytes(stages) > budget) stages--;
      if (stages == 1 && bulk_bytes(1) > decode_smem_limit) stages = 0;
      a.bulk_stages = static_cast<int32_t>(stages);
      const bool bulk = stages > 0;
      if (bulk) smem = bulk_bytes(stages);
      const int mode = !bulk ? 0 : options.bulk_wide_registers ? 2 : 1;
      using Kernel = void (*)(Args);
      Kernel k = nullptr;
      if (prologue == GL_PROLOGUE_RMS_NORM && epilogue == GL_EPILOGUE_STORE) {
        k = decode_kernel<GL_PROLOGUE_RMS_NORM, GL_EPILOGUE_STORE>(mode);
      } else if (prologue == GL_PROLOGUE_RMS_NORM && epilogue == GL_EPILOGUE_ROPE_KV) {
        k = decode_kernel<GL_PROLOGUE_RMS_NORM, GL_EPILOGUE_ROPE_KV>(mode);
      } else if (prologue == GL_PROLOGUE_RMS_NORM && epilogue == GL_EPILOGUE_SWIGLU_Q8 && a.p.i[4] == 2 &&
                 a.p.i[1] == a.p.i[2] && a.p.i[1] % GL_QK8_0 == 0 && a.p.rows_per_block % GL_QK8_0 == 0) {
        k = decode_kernel<GL_PROLOGUE_RMS_NORM, GL_EPILOGUE_SWIGLU_Q8>(mode);
      } else if (prologue == GL_PROLOGUE_Q8 && epilogue == GL_EPILOGUE_STORE) {
        k = decode_kernel<GL_PROLOGUE_Q8, GL_EPILOGUE_STORE>(mode);
      } else {
        return cudaErrorInvalidValue;
      }
      e = go(k, grid, block, smem, stream, pdl, a);
      break;
    }
    default: return cudaErrorInvalidValue;
  }
  return e != cudaSuccess ? e : cudaGetLastError();
}

cudaError_t launch_read(const uint8_t* data, uint64_t bytes, unsigned* sink, int grid, cudaStream_t stream) {
  read_kernel<<<grid, 256, 0, stream>>>(reinterpret_cast<const int4*>(data), bytes / 16, sink);
  return cudaGetLastError();
}

}  // namespace ghostline::cuda
