/**
 * Q8_0 weights times Q8_0 activations for a few rows of input (decode): 32
 * lanes per weight row, each reading whole blocks (32 bytes of quants and a
 * half scale), so the weights stream through once per token.
 */
import { q8_0ProductHeader } from "./q8_0ProductHeader";
import type { DotPath } from "./wgslCommon";

export const MATVEC_ROWS_PER_GROUP = 8;

export function q8_0MatvecWgsl(dot: DotPath): string {
  return /* wgsl */ `
${q8_0ProductHeader(dot)}

var<workgroup> partial: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let lane = lid.x & 31u;
  let r = wid.x * ${MATVEC_ROWS_PER_GROUP}u + (lid.x >> 5u);
  let t = wid.y;
  let live = r < p.rows && t < step.n;
  let blocks = p.k / 32u;
  var acc = 0.0;
  if (live) {
    let wRow = r * blocks;
    let xRow = t * blocks;
    for (var b = lane; b < blocks; b += 32u) {
      let w0 = wq[(wRow + b) * 2u];
      let w1 = wq[(wRow + b) * 2u + 1u];
      let x0 = xq[(xRow + b) * 2u];
      let x1 = xq[(xRow + b) * 2u + 1u];
      let s = dot4(w0.x, x0.x) + dot4(w0.y, x0.y) + dot4(w0.z, x0.z) + dot4(w0.w, x0.w) +
              dot4(w1.x, x1.x) + dot4(w1.y, x1.y) + dot4(w1.z, x1.z) + dot4(w1.w, x1.w);
      let wi = wRow + b;
      acc += f32(s) * (halfAt(ws[wi >> 1u], wi) * xs[xRow + b]);
    }
  }
  partial[lid.x] = acc;
  workgroupBarrier();
  for (var s = 16u; s > 0u; s >>= 1u) {
    if (lane < s) { partial[lid.x] += partial[lid.x + s]; }
    workgroupBarrier();
  }
  if (live && lane == 0u) {
    let o = t * p.yStride + p.yOffset + r;
    y[o] = select(0.0, y[o], p.accumulate != 0u) + partial[lid.x];
  }
}`;
}
