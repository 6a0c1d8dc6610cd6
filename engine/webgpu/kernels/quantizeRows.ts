/** Activations to Q8_0 blocks (see quantizeGroup.ts): 32 blocks of a row per workgroup. */
import { QUANTIZE_GROUP } from "./quantizeGroup";
import { STEP_STRUCT } from "./wgslCommon";

export const QUANTIZE_ROWS_WGSL = /* wgsl */ `
${STEP_STRUCT}
struct Params { k: u32, _p0: u32, _p1: u32, _p2: u32 }
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> x: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> xq: array<u32>;
@group(0) @binding(4) var<storage, read_write> xs: array<f32>;
${QUANTIZE_GROUP}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let r = wid.y;
  let wordInRow = wid.x * 256u + lid.x;
  let words = p.k / 4u;
  let live = r < step.n && wordInRow < words;
  let word = r * words + wordInRow;
  var v = vec4f(0.0);
  if (live) { v = x[word]; }
  quantizeWord(v, live, lid.x, word, word / 8u);
}`;
