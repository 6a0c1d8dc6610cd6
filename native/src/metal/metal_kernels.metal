// Metal kernels for the GPU dispatch plan, one per gl_kernel id. Each computes
// what the reference executor's block of the same id computes
// (gpu/reference_executor.cc is the semantic reference, with the CPU backend
// behind it); grids and threadgroup sizes are the planner's.
//
// Every kernel takes its bindings at buffer indices 0..GL_MAX_BINDINGS-1 as the
// planner numbers them and its gl_params at index GL_MAX_BINDINGS (setBytes).
// SIMD groups are 32 wide (the executor checks threadExecutionWidth at load).
//
// The project headers below are inlined by embed_metal_source.py, so that the
// block layout and the kernel ABI are declared once for C++, CUDA and Metal.
#include <metal_stdlib>
using namespace metal;

#include "common/block_q8_0.h"
#include "gpu/kernel_abi.h"

static_assert(sizeof(gl_block_q8_0) == 34, "Q8_0 block must be 34 bytes, as in GGUF files");
static_assert(sizeof(gl_params) == 64, "gl_params must match the C++ layout");

#define GL_SIMD 32

// ---- element access ----

inline float half_at(device const uchar* p) { return float(*(device const half*)p); }
inline float bf16_at(device const uchar* p) { return as_type<float>(uint(*(device const ushort*)p) << 16); }

// The 32 quants of block b of row r, contiguous in both layouts.
inline device const char* q8_quants(device const uchar* w, int layout, ulong rows, ulong cols, ulong r, ulong b) {
  if (layout == GL_LAYOUT_Q8_SPLIT) return (device const char*)(w + r * cols + b * GL_QK8_0);
  return (device const char*)(w + (r * (cols / GL_QK8_0) + b) * sizeof(gl_block_q8_0) + 2);
}
inline float q8_scale(device const uchar* w, int layout, ulong rows, ulong cols, ulong r, ulong b) {
  if (layout == GL_LAYOUT_Q8_SPLIT) return half_at(w + GL_Q8_SCALES_AT(rows, cols) + (r * (cols / GL_QK8_0) + b) * 2);
  return half_at(w + (r * (cols / GL_QK8_0) + b) * sizeof(gl_block_q8_0));
}

// Element (r, c) of a matrix of any type and layout, as float.
inline float weight_at(device const uchar* w, int type, int layout, ulong rows, ulong cols, ulong r, ulong c) {
  switch (type) {
    case GL_W_Q8_0:
      return q8_scale(w, layout, rows, cols, r, c / GL_QK8_0) *
             float(q8_quants(w, layout, rows, cols, r, c / GL_QK8_0)[c % GL_QK8_0]);
    case GL_W_F16: return half_at(w + (r * cols + c) * 2);
    case GL_W_BF16: return bf16_at(w + (r * cols + c) * 2);
    default: return ((device const float*)w)[r * cols + c];
  }
}

inline float cache_at(device const uchar* c, ulong e, bool f16) {
  return f16 ? float(((device const half*)c)[e]) : ((device const float*)c)[e];
}
inline void cache_put(device uchar* c, ulong e, float v, bool f16) {
  if (f16) {
    ((device half*)c)[e] = half(v);
  } else {
    ((device float*)c)[e] = v;
  }
}

// ---- reductions and quantization ----

// One Q8_0 block of 32 values, one per lane of a whole SIMD group, quantized as
// the CPU does: d = max|x| / 127 stored through half, q = round(x / d).
inline void quantize_simd(float x, device char* q, device float* scale, uint lane) {
  const float amax = simd_max(fabs(x));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  q[lane] = char(round(x * id));
  if (lane == 0) *scale = float(half(d));
}

// Sum (or max) over the threadgroup, through tmp (one float per SIMD group).
inline float threadgroup_sum(float v, threadgroup float* tmp, uint lane, uint sg, uint n_sg) {
  v = simd_sum(v);
  threadgroup_barrier(mem_flags::mem_threadgroup);  // earlier readers of tmp are done
  if (lane == 0) tmp[sg] = v;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  return simd_sum(lane < n_sg ? tmp[lane] : 0.0f);
}
inline float threadgroup_max(float v, threadgroup float* tmp, uint lane, uint sg, uint n_sg) {
  v = simd_max(v);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  if (lane == 0) tmp[sg] = v;
  threadgroup_barrier(mem_flags::mem_threadgroup);
  return simd_max(lane < n_sg ? tmp[lane] : -INFINITY);
}

// ---- GL_K_EMBED: rows of the embedding matrix for the step's token ids ----

kernel void gl_embed(device const int* step [[buffer(0)]],
                     device const uchar* w [[buffer(1)]],
                     device float* dst [[buffer(2)]],
                     constant gl_params& p [[buffer(GL_MAX_BINDINGS)]],
                     uint3 tg [[threadgroup_position_in_grid]],
                     uint tid [[thread_index_in_threadgroup]],
                     uint3 ntg [[threads_per_threadgroup]]) {
  const uint nt = ntg.x;  // threadgroups are one-dimensional
  const ulong t = tg.x, cols = ulong(p.i[0]), rows = ulong(p.i[3]);
  const ulong token = ulong(step[GL_STEP_TOKENS + t]);
  for (ulong c = tid; c < cols; c += nt) dst[t * cols + c] = weight_at(w, p.i[1], p.i[2], rows, cols, token, c);
}

// ---- GL_K_RMS_NORM: one row per threadgroup, optionally quantizing it ----

kernel void gl_rms_norm(device const float* src [[buffer(0)]],
                        device const float* norm [[buffer(1)]],
                        device float* dst [[buffer(2)]],
                        device char* q [[buffer(3)]],
                        device float* qs [[buffer(4)]],
                        constant gl_params& p [[buffer(GL_MAX_BINDINGS)]],
                        uint3 tg [[threadgroup_position_in_grid]],
                        uint tid [[thread_index_in_threadgroup]],
                        uint3 ntg [[threads_per_threadgroup]],
                        uint lane [[thread_index_in_simdgroup]],
                        uint sg [[simdgroup_index_in_threadgroup]],
                        uint n_sg [[simdgroups_per_threadgroup]]) {
  const uint nt = ntg.x;  // threadgroups are one-dimensional
  threadgroup float partial[32];
  const ulong n = ulong(p.i[0]), t = tg.x;
  device const float* s = src + t * n;
  device float* d = dst + t * n;
  float ss = 0.0f;
  for (ulong i = tid; i < n; i += nt) ss += s[i] * s[i];
  ss = threadgroup_sum(ss, partial, lane, sg, n_sg);  // its barriers end every read of the sum pass
  const float scale = 1.0f / sqrt(ss / float(n) + p.f[0]);
  for (ulong i = tid; i < n; i += nt) d[i] = s[i] * scale * norm[i];
  if (p.i[1]) {
    threadgroup_barrier(mem_flags::mem_device);  // this threadgroup's dst writes are visible to it
    for (ulong b = sg; b < n / GL_QK8_0; b += n_sg) {
      quantize_simd(d[b * GL_QK8_0 + lane], q + t * n + b * GL_QK8_0, qs + t * (n / GL_QK8_0) + b, lane);
    }
  }
}

// ---- GL_K_QUANTIZE: one 32-wide block per SIMD group, counted over all rows ----

kernel void gl_quantize(device const float* src [[buffer(0)]],
                        device char* q [[buffer(1)]],
                        device float* qs [[buffer(2)]],
                        constant gl_params& p [[buffer(GL_MAX_BINDINGS)]],
                        uint3 tg [[threadgroup_position_in_grid]],
                        uint lane [[thread_index_in_simdgroup]],
                        uint sg [[simdgroup_index_in_threadgroup]],
                        uint n_sg [[simdgroups_per_threadgroup]]) {
  const ulong k = ulong(tg.x) * n_sg + sg;
  const ulong total = ulong(p.i[1]) * ulong(p.i[0]) / GL_QK8_0;
  if (k >= total) return;  // the whole SIMD group leaves together
  quantize_simd(src[k * GL_QK8_0 + lane], q + k * GL_QK8_0, qs + k, lane);
}

// ---- GL_K_MATVEC: one row per SIMD group, up to three matrices ----

kernel void gl_matvec(device const float* x [[buffer(0)]],
                      device const char* xq [[buffer(1)]],
                      device const float* xs [[buffer(2)]],
                      device const uchar* w0 [[buffer(3)]],
                      device float* o0 [[buffer(4)]],
                      device const uchar* w1 [[buffer(5)]],
                      device float* o1 [[buffer(6)]],
                      device const uchar* w2 [[buffer(7)]],
                      device float* o2 [[buffer(8)]],
                      constant gl_params& p [[buffer(GL_MAX_BINDINGS)]],
                      uint3 tg [[threadgroup_position_in_grid]],
                      uint lane [[thread_index_in_simdgroup]],
                      uint sg [[simdgroup_index_in_threadgroup]]) {
  long row = long(tg.x) * p.rows_per_block + long(sg);
  const long total = long(p.i[1]) + (p.i[4] > 1 ? p.i[2] : 0) + (p.i[4] > 2 ? p.i[3] : 0);
  if (row >= total) return;  // the whole SIMD group leaves together
  int k = 0;
  if (p.i[4] > 1 && row >= p.i[1]) {
    row -= p.i[1];
    k = 1;
    if (p.i[4] > 2 && row >= p.i[2]) {
      row -= p.i[2];
      k = 2;
    }
  }
  device const uchar* w = k == 0 ? w0 : k == 1 ? w1 : w2;
  device float* out = k == 0 ? o0 : k == 1 ? o1 : o2;
  const ulong rows = ulong(k == 0 ? p.i[1] : k == 1 ? p.i[2] : p.i[3]);
  const ulong cols = ulong(p.i[0]), r = ulong(row);
  const int type = p.i[5], layout = p.i[6];
  float sum = 0.0f;
  if (type == GL_W_Q8_0) {
    // Four lanes per block, eight quants each: eight blocks per step of the group.
    const ulong nb = cols / GL_QK8_0, part = lane % 4;
    for (ulong b = lane / 4; b < nb; b += GL_SIMD / 4) {
      device const char* wq = q8_quants(w, layout, rows, cols, r, b) + part * 8;
      device const char* aq = xq + b * GL_QK8_0 + part * 8;
      int isum = 0;
      for (int j = 0; j < 8; j++) isum += int(wq[j]) * int(aq[j]);
      sum += float(isum) * (q8_scale(w, layout, rows, cols, r, b) * xs[b]);
    }
  } else {
    for (ulong c = lane; c < cols; c += GL_SIMD) sum += weight_at(w, type, layout, rows, cols, r, c) * x[c];
  }
  sum = simd_sum(sum);
  if (lane == 0) out[r] = p.i[7] ? out[r] + sum : sum;
}

// ---- GL_K_MATMUL: a 64-row x 64-token output tile per threadgroup ----
// Four SIMD groups of 32 rows x 32 tokens, each 4 x 4 SIMD-group matrices of
// 8 x 8 floats. K goes in steps of 32: the token tile and the weight tile
// (dequantized to float, stored transposed) pass through threadgroup memory,
// which then holds the output tile for a bounds-checked store.

kernel void gl_matmul(device const float* x [[buffer(0)]],
                      device const uchar* w [[buffer(1)]],
                      device float* out [[buffer(2)]],
                      constant gl_params& p [[buffer(GL_MAX_BINDINGS)]],
                      uint3 tg [[threadgroup_position_in_grid]],
                      uint tid [[thread_index_in_threadgroup]],
                      uint sg [[simdgroup_index_in_threadgroup]]) {
  constexpr uint T = GL_MM_TILE, K = 32, NT = GL_MM_THREADS;
  threadgroup float tile[2 * T * K];  // == T * T: the output tile reuses it
  threadgroup float* xt = tile;          // [T tokens][K]
  threadgroup float* wt = tile + T * K;  // [K][T rows]
  const ulong cols = ulong(p.i[0]), rows = ulong(p.i[1]), n_tok = ulong(p.i[2]), ld = ulong(p.i[6]);
  const int type = p.i[3], layout = p.i[4];
  const ulong r0 = ulong(tg.x) * T, t0 = ulong(tg.y) * T;
  const uint sg_rows = (sg & 1) * 32, sg_toks = (sg >> 1) * 32;

  simdgroup_float8x8 acc[4][4];
  for (uint i = 0; i < 4; i++)
    for (uint j = 0; j < 4; j++) acc[i][j] = make_filled_simdgroup_matrix<float, 8, 8>(0.0f);

  for (ulong k0 = 0; k0 < cols; k0 += K) {
    for (uint idx = tid; idx < T * K; idx += NT) {
      const uint i = idx / K, kk = idx % K;
      const ulong t = t0 + i, c = k0 + kk;
      xt[i * K + kk] = (t < n_tok && c < cols) ? x[t * cols + c] : 0.0f;
    }
    if (type == GL_W_Q8_0) {
      // One block per row and step: each thread takes 16 quants of one row.
      const uint i = tid / 2, half_block = tid % 2;
      const ulong r = r0 + i;
      if (r < rows) {
        const ulong b = k0 / GL_QK8_0;
        const float d = q8_scale(w, layout, rows, cols, r, b);
        device const char* qq = q8_quants(w, layout, rows, cols, r, b) + half_block * 16;
        for (uint j = 0; j < 16; j++) wt[(half_block * 16 + j) * T + i] = d * float(qq[j]);
      } else {
        for (uint j = 0; j < 16; j++) wt[(half_block * 16 + j) * T + i] = 0.0f;
      }
    } else {
      for (uint idx = tid; idx < T * K; idx += NT) {
        const uint i = idx / K, kk = idx % K;
        const ulong r = r0 + i, c = k0 + kk;
        wt[kk * T + i] = (r < rows && c < cols) ? weight_at(w, type, layout, rows, cols, r, c) : 0.0f;
      }
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
    for (uint kk = 0; kk < K; kk += 8) {
      simdgroup_float8x8 a[4], b[4];
      for (uint i = 0; i < 4; i++) simdgroup_load(a[i], xt + (sg_toks + i * 8) * K + kk, K);
      for (uint j = 0; j < 4; j++) simdgroup_load(b[j], wt + kk * T + sg_rows + j * 8, T);
      for (uint i = 0; i < 4; i++)
        for (uint j = 0; j < 4; j++) simdgroup_multiply_accumulate(acc[i][j], a[i], b[j], acc[i][j]);
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);  // the tiles are rewritten next step
  }
  // tile[t][r]: token-major like the output rows.
  for (uint i = 0; i < 4; i++)
    for (uint j = 0; j < 4; j++) simdgroup_store(acc[i][j], tile + (sg_toks + i * 8) * T + sg_rows + j * 8, T);
  threadgroup_barrier(mem_flags::mem_threadgroup);
  for (uint idx = tid; idx < T * T; idx += NT) {
    const ulong t = t0 + idx / T, r = r0 + idx % T;
    if (t < n_tok && r < rows) {
      const float v = tile[idx];
      out[t * ld + r] = p.i[5] ? out[t * ld + r] + v : v;
    }
  }
}

// ---- GL_K_ROPE_STORE: RoPE on one head of one row, then K and V into the cache ----

kernel void gl_rope_store(device float* q [[buffer(0)]],
                          device float* k [[buffer(1)]],
                          device const float* v [[buffer(2)]],
                          device const float* cos_t [[buffer(3)]],
                          device const float* sin_t [[buffer(4)]],
                          device uchar* kc [[buffer(5)]],
                          device uchar* vc [[buffer(6)]],
                          device const int* step [[buffer(7)]],
                          constant gl_params& p [[buffer(GL_MAX_BINDINGS)]],
                          uint3 tg [[threadgroup_position_in_grid]],
                          uint tid [[thread_index_in_threadgroup]],
                          uint3 ntg [[threads_per_threadgroup]]) {
  const uint nt = ntg.x;  // threadgroups are one-dimensional
  const ulong t = tg.x, h = tg.y;
  const ulong n_head = ulong(p.i[0]), n_kv = ulong(p.i[1]), hd = ulong(p.i[2]), pairs = hd / 2;
  const ulong q_dim = n_head * hd, kv_dim = n_kv * hd;
  const ulong pos = ulong(step[GL_STEP_POS0]) + t;
  const bool is_q = h < n_head;
  const bool store = p.i[4] != 0 && !is_q, f16 = p.i[5] != 0;
  device float* vec = is_q ? q + t * q_dim + h * hd : k + t * kv_dim + (h - n_head) * hd;
  for (ulong i = tid; i < pairs; i += nt) {
    float x0 = vec[2 * i], x1 = vec[2 * i + 1];
    if (p.i[3]) {
      const float c = cos_t[pos * pairs + i], s = sin_t[pos * pairs + i];
      const float y0 = x0 * c - x1 * s, y1 = x0 * s + x1 * c;
      x0 = y0;
      x1 = y1;
      vec[2 * i] = x0;
      vec[2 * i + 1] = x1;
    }
    if (store) {
      const ulong head = (h - n_head) * hd;
      const ulong e = pos * kv_dim + head + 2 * i;
      device const float* vv = v + t * kv_dim + head;
      cache_put(kc, e, x0, f16);
      cache_put(kc, e + 1, x1, f16);
      cache_put(vc, e, vv[2 * i], f16);
      cache_put(vc, e + 1, vv[2 * i + 1], f16);
    }
  }
}

// ---- GL_K_ATTENTION: one (head, row) per threadgroup over the cache ----
// Keys go in tiles of one per thread: scores, a threadgroup max and sum (online
// softmax across tiles), then each SIMD group takes every n_sg-th key of the
// tile for the weighted sum of values, its lanes across the head's dimensions.
// The SIMD groups' partial sums meet in threadgroup memory, eight at a time.

#define GL_ATT_MAX_HEAD 256
#define GL_ATT_MAX_THREADS 1024

kernel void gl_attention(device const float* q [[buffer(0)]],
                         device const uchar* kc [[buffer(1)]],
                         device const uchar* vc [[buffer(2)]],
                         device float* out [[buffer(3)]],
                         device const int* step [[buffer(4)]],
                         device char* oq [[buffer(5)]],
                         device float* os [[buffer(6)]],
                         constant gl_params& p [[buffer(GL_MAX_BINDINGS)]],
                         uint3 tg [[threadgroup_position_in_grid]],
                         uint tid [[thread_index_in_threadgroup]],
                         uint3 ntg [[threads_per_threadgroup]],
                         uint lane [[thread_index_in_simdgroup]],
                         uint sg [[simdgroup_index_in_threadgroup]],
                         uint n_sg [[simdgroups_per_threadgroup]]) {
  const uint nt = ntg.x;  // threadgroups are one-dimensional
  threadgroup float qh[GL_ATT_MAX_HEAD];
  threadgroup float weights[GL_ATT_MAX_THREADS];
  threadgroup float red[64];
  threadgroup float part[8 * GL_ATT_MAX_HEAD];
  const ulong h = tg.x, t = tg.y;
  const ulong n_head = ulong(p.i[0]), n_kv = ulong(p.i[1]), hd = ulong(p.i[2]);
  const ulong q_dim = n_head * hd, kv_dim = n_kv * hd;
  const ulong len = ulong(step[GL_STEP_POS0]) + t + 1;
  const ulong base = (h / (n_head / n_kv)) * hd;
  const bool f16 = p.i[3] != 0;
  for (ulong i = tid; i < hd; i += nt) qh[i] = q[t * q_dim + h * hd + i];
  threadgroup_barrier(mem_flags::mem_threadgroup);

  const ulong dpl = (hd + GL_SIMD - 1) / GL_SIMD;  // dimensions per lane, at most 8
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  float m = -INFINITY, l = 0.0f;
  for (ulong j0 = 0; j0 < len; j0 += nt) {
    const ulong j = j0 + tid;
    float s = -INFINITY;
    if (j < len) {
      float dot = 0.0f;
      for (ulong i = 0; i < hd; i++) dot += qh[i] * cache_at(kc, j * kv_dim + base + i, f16);
      s = dot * p.f[0];
    }
    const float m_new = max(m, threadgroup_max(s, red, lane, sg, n_sg));
    const float corr = exp(m - m_new);  // 0 on the first tile (m = -inf); a tile always holds a key
    const float e = j < len ? exp(s - m_new) : 0.0f;
    weights[tid] = e;
    l = l * corr + threadgroup_sum(e, red + 32, lane, sg, n_sg);  // its barriers publish weights
    m = m_new;
    for (uint u = 0; u < 8; u++) acc[u] *= corr;
    const ulong n_here = len - j0 < ulong(nt) ? len - j0 : ulong(nt);
    for (ulong jj = sg; jj < n_here; jj += n_sg) {
      const float wj = weights[jj];
      const ulong row = (j0 + jj) * kv_dim + base;
      for (uint u = 0; u < 8; u++) {
        const ulong dim = lane * dpl + u;
        if (u < dpl && dim < hd) acc[u] += wj * cache_at(vc, row + dim, f16);
      }
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);  // weights are rewritten by the next tile
  }
  for (uint first = 0; first < n_sg; first += 8) {
    if (sg >= first && sg < first + 8) {
      threadgroup float* slot = part + (sg - first) * hd;
      for (uint u = 0; u < 8; u++) {
        const ulong dim = lane * dpl + u;
        if (u < dpl && dim < hd) slot[dim] = first == 0 ? acc[u] : slot[dim] + acc[u];
      }
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
  }
  const uint n_slots = min(n_sg, 8u);
  device float* o = out + t * q_dim + h * hd;
  for (ulong dim = tid; dim < hd; dim += nt) {
    float v = 0.0f;
    for (uint s2 = 0; s2 < n_slots; s2++) v += part[s2 * hd + dim];
    v = v / l;
    o[dim] = v;
    qh[dim] = v;  // qh is free now: the head's output, for quantizing
  }
  if (p.i[4]) {
    threadgroup_barrier(mem_flags::mem_threadgroup);
    const ulong e0 = t * q_dim + h * hd;
    for (ulong b = sg; b < hd / GL_QK8_0; b += n_sg) {
      quantize_simd(qh[b * GL_QK8_0 + lane], oq + e0 + b * GL_QK8_0, os + e0 / GL_QK8_0 + b, lane);
    }
  }
}

// ---- GL_K_SWIGLU: HB = silu(HB) * HB2, optionally quantizing HB ----

kernel void gl_swiglu(device float* hb [[buffer(0)]],
                      device const float* hb2 [[buffer(1)]],
                      device char* q [[buffer(2)]],
                      device float* qs [[buffer(3)]],
                      constant gl_params& p [[buffer(GL_MAX_BINDINGS)]],
                      uint3 tg [[threadgroup_position_in_grid]],
                      uint tid [[thread_index_in_threadgroup]],
                      uint3 ntg [[threads_per_threadgroup]],
                      uint lane [[thread_index_in_simdgroup]]) {
  const uint nt = ntg.x;  // threadgroups are one-dimensional
  const ulong width = ulong(p.i[0]), t = tg.y;
  const ulong i = ulong(tg.x) * nt + tid;
  float v = 0.0f;
  if (i < width) {
    const float a = hb[t * width + i];
    v = a / (1.0f + exp(-a)) * hb2[t * width + i];
    hb[t * width + i] = v;
  }
  // width is a multiple of 32 when quantizing: a SIMD group is one whole block or wholly outside.
  if (p.i[1] && i - lane < width) {
    const ulong e = t * width + i - lane;
    quantize_simd(v, q + e, qs + e / GL_QK8_0, lane);
  }
}
