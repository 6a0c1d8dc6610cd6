/**
 * Float weights (F32, or F16 / BF16 widened at load) times float activations.
 * Activations meeting F16 weights are rounded to f16 first, as llama.cpp does.
 */
import { ROUND_F16, STEP_STRUCT } from "./wgslCommon";

export const FLOAT_MATMUL_WGSL = /* wgsl */ `
${STEP_STRUCT}
${ROUND_F16}
struct Params { rows: u32, k: u32, accumulate: u32, roundInput: u32, yStride: u32, yOffset: u32 }
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  let t = gid.y;
  if (r >= p.rows || t >= step.n) { return; }
  var acc = 0.0;
  for (var c = 0u; c < p.k; c++) {
    var v = x[t * p.k + c];
    if (p.roundInput != 0u) { v = roundF16(v); }
    acc += w[r * p.k + c] * v;
  }
  let o = t * p.yStride + p.yOffset + r;
  y[o] = select(0.0, y[o], p.accumulate != 0u) + acc;
}`;
