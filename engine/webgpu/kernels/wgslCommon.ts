/**
 * WGSL shared by every kernel: the per-chunk step record and the packed
 * int8 dot product, native (`dot4I8Packed`) or, where the adapter lacks it,
 * in float, which gives the same integers: each product of two int8 values
 * and their sum of four are exact in f32.
 */

export type DotPath = "packed" | "float";

/** Written once per chunk: how many rows this dispatch list covers and where they sit in the sequence. */
export const STEP_STRUCT = /* wgsl */ `
struct Step {
  n: u32,       // rows (tokens) to process
  pos0: u32,    // sequence position of row 0
  kvBase: u32,  // the slot's first row in the KV cache
  first: u32,   // input row of output row 0 (the final norm reads only the rows whose logits are wanted)
}`;

export function dot4Wgsl(path: DotPath): string {
  if (path === "packed") {
    return /* wgsl */ `
fn dot4(a: u32, b: u32) -> i32 { return dot4I8Packed(a, b); }`;
  }
  return /* wgsl */ `
fn bytes4(a: u32) -> vec4f {
  let s = bitcast<vec4i>(vec4u(a << 24u, a << 16u, a << 8u, a)) >> vec4u(24u);
  return vec4f(s);
}
fn dot4(a: u32, b: u32) -> i32 { return i32(dot(bytes4(a), bytes4(b))); }`;
}

/** Half i of a buffer of f16 values packed two to a u32. */
export const HALF_AT = /* wgsl */ `
fn halfAt(w: u32, i: u32) -> f32 {
  let pair = unpack2x16float(w);
  return select(pair.x, pair.y, (i & 1u) == 1u);
}`;

/** The value f16 storage would keep. */
export const ROUND_F16 = /* wgsl */ `
fn roundF16(v: f32) -> f32 { return unpack2x16float(pack2x16float(vec2f(v, 0.0))).x; }`;
