/** SwiGLU: silu(gate) * up, elementwise over the new rows. */
import { STEP_STRUCT } from "./wgslCommon";

export const SWIGLU_WGSL = /* wgsl */ `
${STEP_STRUCT}
struct Params { ffn: u32, _p0: u32, _p1: u32, _p2: u32 }
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> gate: array<f32>;
@group(0) @binding(3) var<storage, read> up: array<f32>;
@group(0) @binding(4) var<storage, read_write> h: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= p.ffn || gid.y >= step.n) { return; }
  let e = gid.y * p.ffn + i;
  let g = gate[e];
  h[e] = g / (1.0 + exp(-g)) * up[e];
}`;
