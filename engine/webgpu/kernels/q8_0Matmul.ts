/**
 * Q8_0 weights times Q8_0 activations for many rows of input (prefill):
 * 32 weight rows by 32 input rows per workgroup, one Q8_0 block of each in
 * workgroup memory per step, 4 x 4 outputs per thread.
 */
import { q8_0ProductHeader } from "./q8_0ProductHeader";
import type { DotPath } from "./wgslCommon";

export const MATMUL_TILE = 32;

export function q8_0MatmulWgsl(dot: DotPath): string {
  return /* wgsl */ `
${q8_0ProductHeader(dot)}

var<workgroup> tileW: array<vec4u, 64>;  // 32 rows x one block (two vec4u)
var<workgroup> tileX: array<vec4u, 64>;
var<workgroup> scaleW: array<f32, 32>;
var<workgroup> scaleX: array<f32, 32>;

@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32, @builtin(local_invocation_id) lid: vec3u) {
  let r0 = wid.x * 32u;
  let t0 = wid.y * 32u;
  let blocks = p.k / 32u;
  var acc: array<array<f32, 4>, 4>;
  // Loader role: thread li fetches half a block of weight row li/2 and of input row li/2.
  let lr = li >> 1u;
  let half = li & 1u;
  let wRowOk = r0 + lr < p.rows;
  let xRowOk = t0 + lr < step.n;
  for (var b = 0u; b < blocks; b++) {
    let wi = (r0 + lr) * blocks + b;
    let xi = (t0 + lr) * blocks + b;
    tileW[li] = select(vec4u(0u), wq[select(0u, wi * 2u + half, wRowOk)], wRowOk);
    tileX[li] = select(vec4u(0u), xq[select(0u, xi * 2u + half, xRowOk)], xRowOk);
    if (half == 0u) {
      scaleW[lr] = select(0.0, halfAt(ws[select(0u, wi >> 1u, wRowOk)], wi), wRowOk);
      scaleX[lr] = select(0.0, xs[select(0u, xi, xRowOk)], xRowOk);
    }
    workgroupBarrier();
    for (var j = 0u; j < 4u; j++) {
      let tx = lid.x * 4u + j;
      let xa = tileX[tx * 2u];
      let xb = tileX[tx * 2u + 1u];
      let sx = scaleX[tx];
      for (var i = 0u; i < 4u; i++) {
        let ry = lid.y * 4u + i;
        let wa = tileW[ry * 2u];
        let wb = tileW[ry * 2u + 1u];
        let s = dot4(wa.x, xa.x) + dot4(wa.y, xa.y) + dot4(wa.z, xa.z) + dot4(wa.w, xa.w) +
                dot4(wb.x, xb.x) + dot4(wb.y, xb.y) + dot4(wb.z, xb.z) + dot4(wb.w, xb.w);
        acc[i][j] += f32(s) * (scaleW[ry] * sx);
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let r = r0 + lid.y * 4u + i;
    if (r >= p.rows) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let t = t0 + lid.x * 4u + j;
      if (t >= step.n) { continue; }
      let o = t * p.yStride + p.yOffset + r;
      y[o] = select(0.0, y[o], p.accumulate != 0u) + acc[i][j];
    }
  }
}`;
}
