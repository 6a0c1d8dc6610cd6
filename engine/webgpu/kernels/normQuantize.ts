/**
 * RMSNorm times the norm weight, written as floats (for F16/F32 matrices)
 * and, when a Q8_0 matrix reads it, as Q8_0 blocks in the same pass: one
 * workgroup per row. Row r of the output reads input row step.first + r.
 */
import { QUANTIZE_GROUP } from "./quantizeGroup";
import { STEP_STRUCT } from "./wgslCommon";

export const NORM_QUANTIZE_WGSL = /* wgsl */ `
${STEP_STRUCT}
struct Params { dim: u32, eps: f32, quantize: u32, _p1: u32 }
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> x: array<vec4f>;
@group(0) @binding(3) var<storage, read> weight: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> y: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> xq: array<u32>;
@group(0) @binding(6) var<storage, read_write> xs: array<f32>;
${QUANTIZE_GROUP}

var<workgroup> partial: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let r = wid.y;
  let rowLive = r < step.n;
  let words = p.dim / 4u;
  let src = (step.first + r) * words;
  var sum = 0.0;
  if (rowLive) {
    for (var i = lid.x; i < words; i += 256u) {
      let v = x[src + i];
      sum += dot(v, v);
    }
  }
  partial[lid.x] = sum;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (lid.x < s) { partial[lid.x] += partial[lid.x + s]; }
    workgroupBarrier();
  }
  let scale = inverseSqrt(partial[0] / f32(p.dim) + p.eps);
  for (var base = 0u; base < words; base += 256u) {
    let i = base + lid.x;
    let live = rowLive && i < words;
    var v = vec4f(0.0);
    if (live) {
      v = x[src + i] * scale * weight[i];
      y[r * words + i] = v;
    }
    // Uniform per dispatch: the quantizer's barriers stay in uniform control flow.
    if (p.quantize != 0u) { quantizeWord(v, live, lid.x, r * words + i, (r * words + i) / 8u); }
  }
}`;
