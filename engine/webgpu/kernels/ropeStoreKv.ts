/**
 * RoPE on the new rows' queries (in place) and keys, llama.cpp's GGUF
 * convention (adjacent pairs, angles from a table computed at load in
 * float64), then keys and values stored into the slot's f16 KV cache.
 */
import { STEP_STRUCT } from "./wgslCommon";

export const ROPE_STORE_KV_WGSL = /* wgsl */ `
${STEP_STRUCT}
struct Params { nHeads: u32, nKvHeads: u32, headDim: u32, ropeDim: u32 }
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<uniform> p: Params;
// Each row: its queries, then its keys, then its values.
@group(0) @binding(2) var<storage, read_write> qkv: array<vec2f>;
@group(0) @binding(3) var<storage, read> angles: array<vec2f>; // (cos, sin) per position and pair
@group(0) @binding(4) var<storage, read_write> kCache: array<u32>;
@group(0) @binding(5) var<storage, read_write> vCache: array<u32>;

fn rotate(x: vec2f, pair: u32, pos: u32) -> vec2f {
  if (pair * 2u >= p.ropeDim) { return x; }
  let cs = angles[pos * (p.ropeDim / 2u) + pair];
  return vec2f(x.x * cs.x - x.y * cs.y, x.x * cs.y + x.y * cs.x);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let t = gid.y;
  if (t >= step.n) { return; }
  let pairsPerHead = p.headDim / 2u;
  let qPairs = p.nHeads * pairsPerHead;
  let kvPairs = p.nKvHeads * pairsPerHead;
  let pos = step.pos0 + t;
  let cacheWord = (step.kvBase + pos) * kvPairs;
  let row = t * (qPairs + 2u * kvPairs);
  var g = gid.x;
  if (g < qPairs) {
    qkv[row + g] = rotate(qkv[row + g], g % pairsPerHead, pos);
    return;
  }
  g -= qPairs;
  if (g < kvPairs) {
    kCache[cacheWord + g] = pack2x16float(rotate(qkv[row + qPairs + g], g % pairsPerHead, pos));
    return;
  }
  g -= kvPairs;
  if (g < kvPairs) {
    vCache[cacheWord + g] = pack2x16float(qkv[row + qPairs + kvPairs + g]);
  }
}`;
