/** RMSNorm of each row times the norm weight; row r of the output reads input row step.first + r. */
import { STEP_STRUCT } from "./wgslCommon";

export const RMS_NORM_WGSL = /* wgsl */ `
${STEP_STRUCT}
struct Params { dim: u32, eps: f32, _p0: u32, _p1: u32 }
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

var<workgroup> partial: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let r = wid.y;
  let live = r < step.n;
  let src = (step.first + r) * p.dim;
  var sum = 0.0;
  if (live) {
    for (var i = lid.x; i < p.dim; i += 256u) {
      let v = x[src + i];
      sum += v * v;
    }
  }
  partial[lid.x] = sum;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (lid.x < s) { partial[lid.x] += partial[lid.x + s]; }
    workgroupBarrier();
  }
  if (!live) { return; }
  let scale = inverseSqrt(partial[0] / f32(p.dim) + p.eps);
  for (var i = lid.x; i < p.dim; i += 256u) {
    y[r * p.dim + i] = x[src + i] * scale * weight[i];
  }
}`;
