/**
 * Number formats of GGUF tensors, bit-exact with ggml's reference code:
 * IEEE half (round to nearest even, subnormals, inf, NaN), bfloat16 and Q8_0
 * blocks (an f16 scale then 32 int8 values) quantized the way
 * quantize_row_q8_0_ref does it.
 */
import { Q8_0_BLOCK_BYTES, QK8_0 } from "./ggufFormat";

// One float32 seen as its bits.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function bitsOfFloat32(x: number): number {
  f32[0] = x;
  return u32[0];
}

function float32OfBits(bits: number): number {
  u32[0] = bits >>> 0;
  return f32[0];
}

/** float32 (x is rounded to float32 first) -> IEEE half bits, round to nearest even. */
export function f32ToF16Bits(x: number): number {
  const bits = bitsOfFloat32(x);
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13);
  const e = exp - 127 + 15; // biased half exponent
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Half subnormal: value = m * 2^(e - 14) units of 2^-24.
    if (exp === 0) return sign; // float32 subnormals are far below half's smallest subnormal
    const m = mant | 0x800000;
    const shift = 14 - e;
    if (shift > 25) return sign;
    const h = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    return sign | (rem > halfway || (rem === halfway && (h & 1) === 1) ? h + 1 : h);
  }
  const h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa moves into the exponent, up to infinity, as it should.
  return sign | (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1) ? h + 1 : h);
}

/** IEEE half bits -> its exact value. */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

/** float32 -> bfloat16 bits, round to nearest even; NaN stays a (quiet) NaN, as ggml does. */
export function f32ToBf16Bits(x: number): number {
  const bits = bitsOfFloat32(x);
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x40) & 0xffff;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16BitsToF32(h: number): number {
  return float32OfBits((h & 0xffff) << 16);
}

/**
 * float32 values -> Q8_0 blocks, as quantize_row_q8_0_ref: d = amax / 127, q = roundf(x * (1 / d)),
 * all in float32 arithmetic (each double result below is rounded once to float32, which is exact
 * for a single multiply or divide of float32 operands). Other inputs are rounded to float32 first.
 */
export function quantizeQ8_0(src: ArrayLike<number>, dst?: Uint8Array, dstOffset = 0): Uint8Array {
  const x = src instanceof Float32Array ? src : Float32Array.from(src);
  const n = x.length;
  if (n % QK8_0 !== 0) throw new Error(`Q8_0 quantization needs a multiple of ${QK8_0} values, got ${n}`);
  const blocks = n / QK8_0;
  const out = dst ?? new Uint8Array(blocks * Q8_0_BLOCK_BYTES);
  if (out.length - dstOffset < blocks * Q8_0_BLOCK_BYTES) throw new Error(`Q8_0 output buffer too small for ${n} values`);
  const quants = new Int8Array(out.buffer, out.byteOffset, out.length);
  for (let b = 0; b < blocks; b++) {
    const base = b * QK8_0;
    let amax = 0;
    for (let j = 0; j < QK8_0; j++) {
      const v = x[base + j];
      const a = v < 0 ? -v : v;
      if (a > amax) amax = a;
    }
    const d = Math.fround(amax / 127);
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    const at = dstOffset + b * Q8_0_BLOCK_BYTES;
    const dBits = f32ToF16Bits(d);
    out[at] = dBits & 0xff;
    out[at + 1] = dBits >>> 8;
    for (let j = 0; j < QK8_0; j++) {
      const v = Math.fround(x[base + j] * id);
      // C's roundf (nearest, ties away from zero); v + 0.5 is exact in double for |v| <= 127.
      quants[at + 2 + j] = (v < 0 ? v - 0.5 : v + 0.5) | 0;
    }
  }
  return out;
}

/** Q8_0 blocks -> values (exact: an int8 times a half scale fits a float32). */
export function dequantizeQ8_0(src: Uint8Array, n: number, dst: Float64Array | Float32Array = new Float64Array(n)): Float64Array | Float32Array {
  if (n % QK8_0 !== 0) throw new Error(`Q8_0 needs a multiple of ${QK8_0} values, got ${n}`);
  const blocks = n / QK8_0;
  if (src.length < blocks * Q8_0_BLOCK_BYTES) throw new Error(`Q8_0 data too short: ${src.length} bytes for ${n} values`);
  for (let b = 0; b < blocks; b++) {
    const at = b * Q8_0_BLOCK_BYTES;
    const d = f16BitsToF32(src[at] | (src[at + 1] << 8));
    for (let j = 0; j < QK8_0; j++) {
      const q = src[at + 2 + j];
      dst[b * QK8_0 + j] = d * (q > 127 ? q - 256 : q);
    }
  }
  return dst;
}

/** float32 values -> little-endian F16 bytes. */
export function encodeF16(src: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(src.length * 2);
  for (let i = 0; i < src.length; i++) {
    const h = f32ToF16Bits(src[i]);
    out[2 * i] = h & 0xff;
    out[2 * i + 1] = h >>> 8;
  }
  return out;
}

/** float32 values -> little-endian BF16 bytes. */
export function encodeBf16(src: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(src.length * 2);
  for (let i = 0; i < src.length; i++) {
    const h = f32ToBf16Bits(src[i]);
    out[2 * i] = h & 0xff;
    out[2 * i + 1] = h >>> 8;
  }
  return out;
}

/** float32 values -> little-endian F32 bytes. */
export function encodeF32(src: ArrayLike<number>): Uint8Array {
  return new Uint8Array(Float32Array.from(src).buffer);
}
