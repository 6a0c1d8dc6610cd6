/**
 * Causal attention of the new rows over the slot's f16 KV cache: one
 * workgroup per (head, row), keys taken in tiles of 256 positions with a
 * running max and sum (online softmax), so any context length fits in
 * workgroup memory. Grouped-query heads share their KV head.
 */
import { HALF_AT, STEP_STRUCT } from "./wgslCommon";

export const ATTENTION_TILE = 256;
export const ATTENTION_MAX_HEAD_DIM = 256;

export const ATTENTION_WGSL = /* wgsl */ `
${STEP_STRUCT}
${HALF_AT}
struct Params { nHeads: u32, nKvHeads: u32, headDim: u32, scale: f32 }
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> q: array<f32>;
@group(0) @binding(3) var<storage, read> kCache: array<u32>;
@group(0) @binding(4) var<storage, read> vCache: array<u32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

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
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lidv: vec3u) {
  let lid = lidv.x;
  let h = wid.x;
  let t = wid.y;
  if (t >= step.n) { return; }  // uniform across the workgroup
  let hd = p.headDim;
  let kvh = h / (p.nHeads / p.nKvHeads);
  let rowWords = p.nKvHeads * hd / 2u;
  let qBase = (t * p.nHeads + h) * hd;
  for (var d = lid; d < hd; d += 64u) { query[d] = q[qBase + d]; }
  workgroupBarrier();

  let nPos = step.pos0 + t + 1u;
  var runMax = -3.0e38;
  var runSum = 0.0;
  var acc = array<f32, ${ATTENTION_MAX_HEAD_DIM / 64}>();
  for (var base = 0u; base < nPos; base += ${ATTENTION_TILE}u) {
    var tileMax = -3.0e38;
    for (var j = lid; j < ${ATTENTION_TILE}u; j += 64u) {
      var s = -3.0e38;
      let pos = base + j;
      if (pos < nPos) {
        let w0 = (step.kvBase + pos) * rowWords + kvh * hd / 2u;
        var dot = 0.0;
        for (var i = 0u; i < hd / 2u; i++) {
          let kk = unpack2x16float(kCache[w0 + i]);
          dot += query[2u * i] * kk.x + query[2u * i + 1u] * kk.y;
        }
        s = dot * p.scale;
      }
      weights[j] = s;
      tileMax = max(tileMax, s);
    }
    let newMax = max(runMax, reduce(tileMax, lid, true));
    let correction = exp(runMax - newMax);
    var tileSum = 0.0;
    for (var j = lid; j < ${ATTENTION_TILE}u; j += 64u) {
      let e = select(0.0, exp(weights[j] - newMax), base + j < nPos);
      weights[j] = e;
      tileSum += e;
    }
    runSum = runSum * correction + reduce(tileSum, lid, false);
    runMax = newMax;
    let count = min(${ATTENTION_TILE}u, nPos - base);
    for (var c = 0u; c < ${ATTENTION_MAX_HEAD_DIM / 64}u; c++) {
      let d = lid + 64u * c;
      if (d >= hd) { break; }
      var a = acc[c] * correction;
      let col = kvh * hd + d;
      for (var j = 0u; j < count; j++) {
        let e = (step.kvBase + base + j) * rowWords * 2u + col;
        a += weights[j] * halfAt(vCache[e >> 1u], e);
      }
      acc[c] = a;
    }
    workgroupBarrier();
  }
  for (var c = 0u; c < ${ATTENTION_MAX_HEAD_DIM / 64}u; c++) {
    let d = lid + 64u * c;
    if (d < hd) { out[qBase + d] = acc[c] / runSum; }
  }
}`;
