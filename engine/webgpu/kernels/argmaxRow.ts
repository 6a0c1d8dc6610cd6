/**
 * The most likely token of the first logits row, on the GPU, so that greedy
 * decoding reads back 8 bytes instead of the whole vocabulary's scores.
 * Ties go to the lowest id, as the engine's own argmax does; NaN never wins.
 */
import { STEP_STRUCT } from "./wgslCommon";

export const ARGMAX_ROW_WGSL = /* wgsl */ `
${STEP_STRUCT}
struct Params { vocab: u32, _p0: u32, _p1: u32, _p2: u32 }
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read_write> best: array<u32>;  // [id, bits of the score]

var<workgroup> values: array<f32, 256>;
var<workgroup> ids: array<u32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_id) lid: vec3u) {
  if (step.n == 0u) { return; }  // no logits were computed
  var v = -3.4e38;
  var id = 0xffffffffu;
  for (var i = lid.x; i < p.vocab; i += 256u) {
    let x = logits[i];
    if (x > v) { v = x; id = i; }
  }
  values[lid.x] = v;
  ids[lid.x] = id;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (lid.x < s) {
      let ov = values[lid.x + s];
      let oi = ids[lid.x + s];
      if (ov > values[lid.x] || (ov == values[lid.x] && oi < ids[lid.x])) {
        values[lid.x] = ov;
        ids[lid.x] = oi;
      }
    }
    workgroupBarrier();
  }
  if (lid.x == 0u) {
    best[0] = select(ids[0], 0u, ids[0] == 0xffffffffu);
    best[1] = bitcast<u32>(values[0]);
  }
}`;
