/**
 * Causal attention of the new rows over the slot's f16 KV cache, split over
 * key ranges (flash-decoding): each workgroup takes one (head, row, split),
 * walks its positions in tiles of 64 with a running max and sum (online
 * softmax), and either writes the row's output (one split) or its partial
 * max, sum and weighted values for attentionCombine. One token's decode then
 * spreads over heads x splits workgroups instead of one per head.
 * Grouped-query heads share their KV head.
 */
import { HALF_AT, STEP_STRUCT } from "./wgslCommon";

export const ATTENTION_TILE = 64;
export const ATTENTION_MAX_HEAD_DIM = 256;
/** Rows x splits never exceeds this, which sizes the partials buffer. */
export const ATTENTION_PARTIALS = 64;
export const ATTENTION_MAX_SPLITS = 16;

/** Splits per row for a chunk of `rows` rows reaching `positions` positions. */
export function attentionSplits(rows: number, positions: number): number {
  const byWork = Math.ceil(positions / ATTENTION_TILE);
  return Math.max(1, Math.min(ATTENTION_MAX_SPLITS, Math.floor(ATTENTION_PARTIALS / rows), byWork));
}

const ACC = ATTENTION_MAX_HEAD_DIM / 64;

export const ATTENTION_WGSL = /* wgsl */ `
${STEP_STRUCT}
${HALF_AT}
struct Params { nHeads: u32, nKvHeads: u32, headDim: u32, scale: f32, qStride: u32 }
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> q: array<f32>;  // rows of p.qStride values, queries first
@group(0) @binding(3) var<storage, read> kCache: array<u32>;
@group(0) @binding(4) var<storage, read> vCache: array<u32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
// Per (row, head, split): max, sum, then headDim weighted values.
@group(0) @binding(6) var<storage, read_write> partials: array<f32>;

var<workgroup> query: array<f32, ${ATTENTION_MAX_HEAD_DIM}>;
var<workgroup> weights: array<f32, ${ATTENTION_TILE}>;
var<workgroup> partial: array<f32, 64>;

fn reduce(v: f32, lid: u32, isMax: bool) -> f32 {
  partial[lid] = v;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (lid < s) {
      let o = partial[lid + s];
      partial[lid] = select(partial[lid] + o, max(partial[lid], o), isMax);
    }
    workgroupBarrier();
  }
  let r = partial[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_id) lidv: vec3u) {
  let lid = lidv.x;
  let h = wid.x;
  let t = wid.y;
  let split = wid.z;
  let splits = groups.z;
  if (t >= step.n) { return; }  // uniform across the workgroup
  let hd = p.headDim;
  let kvh = h / (p.nHeads / p.nKvHeads);
  let rowWords = p.nKvHeads * hd / 2u;
  let qBase = (t * p.nHeads + h) * hd;
  for (var d = lid; d < hd; d += 64u) { query[d] = q[t * p.qStride + h * hd + d]; }
  workgroupBarrier();

  let nPos = step.pos0 + t + 1u;
  let span = (nPos + splits - 1u) / splits;
  let begin = min(nPos, split * span);
  let end = min(nPos, begin + span);
  var runMax = -3.0e38;
  var runSum = 0.0;
  var acc = array<f32, ${ACC}>();
  for (var base = begin; base < end; base += ${ATTENTION_TILE}u) {
    let pos = base + lid;
    var s = -3.0e38;
    if (pos < end) {
      let w0 = (step.kvBase + pos) * rowWords + kvh * hd / 2u;
      var dot = 0.0;
      for (var i = 0u; i < hd / 2u; i++) {
        let kk = unpack2x16float(kCache[w0 + i]);
        dot += query[2u * i] * kk.x + query[2u * i + 1u] * kk.y;
      }
      s = dot * p.scale;
    }
    let newMax = max(runMax, reduce(s, lid, true));
    let correction = exp(runMax - newMax);
    let e = select(0.0, exp(s - newMax), pos < end);
    weights[lid] = e;
    runSum = runSum * correction + reduce(e, lid, false);
    runMax = newMax;
    let count = min(${ATTENTION_TILE}u, end - base);
    for (var c = 0u; c < ${ACC}u; c++) {
      let d = lid + 64u * c;
      if (d >= hd) { break; }
      var a = acc[c] * correction;
      let col = kvh * hd + d;
      for (var j = 0u; j < count; j++) {
        let v = (step.kvBase + base + j) * rowWords * 2u + col;
        a += weights[j] * halfAt(vCache[v >> 1u], v);
      }
      acc[c] = a;
    }
    workgroupBarrier();
  }
  if (splits == 1u) {
    for (var c = 0u; c < ${ACC}u; c++) {
      let d = lid + 64u * c;
      if (d < hd) { out[qBase + d] = acc[c] / runSum; }
    }
    return;
  }
  let rec = ((t * p.nHeads + h) * splits + split) * (hd + 2u);
  if (lid == 0u) {
    partials[rec] = runMax;
    partials[rec + 1u] = runSum;
  }
  for (var c = 0u; c < ${ACC}u; c++) {
    let d = lid + 64u * c;
    if (d < hd) { partials[rec + 2u + d] = acc[c]; }
  }
}`;

/** Merges the splits' partial results of attention: one workgroup per (head, row). */
export const ATTENTION_COMBINE_WGSL = /* wgsl */ `
${STEP_STRUCT}
struct Params { nHeads: u32, headDim: u32, _p0: u32, _p1: u32 }
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> partials: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let h = wid.x;
  let t = wid.y;
  // Dispatched with the partial pass's split count as its z size, so both agree on it; z > 0 has no work.
  if (t >= step.n || wid.z > 0u) { return; }
  let hd = p.headDim;
  let splits = groups.z;
  let first = (t * p.nHeads + h) * splits;
  var m = -3.0e38;
  for (var s = 0u; s < splits; s++) { m = max(m, partials[(first + s) * (hd + 2u)]); }
  var total = 0.0;
  for (var s = 0u; s < splits; s++) {
    let rec = (first + s) * (hd + 2u);
    total += partials[rec + 1u] * exp(partials[rec] - m);
  }
  for (var d = lid.x; d < hd; d += 64u) {
    var v = 0.0;
    for (var s = 0u; s < splits; s++) {
      let rec = (first + s) * (hd + 2u);
      v += partials[rec + 2u + d] * exp(partials[rec] - m);
    }
    out[(t * p.nHeads + h) * hd + d] = v / total;
  }
}`;
