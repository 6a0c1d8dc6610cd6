/**
 * SwiGLU, silu(gate) * up, over the new rows; written as floats and, when
 * the down matrix is Q8_0, as Q8_0 blocks in the same pass.
 */
import { QUANTIZE_GROUP } from "./quantizeGroup";
import { STEP_STRUCT } from "./wgslCommon";

export const SWIGLU_WGSL = /* wgsl */ `
${STEP_STRUCT}
struct Params { ffn: u32, quantize: u32, _p1: u32, _p2: u32 }
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> gateUp: array<vec4f>;  // each row: ffn gate values, then ffn up values
@group(0) @binding(3) var<storage, read_write> h: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> xq: array<u32>;
@group(0) @binding(5) var<storage, read_write> xs: array<f32>;
${QUANTIZE_GROUP}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let r = wid.y;
  let words = p.ffn / 4u;
  let i = wid.x * 256u + lid.x;
  let live = r < step.n && i < words;
  let e = r * words + i;
  var v = vec4f(0.0);
  if (live) {
    let g = gateUp[r * 2u * words + i];
    v = g / (1.0 + exp(-g)) * gateUp[r * 2u * words + words + i];
    h[e] = v;
  }
  // Uniform per dispatch: the quantizer's barriers stay in uniform control flow.
  if (p.quantize != 0u) { quantizeWord(v, live, lid.x, e, e / 8u); }
}`;
