/** Token embedding rows, gathered from a Q8_0 (quant and half-scale planes) or float table. */
import { HALF_AT, STEP_STRUCT } from "./wgslCommon";

export function embedRowsWgsl(quantized: boolean): string {
  const value = quantized
    ? /* wgsl */ `
  let e = row * p.dim + i;
  let word = table[e >> 2u];
  let q = f32(bitcast<i32>(word << (24u - 8u * (e & 3u))) >> 24u);
  let b = e >> 5u;
  return q * halfAt(table[p.scaleWord + (b >> 1u)], b);`
    : /* wgsl */ `
  return bitcast<f32>(table[row * p.dim + i]);`;
  return /* wgsl */ `
${STEP_STRUCT}
${HALF_AT}
struct Params { dim: u32, scaleWord: u32, vocab: u32, _pad: u32 }
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
@group(0) @binding(2) var<storage, read> tokens: array<u32>;
@group(0) @binding(3) var<storage, read> table: array<u32>;
@group(0) @binding(4) var<storage, read_write> x: array<f32>;

fn tableValue(row: u32, i: u32) -> f32 {${value}
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let t = wid.y;
  if (t >= step.n) { return; }
  let row = min(tokens[t], p.vocab - 1u);
  for (var i = lid.x; i < p.dim; i += 64u) {
    x[t * p.dim + i] = tableValue(row, i);
  }
}`;
}
