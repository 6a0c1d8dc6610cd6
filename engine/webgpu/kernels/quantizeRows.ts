/**
 * Activations to Q8_0 blocks as llama.cpp quantizes them: scale = max|x| / 127
 * kept at f16 precision, values rounded to int8, four packed to a u32.
 */
import { ROUND_F16, STEP_STRUCT } from "./wgslCommon";

export const QUANTIZE_ROWS_WGSL = /* wgsl */ `
${STEP_STRUCT}
${ROUND_F16}
struct Params { k: u32, _p0: u32, _p1: u32, _p2: u32 }
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> xq: array<u32>;
@group(0) @binding(4) var<storage, read_write> xs: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let blocks = p.k / 32u;
  let b = gid.x;
  let r = gid.y;
  if (b >= blocks || r >= step.n) { return; }
  let base = r * p.k + b * 32u;
  var amax = 0.0;
  for (var j = 0u; j < 32u; j++) { amax = max(amax, abs(x[base + j])); }
  let d = amax / 127.0;
  let id = select(0.0, 1.0 / d, d > 0.0);
  for (var w = 0u; w < 8u; w++) {
    var packed = 0u;
    for (var j = 0u; j < 4u; j++) {
      let q = clamp(i32(round(x[base + w * 4u + j] * id)), -127, 127);
      packed |= (bitcast<u32>(q) & 0xffu) << (8u * j);
    }
    xq[(r * blocks + b) * 8u + w] = packed;
  }
  xs[r * blocks + b] = roundF16(d);
}`;
