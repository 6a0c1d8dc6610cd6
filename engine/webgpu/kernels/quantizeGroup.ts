/**
 * Q8_0 quantization of activations done by groups of 8 threads per 32-value
 * block, each thread holding 4 values and writing one packed u32: the
 * block's max|x| is shared through workgroup memory (one barrier). Used at
 * the end of the kernels that produce a matrix input (norm, SwiGLU) and by
 * the plain quantizer. The arithmetic is llama.cpp's: scale = max|x| / 127
 * stored at f16 precision, values scaled by its exact inverse and rounded.
 */
import { ROUND_F16 } from "./wgslCommon";

export const QUANTIZE_GROUP = /* wgsl */ `
${ROUND_F16}
var<workgroup> groupMax: array<f32, 256>;

/** Called by all 256 threads (uniform control flow). Thread lid holds v, the values [4 * word, 4 * word + 4) of its row. */
fn quantizeWord(v: vec4f, live: bool, lid: u32, word: u32, block: u32) {
  let m = select(0.0, max(max(abs(v.x), abs(v.y)), max(abs(v.z), abs(v.w))), live);
  groupMax[lid] = m;
  workgroupBarrier();
  let g = lid & ~7u;
  var amax = 0.0;
  for (var j = 0u; j < 8u; j++) { amax = max(amax, groupMax[g + j]); }
  workgroupBarrier();
  if (!live) { return; }
  let d = amax / 127.0;
  let id = select(0.0, 1.0 / d, d > 0.0);
  let q = clamp(vec4i(round(v * id)), vec4i(-127), vec4i(127));
  let b = bitcast<vec4u>(q) & vec4u(0xffu);
  xq[word] = b.x | (b.y << 8u) | (b.z << 16u) | (b.w << 24u);
  if ((lid & 7u) == 0u) { xs[block] = roundF16(d); }
}`;
